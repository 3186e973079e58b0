"""Variational Bayesian Gaussian mixture: the estimator.

A drop-in replacement for :class:`sklearn.mixture.BayesianGaussianMixture`
whose E-step and sufficient statistics run in one fused compiled kernel
(:mod:`fastcavi.kernels`, model family ``"gmm"``); the model mathematics is
beside it in :mod:`fastcavi.mixture` (:mod:`~fastcavi.mixture.steps` and the
modules it lists).
"""

import numbers
import warnings
from collections import namedtuple
from time import time

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._base import transactional
from ..engine import (Change, PassMonitor, RobbinsMonro, best_of, effective_threads, limit_blas,
                      run_cavi, run_svi)
from ..kernels import get_backend
from . import steps
from .model import Block, MixtureModel, Pruning, check_finite
from .priors import make_proper, resolve_priors

__all__ = ["BayesianGaussianMixture"]


class BayesianGaussianMixture(DensityMixin, BaseEstimator):
    """Variational Bayesian estimation of a Gaussian mixture (CAVI and stochastic VI).

    Same model, parameters, defaults, fitted attributes and methods as
    :class:`sklearn.mixture.BayesianGaussianMixture` (Bishop 2006, PRML
    section 10.2; Blei & Jordan 2006 for the Dirichlet process): with the same
    ``random_state`` and ``init_params`` the initial responsibilities are
    scikit-learn's (its own ``KMeans`` / ``kmeans_plusplus`` are called with
    the same random state) and the iterates, ``lower_bound_`` and stopping rule
    are scikit-learn's to rounding. The E-step and the weighted statistics are
    one fused pass of a compiled kernel over blocks of samples (memory
    O(block x K)), parallel over threads.

    The four covariance types are one generative model (a full precision
    matrix per component, Normal-Wishart prior) with the variational Wishart
    factors free ("full"), shared ("tied"), diagonal ("diag") or isotropic
    ("spherical"): scikit-learn's updates are the exact coordinate-ascent
    optima of these families, which is what makes ``elbo_`` a lower bound on
    the same log evidence for every covariance type (see
    :mod:`fastcavi.mixture.steps`).

    Parameters
    ----------
    n_components : int, default=1
        Number of components K (the truncation level for the Dirichlet process).
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    tol : float, default=1e-3
        Stop when ``lower_bound_`` changes by less than this between iterations.
    reg_covar : float, default=1e-6
        Added to the diagonal of each component's weighted covariance (as
        scikit-learn). Any value > 0 moves the Wishart update away from the
        exact coordinate-ascent optimum (by ``N_k reg_covar`` on W_k^-1), so the
        ELBO is only guaranteed not to decrease with ``reg_covar=0``. When the
        default ``covariance_prior`` (the data covariance) is numerically
        singular (collinear or constant features), ``reg_covar`` is also added
        to its diagonal so that the Wishart prior is proper.
    max_iter : int, default=100
    n_init : int, default=1
        Number of initialisations; the one with the largest ``lower_bound_`` is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
    weight_concentration_prior_type : {"dirichlet_process", "dirichlet_distribution"}, \
            default="dirichlet_process"
    weight_concentration_prior : float, default=None
        alpha_0 > 0; None means 1 / n_components.
    mean_precision_prior : float, default=None
        beta_0 > 0; None means 1.
    mean_prior : array-like of shape (n_features,), default=None
        m_0; None means the (weighted) mean of X.
    degrees_of_freedom_prior : float, default=None
        nu_0 > n_features - 1; None means n_features.
    covariance_prior : float or array-like, default=None
        W_0^-1: (n_features, n_features) for "full"/"tied", (n_features,) for
        "diag", a float for "spherical"; None means the (weighted) covariance of X.
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        Continue from the previous fit (one initialisation, ``n_init`` ignored).
    verbose : int, default=0
    verbose_interval : int, default=10

    fastcavi parameters
    -------------------
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation; "numpy" is the slow reference.
    n_jobs : int, default=None
        Threads for the kernel (None: 1; -1: all CPUs).
    prune_tol : float, default=None
        If set, after each iteration (but the last) the components whose
        expected count ``N_k = sum_i w_i r_ik`` is below ``prune_tol`` are
        removed (at least one is kept; the fit does not stop on the iteration
        that pruned), so the cost follows the active components; the fitted arrays
        then have fewer rows and ``active_components_`` lists the survivors.
        The ELBO is monotone between pruning events only (removing a
        component changes the variational family, and for the finite
        Dirichlet prior the model).
    learning_offset : float, default=10.0
        tau_0 >= 1 of the stochastic-VI step ``rho_t = (tau_0 + t) ** -kappa``
        (``partial_fit``).
    learning_decay : float, default=0.7
        kappa; in (0.5, 1] guarantees convergence.
    total_samples : float, default=1e6
        Size of the data set ``partial_fit`` minibatches are drawn from; the
        minibatch statistics are scaled by ``total_samples / n_batch``.
    progress_bar : bool, default=False
        tqdm progress bar with the ELBO and samples/s per iteration.

    Attributes
    ----------
    weights_ : ndarray of shape (n_active,)
        E_q[pi_k] normalised to sum to one (scikit-learn's convention).
    means_ : ndarray of shape (n_active, n_features)
        m_k.
    covariances_ : ndarray
        W_k^-1 / nu_k (= E_q[Lambda_k]^-1), scikit-learn's layout: (K, d, d)
        full, (d, d) tied, (K, d) diag, (K,) spherical.
    precisions_ : ndarray
        E_q[Lambda_k] = nu_k W_k, same layout.
    precisions_cholesky_ : ndarray
        Upper-triangular U_k with U_k U_k^T = ``precisions_``, same layout.
    weight_concentration_ : tuple of two ndarray or ndarray
        (gamma_1, gamma_2) of the Beta sticks, or the Dirichlet alpha_k.
    weight_concentration_prior_ : float
    mean_precision_ : ndarray of shape (n_active,)
        beta_k.
    mean_precision_prior_ : float
    mean_prior_ : ndarray of shape (n_features,)
    degrees_of_freedom_ : ndarray of shape (n_active,) or float ("tied")
        nu_k.
    degrees_of_freedom_prior_ : float
    covariance_prior_ : float or ndarray
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        scikit-learn's lower bound (constants dropped) of the best initialisation.
    lower_bounds_ : list of float
        Its value after each iteration.
    elbo_ : float
        The complete ELBO (nats) with every constant (PRML 10.70-10.77; the
        stick-breaking terms of Blei & Jordan 2006), a lower bound on log p(X)
        comparable across ``n_components`` and covariance types, after the last
        iteration of the best initialisation (-inf when ``max_iter=0``). It
        does not include the ln K! of label symmetry (PRML section 10.2.4).
    elbo_history_ : list of float
        ``elbo_`` after each iteration (never decreasing with
        ``reg_covar=0`` and no pruning; with ``partial_fit``, minibatch estimates).
    active_components_ : ndarray of shape (n_active,)
        Indices (among the initial ``n_components``) of the retained components.
    n_batch_iter_ : int
        Stochastic-VI steps made plus one (1 after ``fit``).
    backend_ : str
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string feature names.

    Raises
    ------
    ValueError
        Invalid parameters or data (NaN/inf, fewer samples than components,
        wrong number of features, negative or all-zero ``sample_weight``,
        priors of the wrong shape, non-positive-definite covariance priors).
    FloatingPointError
        From ``fit``/``partial_fit`` for NaN or infinite values from the E-step
        kernel or the bound. A ``fit`` or ``partial_fit`` that raises (or is
        interrupted) leaves the estimator exactly as it was before the call.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcavi import BayesianGaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [12, 4], [10, 7]])
    >>> bgm = BayesianGaussianMixture(n_components=2, random_state=42).fit(X)
    >>> bgm.predict([[0, 0], [9, 3]])
    array([0, 1])
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"spherical", "tied", "diag", "full"})],
        "tol": [Interval(numbers.Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(numbers.Real, 0.0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_init": [Interval(numbers.Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "random", "random_from_data", "k-means++"})],
        "weight_concentration_prior_type": [
            StrOptions({"dirichlet_process", "dirichlet_distribution"})],
        "weight_concentration_prior": [None, Interval(numbers.Real, 0.0, None, closed="neither")],
        "mean_precision_prior": [None, Interval(numbers.Real, 0.0, None, closed="neither")],
        "mean_prior": [None, "array-like"],
        "degrees_of_freedom_prior": [None, Interval(numbers.Real, 0.0, None, closed="neither")],
        "covariance_prior": [None, "array-like", Interval(numbers.Real, 0.0, None,
                                                          closed="neither")],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(numbers.Integral, 1, None, closed="left")],
        "backend": [StrOptions({"auto", "cython", "numba", "numpy"})],
        "n_jobs": [None, numbers.Integral],
        "prune_tol": [None, Interval(numbers.Real, 0.0, None, closed="left")],
        "learning_offset": [Interval(numbers.Real, 1.0, None, closed="left")],
        "learning_decay": [Interval(numbers.Real, 0.0, 1.0, closed="both")],
        "total_samples": [Interval(numbers.Real, 0.0, None, closed="neither")],
        "progress_bar": ["boolean"],
    }

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        backend="auto",
        n_jobs=None,
        prune_tol=None,
        learning_offset=10.0,
        learning_decay=0.7,
        total_samples=1e6,
        progress_bar=False,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.backend = backend
        self.n_jobs = n_jobs
        self.prune_tol = prune_tol
        self.learning_offset = learning_offset
        self.learning_decay = learning_decay
        self.total_samples = total_samples
        self.progress_bar = progress_bar

    # ------------------------------------------------------------------ helpers
    def _kernels(self):
        return get_backend(self.backend, "gmm")

    def _validate_fit_data(self, X, sample_weight, reset):
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2,
                          reset=reset, order="C")
        if not reset:
            X = np.ascontiguousarray(X, dtype=self._dtype)
        if X.shape[0] < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, n_samples = {X.shape[0]}"
            )
        w_given = sample_weight is not None
        w = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
        w = np.ascontiguousarray(w, dtype=X.dtype)
        return X, w, w_given

    def _check_X(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return np.ascontiguousarray(X, dtype=self._dtype)

    def _resolve_priors(self, X, w, w_given):
        priors = resolve_priors(
            X, w if w_given else None, self.covariance_type, self.n_components,
            self.weight_concentration_prior, self.mean_precision_prior, self.mean_prior,
            self.degrees_of_freedom_prior, self.covariance_prior)
        if self.covariance_prior is None:
            priors["cov0"] = make_proper(priors["cov0"], self.reg_covar)
        return priors

    def _initial_resp(self, X, w, w_given, rs):
        """Initial responsibilities, drawing from ``rs`` exactly as scikit-learn."""
        n, K = X.shape[0], self.n_components
        sw = w if w_given else None
        if self.init_params == "kmeans":
            resp = np.zeros((n, K), dtype=X.dtype)
            label = KMeans(n_clusters=K, n_init=1, random_state=rs).fit(
                X, sample_weight=sw).labels_
            resp[np.arange(n), label] = 1
        elif self.init_params == "random":
            resp = np.asarray(rs.uniform(size=(n, K)), dtype=X.dtype)
            resp /= resp.sum(axis=1)[:, np.newaxis]
        elif self.init_params == "random_from_data":
            resp = np.zeros((n, K), dtype=X.dtype)
            if sw is None:
                indices = rs.choice(n, size=K, replace=False)
            else:
                if np.count_nonzero(sw) < K:
                    raise ValueError(
                        "init_params='random_from_data' needs at least n_components samples "
                        f"with positive sample_weight; got {np.count_nonzero(sw)} < {K}")
                prob = np.asarray(sw, dtype=np.float64)
                indices = rs.choice(n, size=K, replace=False, p=prob / prob.sum())
            resp[indices, np.arange(K)] = 1
        else:  # k-means++
            resp = np.zeros((n, K), dtype=X.dtype)
            _, indices = kmeans_plusplus(X, K, random_state=rs, sample_weight=sw)
            resp[indices, np.arange(K)] = 1
        return resp

    def _model(self, priors, dtype, kernels=None, n_threads=None):
        """The engine model of this estimator's parameters (arrays and kernels only)."""
        return MixtureModel(
            priors, self.covariance_type, self.weight_concentration_prior_type, self.reg_covar,
            dtype, self._kernels() if kernels is None else kernels,
            effective_threads(self.n_jobs) if n_threads is None else n_threads)

    def _e_step(self, kernels, X, w, p, compute_stats, n_threads, tied=None,
                want_resp=False, want_norm=False):
        """One kernel pass, for tests and benchmarks: (stats (N_k, xbar_k, S_k) or None,
        sum_w_log_norm, sum_w_r_log_r, log_resp or None, log_norm or None).

        ``tied`` is :func:`~fastcavi.mixture.steps.tied_scatter` of (X, w) for "tied".
        """
        model = self._model(getattr(self, "_priors", None), X.dtype, kernels, n_threads)
        nk, sx, sxx, s_norm, s_rlogr, log_resp, log_norm = model.kernel_pass(
            X, w, p, compute_stats, want_resp, want_norm)
        stats = model.recentred(nk, sx, sxx, p, tied) if compute_stats else None
        return stats, s_norm, s_rlogr, log_resp, log_norm

    # ----------------------------------------------------------- verbose output
    def _msg_init_beg(self, n_init):
        if self.verbose >= 1:
            print("Initialization %d" % n_init)
        if self.verbose >= 2:
            self._init_prev_time = time()
            self._iter_prev_time = self._init_prev_time

    def _msg_iter_end(self, n_iter, diff_ll):
        if n_iter % self.verbose_interval == 0:
            if self.verbose == 1:
                print("  Iteration %d" % n_iter)
            elif self.verbose >= 2:
                cur = time()
                print("  Iteration %d\t time lapse %.5fs\t ll change %.5f"
                      % (n_iter, cur - self._iter_prev_time, diff_ll))
                self._iter_prev_time = cur

    def _msg_init_end(self, lb, converged):
        msg = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {msg}.")
        elif self.verbose >= 2:
            t = time() - self._init_prev_time
            print(f"Initialization {msg}. time lapse {t:.5f}s\t lower bound {lb:.5f}.")

    # -------------------------------------------------------------- fitting
    def fit(self, X, y=None, sample_weight=None):
        """Fit the variational posterior by coordinate-ascent VI.

        ``n_init`` initialisations of ``max_iter`` iterations each (E-step then
        M-step, the lower bound computed after the M-step), stopped when the
        lower bound changes by less than ``tol``; the best initialisation is
        kept. A ConvergenceWarning is issued when it did not converge.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            float32 data stays float32 (the kernel accumulates in float64).
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; each sample counts ``w_i`` times (integer
            weights give the same fit as repeating rows, given the same
            initial responsibilities).

        Returns
        -------
        self : BayesianGaussianMixture
            If fitting raises or is interrupted, the estimator keeps the state
            it had before the call.

        Raises
        ------
        ValueError
            Invalid parameters or data, or a covariance that is not positive
            definite during fitting (increase ``reg_covar``).
        FloatingPointError
            If the E-step kernel or the lower bound gives NaN or infinite
            values (the message names the quantity).
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most probable component of each sample of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        labels : ndarray of shape (n_samples,), int64
            Equal to ``fit(X).predict(X)``.
        """
        self._fit(X, sample_weight)
        return self.predict(X)

    @transactional
    def _fit(self, X, sample_weight):
        self._validate_params()
        X, w, w_given = self._validate_fit_data(X, sample_weight, reset=True)
        priors = self._resolve_priors(X, w, w_given)
        kernels = self._kernels()
        model = self._model(priors, X.dtype, kernels)
        block = Block(X, w)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        rs = check_random_state(self.random_state)
        monitor = PassMonitor(self.max_iter * n_init, X.shape[0], self.progress_bar, 0,
                              unit="samples")

        def fit_once(init):
            self._msg_init_beg(init)
            if do_init:
                g = model.init_from_resp(block, self._initial_resp(X, w, w_given, rs))
                active, lower_bound = np.arange(self.n_components), -np.inf
            else:
                g, active = _copy_params(self._params), self.active_components_.copy()
                lower_bound = self.lower_bound_
            if self.max_iter == 0:
                return -np.inf, _Run(g, active, 0, [], [], False)
            run = self._run_cavi(model, block, g, active, lower_bound, monitor)
            self._msg_init_end(run.lower_bounds[-1], run.converged)
            return run.lower_bounds[-1], run

        try:
            with limit_blas():
                best, _ = best_of(n_init, fit_once)
        finally:
            monitor.close()
        if not best.converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        self._commit(best.g, priors, X.dtype, kernels, best.active)
        self.converged_ = best.converged
        self.n_iter_ = best.n_iter
        self.lower_bound_ = best.lower_bounds[-1] if best.lower_bounds else -np.inf
        self.lower_bounds_ = best.lower_bounds
        self.elbo_ = best.elbos[-1] if best.elbos else -np.inf
        self.elbo_history_ = best.elbos
        self.n_batch_iter_ = 1

    def _run_cavi(self, model, block, g, active, lower_bound, monitor):
        """One initialisation's passes (:func:`~fastcavi.engine.run_cavi`): stop when
        scikit-learn's lower bound changes by less than ``tol`` (from ``lower_bound``),
        prune after each pass but the last, print the verbose lines."""
        lbs = []

        def on_pass(record):
            # the bound of the state the pass's ELBO describes, before any pruning
            lb = model.lower_bound(record.g_step, record.stats)
            check_finite((lb, record.elbo), f"the lower bound of iteration {record.index + 1}",
                         model.kernels.name)
            self._msg_iter_end(record.index + 1, lb - (lbs[-1] if lbs else lower_bound))
            lbs.append(lb)

        pruning = None if self.prune_tol is None else Pruning(model, self.prune_tol, active)
        # the driver calls on_pass before the stop rule, so lbs[-1] is the pass's bound
        res = run_cavi(model, [block], g, max_iter=self.max_iter, monitor=monitor,
                       stop=Change(self.tol, value=lambda record: lbs[-1], initial=lower_bound),
                       post_step=pruning, on_pass=on_pass)
        return _Run(res.g, active if pruning is None else pruning.active, res.n_iter, lbs,
                    res.elbo_history, res.converged)

    def _commit(self, p, priors, dtype, kernels, active):
        """Publish parameters as fitted attributes, all at once."""
        ct, pt = self.covariance_type, self.weight_concentration_prior_type
        self._params = p
        self._priors = priors
        self._dtype = np.dtype(dtype)
        cast = lambda a: np.asarray(a, dtype=dtype)  # noqa: E731
        self.weight_concentration_prior_ = priors["alpha0"]
        self.mean_precision_prior_ = priors["beta0"]
        self.mean_prior_ = cast(priors["m0"])
        self.degrees_of_freedom_prior_ = priors["nu0"]
        cov0 = priors["cov0"]
        self.covariance_prior_ = cov0 if np.ndim(cov0) == 0 else cast(cov0)
        if pt == "dirichlet_process":
            self.weight_concentration_ = (cast(p["wc"][0]), cast(p["wc"][1]))
        else:
            self.weight_concentration_ = cast(p["wc"])
        self.weights_ = cast(steps.mixing_weights(p["wc"], pt))
        self.mean_precision_ = cast(p["beta"])
        self.means_ = cast(p["m"])
        self.degrees_of_freedom_ = float(p["nu"]) if ct == "tied" else cast(p["nu"])
        self.covariances_ = cast(p["cov"])
        self.precisions_cholesky_ = cast(p["pc"])
        pc = p["pc"]
        if ct == "full":
            prec = np.einsum("kij,klj->kil", pc, pc)
        elif ct == "tied":
            prec = pc @ pc.T
        else:
            prec = pc ** 2
        self.precisions_ = cast(prec)
        self.active_components_ = np.asarray(active, dtype=np.intp)
        self.backend_ = kernels.name

    # ------------------------------------------------------ stochastic VI
    @transactional
    def partial_fit(self, X, y=None, sample_weight=None):
        """One stochastic-VI step on the minibatch X (Hoffman et al. 2013, Alg. 1).

        The minibatch's optimal global parameters (its statistics scaled by
        ``total_samples / n_batch``) are blended into the current ones on the
        natural parameters of the stick-breaking/Dirichlet and Normal-Wishart
        factors with step ``rho_t = (learning_offset + t) ** -learning_decay``
        (:func:`fastcavi.mixture.natural.to_natural`). The first call (on an
        unfitted estimator) sets the priors from X, initialises as ``fit``
        does (``init_params``, ``random_state``) with the scaled statistics,
        then takes the step. Pruning is not applied.

        Parameters
        ----------
        X : array-like of shape (n_batch, n_features)
            At least 2 samples (and n_components on the first call).
        y : Ignored
        sample_weight : array-like of shape (n_batch,), default=None

        Returns
        -------
        self : BayesianGaussianMixture
            ``elbo_`` and ``lower_bound_`` are then minibatch estimates (the
            local terms scaled like the statistics).

        Raises
        ------
        ValueError
            Invalid parameters or data, or a number of features different from
            the first call.
        FloatingPointError
            NaN or infinite values from the E-step kernel or the bound. If the
            call raises, the estimator keeps its state (unfitted if it was).
        """
        first = not hasattr(self, "_params")
        if first:
            self._validate_params()
            X, w, w_given = self._validate_fit_data(X, sample_weight, reset=True)
        else:
            X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False,
                              ensure_min_samples=1)
            X = np.ascontiguousarray(X, dtype=self._dtype)
            w = np.ascontiguousarray(
                _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True))
            w_given = sample_weight is not None
        kernels = self._kernels()
        block = Block(X, w)
        t = 1 if first else self.n_batch_iter_
        schedule = RobbinsMonro(self.learning_offset, self.learning_decay, self.total_samples, t)
        with limit_blas():
            priors = self._resolve_priors(X, w, w_given) if first else self._priors
            model = self._model(priors, X.dtype, kernels)
            scale = schedule.total / model.n_items(block)   # what run_svi scales by
            if first:
                rs = check_random_state(self.random_state)
                p = model.init_from_resp(block, self._initial_resp(X, w, w_given, rs), scale)
                active, lbs, elbos = np.arange(self.n_components), [], []
            else:
                p = _copy_params(self._params)
                active = self.active_components_
                lbs, elbos = list(self.lower_bounds_), list(self.elbo_history_)
            p_new, stats = run_svi(model, [block], p, schedule)
            lb = model.lower_bound(p_new, stats, scale)
            el = model.elbo(p, p_new, stats, scale)
            check_finite((lb, el), "the minibatch lower bound", kernels.name)
        lbs.append(lb)
        elbos.append(el)
        self._commit(p_new, priors, X.dtype, kernels, active)
        self.n_batch_iter_ = schedule.t
        self.n_iter_ = t
        self.converged_ = False
        self.lower_bound_ = lb
        self.lower_bounds_ = lbs
        self.elbo_ = el
        self.elbo_history_ = elbos
        return self

    # -------------------------------------------------------------- inference
    def _log_resp_norm(self, X, want_resp, want_norm):
        X = self._check_X(X)
        with limit_blas():
            return self._model(self._priors, X.dtype).log_resp_norm(X, self._params, want_resp,
                                                                    want_norm)

    def predict(self, X):
        """Most probable component of each sample (argmax of the responsibilities).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,), int64
            Row indices into ``means_`` (after pruning: positions, see
            ``active_components_``).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before fitting.
        ValueError
            NaN/inf or a wrong number of features.
        """
        log_resp, _ = self._log_resp_norm(X, True, False)
        return np.argmax(log_resp, axis=1)

    def predict_proba(self, X):
        """Responsibilities r_ik of the components for each sample (PRML 10.49).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        resp : ndarray of shape (n_samples, n_active)
            Rows sum to one; dtype of the fitted arrays.
        """
        log_resp, _ = self._log_resp_norm(X, True, False)
        return np.exp(log_resp)

    def score_samples(self, X):
        """scikit-learn's plug-in log density: log sum_k exp(E[log pi_k] + E[log N(x | mu_k,
        Lambda_k^-1)]) (the E-step normaliser, not a normalised density).

        See :meth:`predictive_log_density` for the posterior predictive.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        _, log_norm = self._log_resp_norm(X, False, True)
        return log_norm

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        log_likelihood : float
        """
        return float(np.mean(self.score_samples(X)))

    def predictive_log_density(self, X):
        """Log posterior-predictive density, a mixture of Student-t (PRML eq. 10.81).

        log p(x | data) = log sum_k E[pi_k] St(x | m_k, L_k, nu_k + 1 - d),
        L_k = (nu_k + 1 - d) beta_k / (1 + beta_k) W_k, integrating the
        Gaussian over q(mu_k, Lambda_k) exactly (PRML 10.82 for E[pi_k]). For
        the Dirichlet process the mass 1 - sum_k E[pi_k] of the components
        beyond the truncation goes to the prior predictive (m_0, beta_0,
        W_0, nu_0). A normalised density in x, unlike :meth:`score_samples`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,), float64
            In nats.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before fitting.
        ValueError
            NaN/inf or a wrong number of features.
        """
        X = self._check_X(X)
        with limit_blas():
            return self._model(self._priors, X.dtype).predictive_log_density(X, self._params)

    def sample(self, n_samples=1):
        """Draw samples from the fitted plug-in mixture (as scikit-learn).

        Component counts are multinomial with ``weights_``; each component is
        N(means_k, covariances_k). The random state is ``random_state``.

        Parameters
        ----------
        n_samples : int, default=1
            At least 1.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), float64
        y : ndarray of shape (n_samples,), int64
            Component of each sample, grouped by component.

        Raises
        ------
        ValueError
            If ``n_samples < 1``.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples!r}. The sampling requires at "
                "least one sample.")
        _, d = self.means_.shape
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, np.asarray(self.weights_, dtype=np.float64))
        means = np.asarray(self.means_, dtype=np.float64)
        cov = np.asarray(self.covariances_, dtype=np.float64)
        if self.covariance_type == "full":
            parts = [rng.multivariate_normal(m, c, int(s)) for m, c, s in zip(means, cov, counts)]
        elif self.covariance_type == "tied":
            parts = [rng.multivariate_normal(m, cov, int(s)) for m, s in zip(means, counts)]
        else:
            parts = [m + rng.standard_normal(size=(s, d)) * np.sqrt(c)
                     for m, c, s in zip(means, cov, counts)]
        y = np.concatenate([np.full(int(s), i, dtype=np.int64) for i, s in enumerate(counts)])
        return np.vstack(parts).astype(np.float64, copy=False), y


def _copy_params(p):
    out = {}
    for key, val in p.items():
        if isinstance(val, tuple):
            out[key] = tuple(np.array(v) for v in val)
        elif isinstance(val, np.ndarray):
            out[key] = val.copy()
        else:
            out[key] = val
    return out


#: one initialisation's outcome: final global state, surviving component indices,
#: passes counted, scikit-learn's lower bound and the ELBO after each pass, converged
_Run = namedtuple("_Run", "g active n_iter lower_bounds elbos converged")
