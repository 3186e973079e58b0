"""VB linear regression (Normal-Gamma q(w, tau), Gamma q(alpha); Bishop PRML 10.3, Drugowitsch 2013).

The maths is in :mod:`fastcavi.linear_model.gaussian`; the Gram and predictive
kernels are the "regression" family's (:mod:`fastcavi.linear_model.regression_reference`).
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._base import transactional
from ..engine import ElboGain, OnePass, PassMonitor, effective_threads, limit_blas, run_cavi
from ..kernels import get_backend
from ._common import PREDICT_BLOCK, COMMON_CONSTRAINTS, check_weights, resolve_lambda_init, rows_blocks
from .gaussian import LinearModel, RowBlock, weighted_means

__all__ = ["VBLinearRegression"]


class VBLinearRegression(RegressorMixin, BaseEstimator):
    """Bayesian linear regression by mean-field variational inference.

    The model (Drugowitsch 2013, arXiv:1310.5438, section 2; Bishop PRML 10.3)::

        y_n | w, tau ~ N(w^T x_n + b, 1 / tau)
        w | tau, lambda ~ N(0, (tau diag(lambda))^-1)      # Normal-Gamma
        tau ~ Gamma(alpha_1, alpha_2),  lambda_i ~ Gamma(lambda_1, lambda_2)

    with one shared weight precision, or one per feature (``ard=True``, his
    ``vb_linear_fit_ard``). The variational posterior
    q(w, tau) q(lambda) keeps w and tau together (Normal-Gamma), so with the
    weight precision held fixed (``fit_lambda=False``) it *is* the exact
    conjugate posterior, and the ELBO is the exact log evidence. The
    intercept b has a flat prior and is integrated out exactly (the data are
    centred by their weighted means, as scikit-learn does).

    X^T X and X^T y are formed once (a blocked, centred ``dsyrk`` kernel for
    dense X; scipy.sparse for sparse X), so an iteration costs O(d^3) (d <= n)
    or O(n^2 d) through the Woodbury identity (n < d), never O(n d).

    Parameter names follow :class:`sklearn.linear_model.BayesianRidge`:
    ``alpha`` is the noise precision tau, ``lambda`` the weight precision.

    Parameters
    ----------
    ard : bool, default=False
        One weight precision per feature (automatic relevance determination).
    alpha_1, alpha_2 : float, default=1e-6
        Shape and rate of the Gamma prior on the noise precision (a0, b0 in
        Drugowitsch 2013). Must be > 0.
    lambda_1, lambda_2 : float, default=1e-6
        Shape and rate of the Gamma prior on the weight precision(s) (c0, d0).
    lambda_init : float or array-like of shape (n_features,), default=None
        Starting E[lambda] (1.0 if None); with ``fit_lambda=False`` the fixed
        weight precision.
    fit_lambda : bool, default=True
        Learn q(lambda). False holds the weight precision at ``lambda_init``.
    fit_intercept : bool, default=True
    max_iter : int, default=300
        Maximum CAVI iterations (>= 1).
    tol : float, default=1e-10
        Stop when an iteration raises the ELBO by less than ``tol`` times the
        sum of the sample weights (nats per sample).
    verbose : int, default=0
        Print the ELBO after each iteration.
    progress_bar : bool, default=False
        Show a tqdm progress bar (stderr) with the ELBO and samples/s per iteration.
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation for the Gram matrix and the predictive variance.
    n_jobs : int, default=None
        Threads for the kernels (None: 1; -1: all CPUs).
    solver : {"auto", "primal", "dual"}, default="auto"
        "primal": Cholesky of the d x d posterior precision; "dual": Woodbury
        identity with an n x n system; "auto": dual when fewer samples (with
        positive weight) than features.
    scheduler : {"threads", "dask"}, default="threads"
        Where the fit runs. "threads": in this process, on ``n_jobs`` kernel
        threads. "dask": on the current ``dask.distributed`` Client
        (:func:`fastcavi.engine.dask_driver.run_cavi_dask`; ``pip install
        "fastcavi[dask]"``). X may then be a Dask array, chunked along the rows
        (its row chunks are the blocks, read and validated on the workers; y and
        ``sample_weight`` are rechunked to match), or an in-memory dense array
        (cut into blocks of 65536 rows). X^T X and X^T y are tree-summed over the
        blocks in a fixed order, so the fit does not depend on the number of
        workers; it equals the "threads" fit to rounding (1e-12), not bit for
        bit, since the blocks' sums are added in another order. ``n_jobs`` is
        then the kernel threads of each task: run one thread per worker.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,), float64
        Posterior mean m of the weights.
    intercept_ : float
        Posterior mean of the intercept (0.0 without ``fit_intercept``).
    sigma_ : ndarray of shape (n_features, n_features), float64
        Posterior covariance of the weights, V b_N / (a_N - 1) (the marginal
        q(w) is a multivariate Student-t); when a_N <= 1 the covariance does
        not exist and ``sigma_`` holds the scale matrix V b_N / a_N.
    alpha_ : float
        E[tau] = a_N / b_N, the posterior mean noise precision.
    lambda_ : float or ndarray of shape (n_features,)
        E[lambda], the posterior mean weight precision (array with ``ard``).
    a_n_, b_n_ : float
        q(tau) = Gamma(a_n_, b_n_) (shape, rate).
    lambda_shape_ : float or None
        Shape of q(lambda) (None with ``fit_lambda=False``).
    lambda_rate_ : float, ndarray of shape (n_features,) or None
        Rate(s) of q(lambda) (per feature with ``ard``).
    elbo_ : float
        Final evidence lower bound in nats, complete with every constant.
    elbo_history_ : list of float
        ELBO after each iteration; non-decreasing.
    n_iter_ : int
        Number of CAVI iterations run.
    converged_ : bool
    backend_ : str
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string feature names.

    Raises
    ------
    ValueError
        From ``fit``: NaN or infinite values, inconsistent lengths, no
        features, fewer than 2 samples with ``fit_intercept``, a constant
        target, negative or all-zero sample weights, invalid parameters.
    TypeError
        Non-numeric data.
    FloatingPointError
        From ``fit``, if the ELBO stops being finite (a kernel returned NaN or
        inf, or the data are too badly scaled).
    RuntimeError
        From ``fit`` with ``scheduler="dask"`` and no ``dask.distributed``
        Client running (the message says how to start one).
    ImportError
        From ``fit`` with ``scheduler="dask"`` when dask.distributed is not
        installed.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcavi import VBLinearRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 3))
    >>> y = X @ [1.0, -2.0, 0.0] + 0.5 + 0.1 * rng.standard_normal(200)
    >>> reg = VBLinearRegression().fit(X, y)
    >>> np.round(reg.coef_, 1)
    array([ 1., -2.,  0.])
    >>> mean, std = reg.predict(X[:2], return_std=True)
    """

    _parameter_constraints: dict = {
        **COMMON_CONSTRAINTS,
        "alpha_1": [Interval(numbers.Real, 0, None, closed="neither")],
        "alpha_2": [Interval(numbers.Real, 0, None, closed="neither")],
        "solver": [StrOptions({"auto", "primal", "dual"})],
        "scheduler": [StrOptions({"threads", "dask"})],
    }

    def __init__(self, *, ard=False, alpha_1=1e-6, alpha_2=1e-6, lambda_1=1e-6, lambda_2=1e-6,
                 lambda_init=None, fit_lambda=True, fit_intercept=True, max_iter=300, tol=1e-10,
                 verbose=0, progress_bar=False, backend="auto", n_jobs=None,
                 solver="auto", scheduler="threads"):
        self.ard = ard
        self.alpha_1 = alpha_1
        self.alpha_2 = alpha_2
        self.lambda_1 = lambda_1
        self.lambda_2 = lambda_2
        self.lambda_init = lambda_init
        self.fit_lambda = fit_lambda
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.progress_bar = progress_bar
        self.backend = backend
        self.n_jobs = n_jobs
        self.solver = solver
        self.scheduler = scheduler

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @transactional
    def fit(self, X, y, sample_weight=None):
        """Fit the variational posterior.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data (float32 data is read as float32 by the kernels,
            all statistics are float64). A Dask array (chunked along the
            rows) or a sparse matrix only with ``scheduler="dask"`` or
            ``"threads"`` respectively.
        y : array-like or dask array of shape (n_samples,)
            Targets.
        sample_weight : array-like or dask array of shape (n_samples,), default=None
            Non-negative weights; weight k counts a sample k times.

        Returns
        -------
        self : VBLinearRegression
            If fitting raises or is interrupted, every attribute (the fitted
            ones, ``n_features_in_`` and ``feature_names_in_`` included) is
            left as it was before the call.

        Raises
        ------
        ValueError
            See the class docstring.
        FloatingPointError
            If an iteration's ELBO is not finite.
        RuntimeError
            ``scheduler="dask"`` without a running ``dask.distributed`` Client.
        """
        self._validate_params()
        if self.scheduler == "dask":
            client, items, n, d, n_pos, S, y_range, x_shift, y_shift = self._dask_rows(
                X, y, sample_weight)
        else:
            X, y = validate_data(self, X, y, accept_sparse=["csr", "csc", "coo"],
                                 dtype=[np.float64, np.float32], y_numeric=True, order="C",
                                 reset=True)
            if sp.issparse(X):
                X = X.tocsr()
            y = np.asarray(y, dtype=np.float64)
            n, d = X.shape
            sw = check_weights(sample_weight, X)
            n_pos, S = int(np.count_nonzero(sw)), float(np.sum(sw))
            y_pos = y[sw > 0]
            y_range = (float(y_pos.min()), float(y_pos.max()))
        if self.fit_intercept and n_pos < 2:
            raise ValueError(
                "VBLinearRegression with fit_intercept=True needs at least 2 samples with "
                f"positive weight; got {n_pos} (n_samples={n})"
            )
        if (y_range[0] == y_range[1]) if self.fit_intercept else y_range == (0.0, 0.0):
            note = "; with fit_intercept=True the centred target is 0" if self.fit_intercept else ""
            raise ValueError(
                f"y is constant (every target with positive weight equals {y_range[0]:g}"
                f"{note}): the posterior of the noise precision would collapse onto its prior; "
                "VBLinearRegression needs a target that varies"
            )
        alpha_init = resolve_lambda_init(self.lambda_init, d)
        if not self.ard and np.ptp(alpha_init) > 0:
            raise ValueError("lambda_init must be a scalar (or constant array) unless ard=True")
        kernels = get_backend(self.backend, "regression")
        n_threads = effective_threads(self.n_jobs)
        dual = self.solver == "dual" or (self.solver == "auto" and n_pos < d)
        monitor = PassMonitor(self.max_iter, float(n), self.progress_bar, self.verbose,
                              unit="samples")
        try:
            with limit_blas():
                # the O(d^3) iterations on one BLAS/LAPACK thread too: OpenBLAS rounds
                # its threaded Cholesky and products differently with the thread
                # count (d >= ~100), so n_jobs threads would break bit-identity
                if self.scheduler != "dask":
                    x_shift, y_shift = weighted_means(X, y, sw)
                if not self.fit_intercept:
                    x_shift, y_shift = np.zeros(d), 0.0
                model = LinearModel(kernels, n_threads, fit_intercept=self.fit_intercept,
                                    x_shift=x_shift, y_shift=y_shift, dual=dual,
                                    a0=float(self.alpha_1), b0=float(self.alpha_2),
                                    c0=float(self.lambda_1), d0=float(self.lambda_2),
                                    ard=self.ard, learn_alpha=self.fit_lambda)
                # with alpha fixed the conjugate update is exact in one pass
                stop = ElboGain(self.tol, weight=S) if self.fit_lambda \
                    else OnePass()
                g0 = model.initial_state(alpha_init)
                if self.scheduler == "dask":
                    from ..engine.dask_driver import run_cavi_dask
                    from .dask_rows import open_rows
                    res = run_cavi_dask(model, items, open_rows, g0, client=client,
                                        max_iter=self.max_iter, stop=stop, monitor=monitor)
                else:
                    res = run_cavi(model, [RowBlock(X, y, sw)], g0, max_iter=self.max_iter,
                                   stop=stop, monitor=monitor)
                q = res.g
                V = q.sol.covariance()
        finally:
            monitor.close()
        st = model.summary
        sol, an, bn = q.sol, q.an, q.bn
        coef = sol.m.copy()
        # commit: everything computed, now publish at once
        self.coef_ = coef
        self.intercept_ = float(st.y_mean - st.x_mean @ coef) if self.fit_intercept else 0.0
        self.sigma_ = V * (bn / (an - 1.0) if an > 1.0 else bn / an)
        self.alpha_ = float(an / bn)
        self.lambda_ = q.e_alpha.copy() if self.ard else float(q.e_alpha[0])
        self.a_n_ = float(an)
        self.b_n_ = float(bn)
        self.lambda_shape_ = float(q.cn) if self.fit_lambda else None
        self.lambda_rate_ = (None if q.dn is None else
                             np.array(q.dn, dtype=np.float64) if self.ard else float(q.dn))
        self.elbo_ = res.elbo_history[-1]
        self.elbo_history_ = list(res.elbo_history)
        self.n_iter_ = res.n_iter
        self.converged_ = res.converged
        self.backend_ = kernels.name
        self._chol = np.ascontiguousarray(sol.R) if hasattr(sol, "R") else None
        self._V = V
        self._x_mean = st.x_mean
        self._S = st.S
        return self

    def _dask_rows(self, X, y, sample_weight):
        """The rows of a ``scheduler="dask"`` fit, as blocks on the cluster.

        Returns the client, the blocks' futures (:func:`~.dask_rows.row_futures`),
        n, d, the rows of positive weight, the weights' sum, the range of the
        positive-weight targets and the weighted means.
        """
        from ..engine.dask_driver import current_client
        from .dask_rows import BLOCK_ROWS, is_dask_collection, row_futures

        client = current_client()
        if is_dask_collection(X):
            self.n_features_in_ = int(X.shape[1])
            self.__dict__.pop("feature_names_in_", None)
        else:
            X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=True,
                                 order="C", reset=True)
            sample_weight = check_weights(sample_weight, X)
            import dask.array as da
            X = da.from_array(X, chunks=(BLOCK_ROWS, -1))
        items, summ = row_futures(client, X, y, sample_weight)
        if not summ.S > 0:
            raise ValueError("sample_weight must have a positive sum; got all zeros")
        return (client, items, summ.n, summ.d, summ.n_pos, summ.S, (summ.y_min, summ.y_max),
                summ.xw / summ.S, summ.yw / summ.S)

    def predict(self, X, return_std=False):
        """Posterior predictive mean and (optionally) standard deviation.

        The predictive distribution is a Student-t (PRML eq. 3.59 with the
        Normal-Gamma posterior; Drugowitsch 2013, eq. 16)::

            y* ~ St(x^T m + b, (b_N / a_N) (1 + 1/S + (x - xbar)^T V (x - xbar)), 2 a_N)

        (the 1/S and the centring only with ``fit_intercept``: the uncertainty
        of the integrated-out intercept).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the predictive standard deviation
            sqrt(scale^2 * 2a_N / (2a_N - 2)) (inf when a_N <= 1).

        Returns
        -------
        y_mean : ndarray of shape (n_samples,)
        y_std : ndarray of shape (n_samples,)
            Only with ``return_std``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc", "coo"],
                          dtype=[np.float64, np.float32], order="C", reset=False)
        if sp.issparse(X):
            X = X.tocsr()
        mean = np.asarray(X @ self.coef_, dtype=np.float64).ravel() + self.intercept_
        if not return_std:
            return mean
        var = self._quad_form(X)
        an, bn = self.a_n_, self.b_n_
        extra = 1.0 / self._S if self.fit_intercept else 0.0
        if an > 1.0:
            std = np.sqrt(bn / (an - 1.0) * (1.0 + extra + var))
        else:
            std = np.full(X.shape[0], np.inf)
        return mean, std

    def _quad_form(self, X):
        """(x - xbar)^T V (x - xbar) per row."""
        n = X.shape[0]
        var = np.empty(n)
        if self._chol is not None:
            kernels = get_backend(self.backend_, "regression")
            d = self._chol.shape[0]
            mu = np.zeros(d)
            junk = np.empty(min(n, PREDICT_BLOCK))
            with limit_blas():
                for i, Xb in rows_blocks(X):
                    m = Xb.shape[0]
                    kernels.predictive_moments(Xb, self._x_mean, False, self._chol, mu, junk[:m],
                                               var[i:i + m], effective_threads(self.n_jobs))
        else:
            for i, Xb in rows_blocks(X):
                Xc = Xb.astype(np.float64) - self._x_mean
                var[i:i + Xc.shape[0]] = np.einsum("ij,ij->i", Xc @ self._V, Xc)
        return np.maximum(var, 0.0)
