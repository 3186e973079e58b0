"""Bayesian variable selection by spike-and-slab regression, fitted by CAVI.

The fully factorised mean-field model of Carbonetto & Stephens (2012),
"Scalable variational inference for Bayesian variable selection in regression,
and its accuracy in genetic association studies", *Bayesian Analysis* 7(1),
73-108 (the ``varbvs`` R/MATLAB package), with its coordinate sweep in
compiled kernels (:mod:`fastcavi.kernels`, model family ``"spikeslab"``).
"""

import numbers
import warnings

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._base import transactional
from ..engine import Below, PassMonitor, effective_threads, limit_blas, map_threads, run_cavi
from ..kernels import get_backend
from .spikeslab_model import Problem, SpikeSlabModel, spikeslab_elbo

__all__ = ["SpikeSlabRegression", "spikeslab_elbo"]


def _as_grid(value, name, positive):
    """A hyperparameter as a 1-D array of grid values, or None (to be estimated)."""
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a float or a 1-D array of floats; got shape {arr.shape}")
    arr = np.atleast_1d(arr)
    if arr.size == 0:
        raise ValueError(f"{name} must not be an empty array")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values; got {value!r}")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must contain only positive values; got {value!r}")
    return arr


class SpikeSlabRegression(RegressorMixin, BaseEstimator):
    """Bayesian variable selection regression with a spike-and-slab prior, by CAVI.

    The model of Carbonetto & Stephens (2012, *Bayesian Analysis* 7(1),
    section 2; the ``varbvs`` package)::

        y = b0 + X beta + e,                    e ~ N(0, sigma2 I)
        beta_j | gamma_j = 1 ~ N(0, sigma2 sa),  beta_j | gamma_j = 0 = 0
        gamma_j ~ Bernoulli(pi),                 logodds = log(pi / (1 - pi))

    fitted with the fully factorised variational family
    ``q(beta_j, gamma_j) = alpha_j N(mu_j, s_j) + (1 - alpha_j) delta_0``
    (their section 2) by coordinate ascent: one sweep updates every
    coordinate in turn with the exact block maximiser of the ELBO (their
    section 3; varbvs's ``varbvsnormupdate``), keeping ``X (alpha * mu)``
    current so a coordinate costs O(n) (O(nnz of the column) for sparse X). Sweeps alternate forward (0..p-1) and backward (p-1..0).
    The ELBO never decreases.

    Each hyperparameter (``noise_variance`` sigma2, ``slab_variance`` sa,
    ``prior_logodds``) is fixed (a float), a grid of values (an array), or,
    for sigma2 and sa, estimated (``None``) by maximising the ELBO after each
    sweep (varbvs's ``update.sigma`` / ``update.sa``; sa with a scaled inverse
    chi-square prior, see ``slab_prior_dof``)::

        sigma2 <- (||y - X r||^2 + sum_j d_j Var_q[beta_j] + sum_j alpha_j (s_j + mu_j^2) / sa)
                  / (n_eff + sum_j alpha_j)
        sa     <- (sum_j alpha_j (s_j + mu_j^2) / sigma2 + nu sa0) / (sum_j alpha_j + nu + 2)

    Each is the exact maximiser of the objective in that hyperparameter with
    everything else fixed, so the objective never decreases.

    With several grid points (the Cartesian product of the arrays given) every
    point is fitted from the same initialisation, the points run in parallel
    threads (``n_jobs``; the kernels release the GIL), and the results are
    averaged with importance weights ``w_g ∝ grid_prior_g exp(ELBO_g)``
    (the importance sampling over hyperparameters of Carbonetto & Stephens
    2012, section 3).

    Parameters
    ----------
    noise_variance : float, array-like of shape (n_sigma,) or None, default=None
        Residual variance sigma2 (in squared units of y). None: estimated,
        starting from the (weighted) variance of y.
    slab_variance : float, array-like of shape (n_sa,) or None, default=None
        Prior variance of a non-zero effect, in units of sigma2 (so
        ``beta_j | gamma_j = 1 ~ N(0, sigma2 * sa)``, in units of y per unit
        of x_j). None: estimated, starting from 1.
    prior_logodds : float, array-like of shape (n_logodds,) or None, default=None
        Prior log-odds (natural log) of inclusion of each variable. None: a
        grid of 10 values, ``log(10) * linspace(-max(1, log10(p)), 0, 10)``
        (prior inclusion probabilities from about 1/p to 1/2).
    grid_prior : array-like of shape (n_grid,) or None, default=None
        Prior weights of the grid points (non-negative, normalised here),
        in the order of ``grid_noise_variance_`` etc.; None: uniform.
    slab_prior_dof, slab_prior_scale : float, default=10.0 and 1.0
        When ``slab_variance=None``: sa gets a scaled inverse chi-square prior
        with these degrees of freedom nu and scale sa0 (the values of varbvs's
        default ``n0 = 10, sa0 = 1``), and is set after each sweep to the
        exact maximiser of ELBO + log p(sa),
        ``(sum_j alpha_j (s_j + mu_j^2) / sigma2 + nu sa0) / (sum_j alpha_j + nu + 2)``
        (varbvs's MAP step is a close variant with a differently scaled
        prior); the objective (``elbo_``, ``elbo_history_``, grid weights)
        then includes ``log p(sa)``. Without it (``slab_prior_dof=0``:
        maximum likelihood) sa drifts to 0 on data with no signal and the fit
        never converges.
    fit_intercept : bool, default=True
        Centre y and the columns of X (with the sample weights), as
        scikit-learn does; sparse X is centred implicitly, never densified.
        The intercept is integrated out under a flat prior, so the ELBO counts
        ``sum(w) - 1`` observations and adds ``-log(sum(w)) / 2``.
    max_iter : int, default=1000
        Maximum number of sweeps per grid point.
    tol : float, default=1e-4
        Convergence: stop when, over one sweep (and hyperparameter update),
        ``max_j |Δalpha_j| < tol``, ``max_j |Δ(alpha_j mu_j)| / sqrt(s_j) < tol``
        (the change of the posterior mean in posterior standard deviations),
        and the relative changes of estimated sigma2 and sa are below ``tol``.
    n_jobs : int, default=None
        Threads: grid points run in parallel; with a single grid point and
        n >= the backend's ``PARALLEL_MIN_ROWS`` (131072), the threads share
        each coordinate's row chunks instead, with one barrier per
        coordinate (only worth it on otherwise idle cores: when other
        processes hold the cores every barrier waits for a descheduled
        thread). None means 1, -1 all CPUs. Results are bit-identical
        whatever ``n_jobs``.
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation; "numpy" is the slow reference.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation (as varbvs: alpha uniform then normalised to
        sum to 1, mu standard normal).
    verbose : int, default=0
        Print one line per sweep (single grid point) or per grid point.
    progress_bar : bool, default=False
        Show a tqdm progress bar (stderr) with the ELBO and entries/s per sweep
        (single grid point) or one step per finished grid point.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,), float64
        Posterior mean of beta, ``sum_g w_g alpha_g * mu_g``.
    intercept_ : float
        ``y_mean - X_mean @ coef_`` (0.0 without ``fit_intercept``).
    pip_ : ndarray of shape (n_features,), float64
        Posterior inclusion probabilities, ``sum_g w_g alpha_g``.
    noise_variance_, slab_variance_, prior_logodds_ : float
        Importance-weighted averages of the hyperparameters over the grid.
    elbo_ : float
        ``log sum_g grid_prior_g exp(ELBO_g)`` in nats: a lower bound on the
        log marginal likelihood averaged over the grid (the ELBO itself for a
        single grid point); ``ELBO_g`` includes ``log p(sa_g)`` when sa is
        estimated with a prior.
    elbo_history_ : list of float
        ELBO after each sweep and hyperparameter update, of the grid point
        with the largest weight (of the only one when hyperparameters are
        fixed or estimated); non-decreasing.
    n_iter_ : int
        Number of sweeps, the largest over the grid.
    grid_noise_variance_, grid_slab_variance_, grid_prior_logodds_ : ndarray of shape (n_grid,)
        Hyperparameters of each grid point (final estimates where estimated).
    grid_elbo_ : ndarray of shape (n_grid,)
        Final ELBO of each grid point (nats).
    grid_weights_ : ndarray of shape (n_grid,)
        Normalised importance weights, ``softmax(grid_elbo_ + log grid_prior)``.
    grid_alpha_, grid_mu_, grid_s_ : ndarray of shape (n_grid, n_features)
        Variational parameters of each grid point.
    grid_n_iter_ : ndarray of shape (n_grid,), int
        Sweeps made at each grid point.
    grid_elbo_history_ : list of ndarray
        Per grid point, the ELBO after each sweep.
    backend_ : str
        Kernel backend used.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string feature names.

    Raises
    ------
    ValueError
        From ``fit``: NaN or infinite values, fewer than 2 samples or no
        features, y of the wrong length, a constant target, invalid
        hyperparameters or sample weights.
    FloatingPointError
        From ``fit``, if the ELBO stops being finite (a badly scaled problem).

    Notes
    -----
    The mean-field posterior is exact when X has orthogonal columns, and
    accurate when the columns are weakly correlated; with strongly correlated
    columns it tends to put its mass on one of them (discussed by Carbonetto &
    Stephens 2012). Memory: dense X is copied once in Fortran order (when it
    must be centred, weighted or is not Fortran-ordered); float32 X stays
    float32.

    There is no ``scheduler="dask"``: the fit stays on one machine, because
    its coordinate sweep updates one feature after another from the residual
    the previous update left, which is sequential, not a sum over blocks of
    rows (the other linear models run on a Dask cluster).

    Examples
    --------
    >>> import numpy as np
    >>> from fastcavi import SpikeSlabRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 20))
    >>> y = 2.0 * X[:, 0] - 1.5 * X[:, 3] + rng.standard_normal(200)
    >>> est = SpikeSlabRegression(random_state=0).fit(X, y)
    >>> np.flatnonzero(est.pip_ > 0.5)
    array([0, 3])
    """

    _parameter_constraints: dict = {
        "noise_variance": [None, Interval(numbers.Real, 0, None, closed="neither"), "array-like"],
        "slab_variance": [None, Interval(numbers.Real, 0, None, closed="neither"), "array-like"],
        "prior_logodds": [None, Interval(numbers.Real, None, None, closed="neither"),
                          "array-like"],
        "grid_prior": [None, "array-like"],
        "slab_prior_dof": [Interval(numbers.Real, 0, None, closed="left")],
        "slab_prior_scale": [Interval(numbers.Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "n_jobs": [None, numbers.Integral],
        "backend": [StrOptions({"auto", "cython", "numba", "numpy"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "progress_bar": ["boolean"],
    }

    def __init__(
        self,
        *,
        noise_variance=None,
        slab_variance=None,
        prior_logodds=None,
        grid_prior=None,
        slab_prior_dof=10.0,
        slab_prior_scale=1.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-4,
        n_jobs=None,
        backend="auto",
        random_state=None,
        verbose=0,
        progress_bar=False,
    ):
        self.noise_variance = noise_variance
        self.slab_variance = slab_variance
        self.prior_logodds = prior_logodds
        self.grid_prior = grid_prior
        self.slab_prior_dof = slab_prior_dof
        self.slab_prior_scale = slab_prior_scale
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.n_jobs = n_jobs
        self.backend = backend
        self.random_state = random_state
        self.verbose = verbose
        self.progress_bar = progress_bar

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ helpers
    def _grid(self, n_features):
        sig = _as_grid(self.noise_variance, "noise_variance", positive=True)
        sa = _as_grid(self.slab_variance, "slab_variance", positive=True)
        if self.prior_logodds is None:
            lo = np.log(10.0) * np.linspace(-max(1.0, np.log10(n_features)), 0.0, 10)
        else:
            lo = _as_grid(self.prior_logodds, "prior_logodds", positive=False)
        sig_v = [None] if sig is None else list(sig)
        sa_v = [None] if sa is None else list(sa)
        points = [(a, b, c) for a in sig_v for b in sa_v for c in lo]
        n_grid = len(points)
        if self.grid_prior is None:
            prior = np.full(n_grid, 1.0 / n_grid)
        else:
            prior = np.asarray(self.grid_prior, dtype=np.float64)
            if prior.shape != (n_grid,):
                raise ValueError(
                    f"grid_prior must have shape (n_grid,)=({n_grid},) (the product of the "
                    f"numbers of noise_variance, slab_variance and prior_logodds values); "
                    f"got shape {prior.shape}"
                )
            if not np.all(np.isfinite(prior)) or np.any(prior < 0) or prior.sum() <= 0:
                raise ValueError("grid_prior must be finite, non-negative and not all zero")
            prior = prior / prior.sum()
        return points, prior

    def _fit_point(self, kernels, prob, init, point, n_threads, monitor, stop=None):
        """CAVI at one grid point (``run_cavi`` on its model); a dict of its results.

        Raises :class:`fastcavi.engine.Cancelled` before a sweep once ``stop``
        (a :class:`threading.Event`) is set.
        """
        model = SpikeSlabModel(kernels, n_threads, prob, init, point, self.slab_prior_dof,
                               self.slab_prior_scale)
        res = run_cavi(model, [prob], model.initial_state(), max_iter=self.max_iter,
                       stop=Below(self.tol, model.change), monitor=monitor, cancel=stop)
        q = res.locals[0]
        return {"alpha": q.alpha, "mu": q.mu, "s": q.s, "sigma2": res.g.sigma2, "sa": res.g.sa,
                "logodds": point[2], "elbo": res.elbo_history[-1],
                "history": np.asarray(res.elbo_history), "n_iter": res.n_iter,
                "converged": res.converged}

    def _commit(self, results, prior, kernels, prob):
        """Publish a finished fit's results as fitted attributes, all at once."""
        elbo = np.array([r["elbo"] for r in results])
        logw = elbo + np.log(prior)
        total = logsumexp(logw)
        weights = np.exp(logw - total)
        A = np.stack([r["alpha"] for r in results])
        M = np.stack([r["mu"] for r in results])
        S = np.stack([r["s"] for r in results])
        coef = weights @ (A * M)
        best = int(np.argmax(weights))
        self.grid_alpha_, self.grid_mu_, self.grid_s_ = A, M, S
        self.grid_noise_variance_ = np.array([r["sigma2"] for r in results])
        self.grid_slab_variance_ = np.array([r["sa"] for r in results])
        self.grid_prior_logodds_ = np.array([r["logodds"] for r in results])
        self.grid_elbo_ = elbo
        self.grid_weights_ = weights
        self.grid_n_iter_ = np.array([r["n_iter"] for r in results], dtype=np.int64)
        self.grid_elbo_history_ = [r["history"] for r in results]
        self.coef_ = coef
        self.pip_ = weights @ A
        self.noise_variance_ = float(weights @ self.grid_noise_variance_)
        self.slab_variance_ = float(weights @ self.grid_slab_variance_)
        self.prior_logodds_ = float(weights @ self.grid_prior_logodds_)
        self.intercept_ = (prob.y_offset - float(prob.xm @ coef)) if self.fit_intercept else 0.0
        self.elbo_ = float(total)
        self.elbo_history_ = [float(e) for e in results[best]["history"]]
        self.n_iter_ = int(self.grid_n_iter_.max())
        self.backend_ = kernels.name

    # -------------------------------------------------------------- fitting
    @transactional
    def fit(self, X, y, sample_weight=None):
        """Fit the variational posterior (at every grid point) to X, y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Design; float32 data stays float32 in the kernels (sparse X is
            converted to CSC).
        y : array-like of shape (n_samples,)
            Target (float64).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative frequency weights: weight k counts as k copies of
            the row (the Gaussian likelihood is raised to the power w_i).

        Returns
        -------
        self : SpikeSlabRegression
            If fitting raises or is interrupted, every attribute (the fitted
            ones, ``n_features_in_`` and ``feature_names_in_`` included) is
            left as it was before the call; with several grid points the
            other points stop before their next sweep.

        Raises
        ------
        ValueError
            Invalid parameters, NaN/inf, fewer than 2 samples, no features,
            mismatched lengths, constant target, invalid sample weights.
        FloatingPointError
            If the ELBO stops being finite (a badly scaled problem).
        """
        self._validate_params()
        X, y = validate_data(
            self, X, y, reset=True, accept_sparse=("csc", "csr", "coo"),
            dtype=[np.float64, np.float32], y_numeric=True, multi_output=False,
            ensure_min_samples=2,
        )
        y = np.asarray(y, dtype=np.float64)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                                 ensure_non_negative=True)
            if self.fit_intercept and sample_weight.sum() <= 1.0:
                raise ValueError(
                    "sample_weight must sum to more than 1 with fit_intercept=True (they are "
                    "frequency weights: one observation goes into the intercept)"
                )
            if not self.fit_intercept and sample_weight.sum() <= 0.0:
                raise ValueError("sample_weight must not be all zero")
        n, p = X.shape
        points, prior = self._grid(p)
        kernels = get_backend(self.backend, "spikeslab")
        n_threads = effective_threads(self.n_jobs)

        with limit_blas():
            prob = Problem(X, y, sample_weight, self.fit_intercept)
            if not prob.yy > 0.0:
                raise ValueError(
                    "y is constant" + (" (zero variance about its mean)" if self.fit_intercept
                                       else " zero") +
                    ": there is nothing to regress (the residual variance would be 0)"
                )
            if not np.isfinite(prob.yy) or not np.all(np.isfinite(prob.d)):
                raise ValueError("X and y must be small enough that their squares are finite")
            rs = check_random_state(self.random_state)
            alpha0 = rs.uniform(size=p)
            alpha0 /= alpha0.sum()
            mu0 = rs.standard_normal(p)
            Xr0, T0 = prob.product(alpha0 * mu0)
            init = (alpha0, mu0, Xr0, T0)
            n_grid = len(points)
            if n_grid == 1:
                monitor = PassMonitor(self.max_iter, X.nnz if prob.sparse else n * p,
                                      self.progress_bar, self.verbose, unit="entries")
                try:
                    results = [self._fit_point(kernels, prob, init, points[0], n_threads,
                                               monitor)]
                finally:
                    monitor.close()
            else:
                workers = min(n_grid, n_threads)
                inner = max(1, n_threads // n_grid)
                # one bar step per finished grid point, with its ELBO
                monitor = PassMonitor(n_grid, 1.0, self.progress_bar, 0, unit="grid points")
                try:
                    results = map_threads(
                        lambda pt, cancel: self._fit_point(kernels, prob, init, pt, inner, None,
                                                           cancel),
                        points, workers, on_done=lambda i, r: monitor.end_pass(i, r["elbo"]))
                finally:
                    monitor.close()
                if self.verbose:
                    for g, r in enumerate(results):
                        print(f"grid point {g + 1}/{n_grid}: logodds={r['logodds']:.4g}, "
                              f"sigma2={r['sigma2']:.4g}, sa={r['sa']:.4g}, "
                              f"elbo={r['elbo']:.6g}, sweeps={r['n_iter']}")
        not_converged = sum(not r["converged"] for r in results)
        if not_converged:
            warnings.warn(
                f"{not_converged} of {len(results)} grid points did not converge in "
                f"max_iter={self.max_iter} sweeps; increase max_iter or tol",
                ConvergenceWarning,
            )
        self._commit(results, prior, kernels, prob)
        return self

    def predict(self, X):
        """Posterior mean prediction ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,), float64
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse=("csr", "csc", "coo"),
                          dtype=[np.float64, np.float32])
        return np.asarray(X @ self.coef_, dtype=np.float64).ravel() + self.intercept_
