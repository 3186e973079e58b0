"""Spike-and-slab regression (Carbonetto & Stephens 2012) as an engine model.

The fully factorised mean-field posterior of Carbonetto & Stephens (2012),
"Scalable variational inference for Bayesian variable selection in regression,
and its accuracy in genetic association studies", *Bayesian Analysis* 7(1),
73-108 (the ``varbvs`` package): :class:`Problem` is the centred, weighted
design formed once for every grid point, :class:`SpikeSlabModel` one grid
point's steps for :func:`fastcavi.engine.run_cavi`, :func:`spikeslab_elbo`
its complete ELBO. The sweep is the "spikeslab" kernel family's
(:mod:`fastcavi.linear_model.spikeslab_reference`).
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import gammaln, xlogy

from ..engine import Stats

__all__ = ["Problem", "SpikeSlabModel", "SpikeSlabState", "SweepLocal", "spikeslab_elbo",
           "log_scaled_inv_chi2"]

_LOG_2PI = float(np.log(2.0 * np.pi))
_BLOCK = 256  # columns per block when forming X^T y, diag(X^T X) and X b in float64
_MIN_VARIANCE = 1e-300


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -np.asarray(x, dtype=np.float64))


def spikeslab_elbo(resid2, d, alpha, mu, s, sigma2, sa, logodds, n_eff, const=0.0):
    """Evidence lower bound of the spike-and-slab regression, every constant included.

    ``E_q[log p(y, beta, gamma)] - E_q[log q(beta, gamma)]`` in nats, for the
    model and variational family of Carbonetto & Stephens (2012), section 2-3
    (``varbvsnorm``'s lower bound: ``intlinear + intgamma + intklbeta``)::

        - n_eff/2 log(2 pi sigma2) - (||y - X r||^2 + sum_j d_j Var_q[beta_j]) / (2 sigma2)
        + sum_j (alpha_j - 1) logodds_j + log sigmoid(logodds_j)
        + sum_j alpha_j/2 (1 + log(s_j / (sa sigma2)) - (s_j + mu_j^2) / (sa sigma2))
        - sum_j alpha_j log alpha_j + (1 - alpha_j) log(1 - alpha_j)
        + const

    with ``r = alpha * mu`` and ``Var_q[beta_j] = alpha_j (s_j + (1 - alpha_j) mu_j^2)``.

    Parameters
    ----------
    resid2 : float
        ``||y - X (alpha * mu)||^2`` (in the weighted, centred problem).
    d : ndarray of shape (n_features,)
        Squared column norms of X.
    alpha, mu, s : ndarray of shape (n_features,)
        Variational parameters (inclusion probability, slab mean and variance).
    sigma2 : float
        Residual variance (> 0).
    sa : float
        Prior variance of the effects in units of ``sigma2`` (> 0).
    logodds : float or ndarray of shape (n_features,)
        Prior log-odds of inclusion.
    n_eff : float
        Number of observations in the Gaussian likelihood: n, or the sum of
        the sample weights, minus one when the intercept is integrated out.
    const : float, default=0.0
        Added as is (``-log(sum of weights) / 2`` for the intercept).

    Returns
    -------
    elbo : float
        In nats.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    logodds = np.broadcast_to(np.asarray(logodds, dtype=np.float64), alpha.shape)
    var_beta = alpha * (s + (1.0 - alpha) * mu * mu)
    lik = -0.5 * n_eff * (_LOG_2PI + np.log(sigma2)) - (resid2 + d @ var_beta) / (2.0 * sigma2)
    prior_gamma = np.sum((alpha - 1.0) * logodds + _log_sigmoid(logodds))
    v = sa * sigma2
    kl_beta = 0.5 * np.sum(alpha * (1.0 + np.log(s / v) - (s + mu * mu) / v))
    entropy_gamma = -np.sum(xlogy(alpha, alpha) + xlogy(1.0 - alpha, 1.0 - alpha))
    return float(lik + prior_gamma + kl_beta + entropy_gamma + const)


def log_scaled_inv_chi2(x, dof, scale):
    """log density of the scaled inverse chi-square(dof, scale) distribution at x > 0."""
    h = 0.5 * dof
    return float(h * np.log(h * scale) - gammaln(h) - (h + 1.0) * np.log(x) - h * scale / x)


class Problem:
    """The centred, weighted design prepared once for every grid point.

    Dense: ``X`` is ``sqrt(w) * (X - xm)`` in Fortran order (dtype of the
    data). Sparse: ``data, indices, indptr`` of the CSC matrix ``sqrt(w) * X``
    with the centring ``- xm v`` left implicit (see
    :mod:`fastcavi.linear_model.spikeslab_reference`). ``y`` is ``sqrt(w) (y - ym)``.
    """

    def __init__(self, X, y, sample_weight, fit_intercept):
        n, p = X.shape
        w = sample_weight
        self.sparse = sp.issparse(X)
        self.n_samples, self.n_features = n, p
        self.wsum = float(n if w is None else np.sum(w))
        v = np.ones(n) if w is None else np.sqrt(w)
        self.v = v
        if fit_intercept:
            y_offset = float(np.average(y, weights=w))
            self.n_eff = self.wsum - 1.0
            # flat prior on the intercept, integrated out: (2 pi sigma2)^(1/2) / sqrt(sum w)
            self.const = -0.5 * np.log(self.wsum)
        else:
            y_offset = 0.0
            self.n_eff = self.wsum
            self.const = 0.0
        self.y_offset = y_offset
        self.y = v * (y - y_offset)
        self.yy = float(self.y @ self.y)
        dtype = X.dtype
        if self.sparse:
            Xs = X.tocsc(copy=True)
            Xs.sum_duplicates()
            Xs.sort_indices()
            rows = Xs.indices
            cols = np.repeat(np.arange(p), np.diff(Xs.indptr))
            if w is not None:
                Xs.data = (Xs.data * v[rows]).astype(dtype, copy=False)
            data64 = Xs.data.astype(np.float64)
            if fit_intercept:
                # weighted column means: (xs^T v) / sum(w)
                self.xm = np.bincount(cols, weights=data64 * v[rows], minlength=p) / self.wsum
            else:
                self.xm = np.zeros(p)
            self.data, self.indices, self.indptr = Xs.data, Xs.indices, Xs.indptr
            self.Xs = Xs
            self.xy = np.asarray(Xs.T @ self.y, dtype=np.float64)
            # ||xs_j - m_j v||^2 summed over the stored entries, plus m_j^2 w_i on the others
            e = data64 - self.xm[cols] * v[rows]
            w_stored = np.bincount(cols, weights=v[rows] ** 2, minlength=p)
            self.d = (np.bincount(cols, weights=e * e, minlength=p)
                      + self.xm ** 2 * np.maximum(self.wsum - w_stored, 0.0))
        else:
            if fit_intercept:
                self.xm = np.average(X, axis=0, weights=w).astype(np.float64)
            else:
                self.xm = np.zeros(p)
            if fit_intercept or w is not None:
                Xk = np.array(X, dtype=dtype, order="F", copy=True)
                if fit_intercept:
                    Xk -= self.xm.astype(dtype)
                if w is not None:
                    Xk *= v.astype(dtype)[:, None]
            else:
                Xk = np.asfortranarray(X)
            self.X = Xk
            self.xy = np.empty(p)
            self.d = np.empty(p)
            for lo in range(0, p, _BLOCK):
                blk = Xk[:, lo:lo + _BLOCK].astype(np.float64)
                self.xy[lo:lo + _BLOCK] = blk.T @ self.y
                self.d[lo:lo + _BLOCK] = np.einsum("ij,ij->j", blk, blk)

    def product(self, b):
        """Initial ``Xr`` for coefficients b (float64), and ``T`` for the sparse kernel."""
        if self.sparse:
            r = np.asarray(self.Xs @ b, dtype=np.float64)
            return r, float(self.v @ r)
        r = np.zeros(self.n_samples)
        for lo in range(0, self.n_features, _BLOCK):
            r += self.X[:, lo:lo + _BLOCK].astype(np.float64) @ b[lo:lo + _BLOCK]
        return r, 0.0

    def resid2(self, Xr, b):
        """``||y - X b||^2`` of the centred, weighted problem, from the kernel's Xr."""
        if self.sparse:
            c = float(self.xm @ b)
            res = self.y - Xr + c * self.v
        else:
            res = self.y - Xr
        return float(res @ res)

    def sweep(self, kernels, sigma2, sa, logodds, alpha, mu, s, Xr, T, order, n_threads):
        """One coordinate sweep of the kernel over ``order``, updating alpha, mu, s, Xr, T in place."""
        if self.sparse:
            kernels.spikeslab_sweep_csc(self.data, self.indices, self.indptr, self.xm, self.wsum,
                                        self.xy, self.d, sigma2, sa, logodds, alpha, mu, s, Xr,
                                        T, order, n_threads)
        else:
            kernels.spikeslab_sweep_dense(self.X, self.xy, self.d, sigma2, sa, logodds, alpha,
                                          mu, s, Xr, order, n_threads)


class SpikeSlabState:
    """Global state of :class:`SpikeSlabModel`: the hyperparameters of one grid point.

    Attributes
    ----------
    sigma2 : float
        Residual variance.
    sa : float
        Slab variance in units of ``sigma2``.
    change : float
        Largest relative change of an estimated hyperparameter in the step
        that made this state (0 for the initial state).
    """

    __slots__ = ("sigma2", "sa", "change")

    def __init__(self, sigma2, sa, change=0.0):
        self.sigma2, self.sa, self.change = sigma2, sa, change


class SweepLocal:
    """The block's local state: q(beta_j, gamma_j) of every feature, and the fit X r.

    Attributes
    ----------
    alpha, mu, s : ndarray of shape (n_features,), float64
        Inclusion probabilities, slab means and variances (in/out of the sweep).
    Xr : ndarray of shape (n_samples,), float64
        X (alpha * mu) of the centred, weighted problem, kept by the sweep.
    T : ndarray of shape (1,), float64
        The sparse kernel's v^T X r.
    sweeps : int
        Sweeps made (even: forward over the features, odd: backward).
    """

    __slots__ = ("alpha", "mu", "s", "Xr", "T", "sweeps")

    def __init__(self, alpha, mu, s, Xr, T):
        self.alpha, self.mu, self.s, self.Xr, self.T = alpha, mu, s, Xr, T
        self.sweeps = 0


class SpikeSlabModel:
    """One grid point of spike-and-slab regression for the engine (:class:`fastcavi.engine.Model`).

    Carbonetto & Stephens (2012), section 2.2 (``varbvsnorm``):

    - block: the whole centred, weighted design (:class:`Problem`); the
      sweep is coordinate ascent over the features, each update reading the
      residual the previous one left, so the model has one block;
    - local step: one sweep of the kernel (family ``"spikeslab"``) over the
      features, alternately forward and backward, updating q(beta_j, gamma_j)
      in place; its statistics are ``resid2`` = ||y - X r||^2, the sweep's
      largest change (of alpha_j, and of r_j in posterior standard
      deviations) and a copy of (alpha, mu, s);
    - global step: the estimated hyperparameters, sigma2 in closed form
      (their eq. 9) and sa at the maximum of the ELBO plus the log density of
      its scaled-inverse-chi-square prior (pure maximum likelihood with
      ``slab_prior_dof = 0``);
    - ELBO: :func:`spikeslab_elbo` of the state after the step, plus that
      log prior density when sa is estimated with ``slab_prior_dof > 0``.

    Parameters
    ----------
    kernels : namespace
        A "spikeslab" backend of :func:`fastcavi.kernels.get_backend`.
    n_threads : int
    problem : Problem
    init : tuple
        ``(alpha0, mu0, Xr0, T0)``: the initial q (shared by the grid points,
        copied per fit).
    point : tuple
        ``(sigma2, sa, logodds)``; sigma2 or sa None to estimate it.
    slab_prior_dof, slab_prior_scale : float
        The scaled-inverse-chi-square prior on an estimated sa.
    """

    static_stats = False

    def __init__(self, kernels, n_threads, problem, init, point, slab_prior_dof,
                 slab_prior_scale):
        self.kernels = kernels
        self.n_threads = n_threads
        self.problem = problem
        self.init = init
        self.sigma2_fixed, self.sa_fixed, self.logodds = point
        self.nu, self.s0 = float(slab_prior_dof), float(slab_prior_scale)
        p = problem.n_features
        self._logodds = np.full(p, self.logodds, dtype=np.float64)
        self._forward = np.arange(p, dtype=np.int64)
        self._backward = self._forward[::-1].copy()

    def initial_state(self):
        """sigma2 = ||y||^2 / n_eff (or its fixed value), sa = 1 (or its fixed value)."""
        prob = self.problem
        sigma2 = (prob.yy / max(prob.n_eff, 1.0) if self.sigma2_fixed is None
                  else float(self.sigma2_fixed))
        return SpikeSlabState(max(sigma2, _MIN_VARIANCE),
                              1.0 if self.sa_fixed is None else float(self.sa_fixed))

    def init_local(self, block, g, previous):
        """The shared initial q on the first pass (copied), then the sweep's own."""
        if previous is not None:
            return previous
        alpha0, mu0, Xr0, T0 = self.init
        s = g.sigma2 * g.sa / (g.sa * block.d + 1.0)
        return SweepLocal(alpha0.copy(), mu0.copy(), s, Xr0.copy(),
                          np.array([T0], dtype=np.float64))

    def local_step(self, block, g, local):
        """One sweep over the features under the hyperparameters ``g``.

        Parameters
        ----------
        block : Problem
        g : SpikeSlabState
        local : SweepLocal
            Updated in place.

        Returns
        -------
        stats : fastcavi.engine.Stats
        local : SweepLocal
        """
        alpha, mu, s = local.alpha, local.mu, local.s
        alpha_old = alpha.copy()
        r_old = alpha * mu
        order = self._forward if local.sweeps % 2 == 0 else self._backward
        block.sweep(self.kernels, g.sigma2, g.sa, self._logodds, alpha, mu, s, local.Xr,
                    local.T, order, self.n_threads)
        local.sweeps += 1
        r = alpha * mu
        change = max(float(np.max(np.abs(alpha - alpha_old))),
                     float(np.max(np.abs(r - r_old) / np.sqrt(s))))
        return Stats(resid2=block.resid2(local.Xr, r), change=change, alpha=alpha.copy(),
                     mu=mu.copy(), s=s.copy()), local

    def global_step(self, g, stats, scale=1.0, rho=1.0):
        """Update the estimated hyperparameters from the sweep.

        Parameters
        ----------
        g : SpikeSlabState
        stats : fastcavi.engine.Stats
        scale, rho : float
            Must be 1 (batch CAVI over the one block only).

        Returns
        -------
        SpikeSlabState

        Raises
        ------
        ValueError
            If ``scale`` or ``rho`` is not 1.
        """
        if scale != 1.0 or rho != 1.0:
            raise ValueError("spike-and-slab regression has no stochastic step: scale and rho "
                             f"must be 1, got {scale} and {rho}")
        prob = self.problem
        alpha, mu, s = stats["alpha"], stats["mu"], stats["s"]
        sigma2, sa, change = g.sigma2, g.sa, 0.0
        if self.sigma2_fixed is None:
            var_beta = alpha * (s + (1.0 - alpha) * mu * mu)
            new = ((stats["resid2"] + prob.d @ var_beta + alpha @ (s + mu * mu) / sa)
                   / (prob.n_eff + alpha.sum()))
            new = max(float(new), _MIN_VARIANCE)
            change = abs(new - sigma2) / sigma2
            sigma2 = new
        if self.sa_fixed is None:
            total = float(alpha.sum())
            nu, s0 = self.nu, self.s0
            if total + nu > 0:
                # argmax over sa of ELBO + log p(sa), p = scaled-inv-chi2(nu, s0)
                # (pure maximum likelihood when nu = 0)
                b = float(alpha @ (s + mu * mu)) / sigma2
                new = (b + nu * s0) / (total + (nu + 2.0 if nu > 0 else 0.0))
                new = max(new, _MIN_VARIANCE)
                change = max(change, abs(new - sa) / sa)
                sa = new
        return SpikeSlabState(sigma2, sa, change)

    def elbo(self, g_prev, g, stats):
        """The ELBO of the state after the step, in nats (see the class docstring)."""
        prob = self.problem
        elbo = spikeslab_elbo(stats["resid2"], prob.d, stats["alpha"], stats["mu"], stats["s"],
                              g.sigma2, g.sa, self._logodds, prob.n_eff, prob.const)
        if self.sa_fixed is None and self.nu > 0:
            elbo += log_scaled_inv_chi2(g.sa, self.nu, self.s0)
        return elbo

    @staticmethod
    def change(record):
        """The stop rule's value of a pass: the sweep's and the step's largest change."""
        return max(record.stats["change"], record.g.change)
