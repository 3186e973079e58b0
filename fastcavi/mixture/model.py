"""The variational Gaussian mixture as an engine model (:class:`fastcavi.engine.Model`).

:class:`MixtureModel` knows arrays and kernels, not scikit-learn: the estimator
(:mod:`fastcavi.mixture.estimator`) validates the data, draws the initial
responsibilities, builds a model and runs it with the engine's drivers
(:func:`~fastcavi.engine.run_cavi` for ``fit``, :func:`~fastcavi.engine.run_svi`
for ``partial_fit``).

- global state ``g``: the parameter dict ``p`` of :mod:`fastcavi.mixture.steps`
  (q(pi), q(mu, Lambda)), never written in place;
- block: a :class:`Block` of samples and weights;
- local step: one call of the fused E-step kernel (family ``"gmm"``) over the
  block; the statistics it returns are taken about the current means m_k of
  ``g``, so they add exactly over blocks given the same ``g``;
- global step: the M-step (rho = 1) or the Robbins-Monro step on the natural
  parameters (rho < 1, :mod:`fastcavi.mixture.natural`);
- ELBO: the complete one (:func:`fastcavi.mixture.bounds.elbo`); scikit-learn's
  lower bound, which its stopping rule compares, is :meth:`MixtureModel.lower_bound`.
"""

import numpy as np

from ..engine import Stats
from . import bounds, natural, predictive, steps

__all__ = ["Block", "MixtureModel", "Pruning", "check_finite"]


def check_finite(value, what, backend):
    """Raise FloatingPointError naming ``what`` unless every entry of ``value`` is finite.

    Parameters
    ----------
    value : float or array-like
    what : str
        The quantity, for the message (e.g. "the E-step kernel's N_k").
    backend : str
        Name of the kernel backend, for the message.

    Raises
    ------
    FloatingPointError
    """
    if not np.all(np.isfinite(value)):
        raise FloatingPointError(
            f"BayesianGaussianMixture: {what} became NaN or infinite (kernel backend "
            f"{backend!r}); the fit is abandoned and the estimator keeps its previous state")


class Block:
    """A block of samples: what the mixture's local step reads.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    w : ndarray of shape (n,), dtype of X, C-contiguous
        Sample weights (ones for an unweighted fit).
    """

    __slots__ = ("X", "w", "_scatter")

    def __init__(self, X, w):
        self.X, self.w, self._scatter = X, w, None

    def scatter(self):
        """The block's :class:`~fastcavi.mixture.steps.Scatter` (the "tied" statistics),
        computed once: it does not depend on the global state."""
        if self._scatter is None:
            self._scatter = steps.Scatter.of(self.X, self.w)
        return self._scatter


class MixtureModel:
    """The variational Bayesian Gaussian mixture's steps for the engine's drivers.

    Parameters
    ----------
    priors : dict
        From :func:`fastcavi.mixture.priors.resolve_priors`.
    cov_type : {"full", "tied", "diag", "spherical"}
    prior_type : {"dirichlet_process", "dirichlet_distribution"}
    reg_covar : float
        Added to the diagonal of the M-step's scatter (scikit-learn).
    dtype : numpy dtype
        Of the data: the kernel gets the means and precision factors in it, and
        scikit-learn's ``10 eps`` on N_k is its machine epsilon.
    kernels : namespace
        A backend of the ``"gmm"`` family (:func:`fastcavi.kernels.get_backend`).
    n_threads : int, default=1
        Kernel threads (the results do not depend on it).

    Notes
    -----
    Statistics of a block (:meth:`local_step`), all sums over its samples:
    ``nk`` (K,) sum_i w_i r_ik; ``sx`` (K, d) sum_i w_i r_ik (x_i - m_k);
    ``sxx`` sum_i w_i r_ik (x_i - m_k)(x_i - m_k)^T in the layout of the
    covariance type (not for "tied"); ``scatter`` for "tied", the data's
    :class:`~fastcavi.mixture.steps.Scatter`; ``sum_log_norm`` sum_i w_i log
    sum_k rho_ik; ``sum_r_log_r`` sum_i w_i sum_k r_ik log r_ik. They are
    shifted by the means m_k of the ``g`` they were computed under, the same
    for every block, so adding blocks is exact; :meth:`statistics` turns the
    sum into the M-step's (N_k, xbar_k, S_k).
    """

    static_stats = False

    def __init__(self, priors, cov_type, prior_type, reg_covar, dtype, kernels, n_threads=1):
        self.priors = priors
        self.cov_type = cov_type
        self.prior_type = prior_type
        self.reg_covar = reg_covar
        self.dtype = np.dtype(dtype)
        self.eps = float(np.finfo(self.dtype).eps)
        self.kernels = kernels
        self.n_threads = int(n_threads)

    # ------------------------------------------------------------- the kernel
    def kernel_pass(self, X, w, g, compute_stats=True, want_resp=False, want_norm=False):
        """One call of the fused E-step kernel over samples ``X`` with weights ``w``.

        Parameters
        ----------
        X : ndarray of shape (n, d), the model's dtype, C-contiguous
        w : ndarray of shape (n,), same dtype
        g : dict
            Global state.
        compute_stats : bool
            Compute the statistics (checked finite, else FloatingPointError).
        want_resp, want_norm : bool
            Return the log responsibilities / log normalisers.

        Returns
        -------
        nk, sx, sxx : ndarray or None
            The statistics (see the class notes; ``sxx`` empty for "tied"),
            None without ``compute_stats``.
        sum_log_norm, sum_r_log_r : float
        log_resp : ndarray of shape (n, K) or None
        log_norm : ndarray of shape (n,) or None
        """
        ct = self.cov_type
        n, d = X.shape
        dtype = X.dtype
        K = g["m"].shape[0]
        means = np.ascontiguousarray(g["m"], dtype=dtype)
        pc = np.ascontiguousarray(g["pc"], dtype=dtype)
        bias = np.ascontiguousarray(steps.log_bias(g, ct, self.prior_type, d), dtype=np.float64)
        if compute_stats:
            nk = np.empty(K)
            sx = np.empty((K, d))
            sxx = np.empty({"full": (K, d, d), "diag": (K, d), "spherical": (K,), "tied": (0,)}[ct])
        else:
            nk, sx, sxx = np.empty(0), np.empty((0, d)), np.empty(0)
        log_resp = np.empty((n if want_resp else 0, K), dtype=dtype)
        log_norm = np.empty(n if want_norm else 0, dtype=dtype)
        s_norm, s_rlogr = self.kernels.gmm_e_step(X, w, means, pc, bias, ct, nk, sx, sxx, log_resp,
                                                  log_norm, bool(compute_stats), self.n_threads)
        if compute_stats:
            for what, value in (("N_k", nk), ("weighted sums of x", sx),
                                ("weighted second moments", sxx), ("log normaliser sum", s_norm),
                                ("entropy sum r log r", s_rlogr)):
                check_finite(value, f"the E-step kernel's {what}", self.kernels.name)
        else:
            nk = sx = sxx = None
        return (nk, sx, sxx, float(s_norm), float(s_rlogr), log_resp if want_resp else None,
                log_norm if want_norm else None)

    def recentred(self, nk, sx, sxx, g, tied=None):
        """The M-step's statistics (N_k, xbar_k, S_k) from the kernel's, which are
        about the means of ``g`` as the kernel saw them (in the data dtype).

        ``tied`` is (mean, scatter) of the data (:func:`~fastcavi.mixture.steps.tied_scatter`)
        for "tied". See :func:`fastcavi.mixture.steps.stats_from_kernel`.
        """
        means = np.ascontiguousarray(g["m"], dtype=self.dtype).astype(np.float64)
        return steps.stats_from_kernel(nk, sx, sxx, means, self.cov_type, self.eps, tied)

    def statistics(self, g, stats):
        """(N_k, xbar_k, S_k) of summed block statistics computed under ``g``."""
        if self.cov_type == "tied":
            sc = stats["scatter"]
            return self.recentred(stats["nk"], stats["sx"], None, g, (sc.mean, sc.C))
        return self.recentred(stats["nk"], stats["sx"], stats["sxx"], g)

    # -------------------------------------------------------- engine protocol
    def init_local(self, block, g, previous):
        """No local state is carried: the responsibilities are recomputed each pass."""
        return None

    def n_items(self, block):
        """Samples in the block (a minibatch's statistics are scaled by total / n)."""
        return block.X.shape[0]

    def local_step(self, block, g, local):
        """The block's statistics under ``g`` (one kernel call; see the class notes).

        Returns
        -------
        stats : Stats
        local : None

        Raises
        ------
        FloatingPointError
            A statistic from the kernel is NaN or infinite.
        """
        nk, sx, sxx, s_norm, s_rlogr, _, _ = self.kernel_pass(block.X, block.w, g)
        parts = {"nk": nk, "sx": sx, "sum_log_norm": s_norm, "sum_r_log_r": s_rlogr}
        if self.cov_type == "tied":
            parts["scatter"] = block.scatter()
        else:
            parts["sxx"] = sxx
        return Stats(**parts), None

    def m_step(self, nk, xbar, S):
        """Optimal q(pi), q(mu, Lambda) given (N_k, xbar_k, S_k)
        (:func:`fastcavi.mixture.steps.m_step`)."""
        return steps.m_step(nk, xbar, S, self.priors, self.cov_type, self.prior_type,
                            self.reg_covar, self.eps)

    def init_from_resp(self, block, resp, scale=1.0):
        """Initial global state: the M-step on explicit responsibilities (N_k scaled).

        Parameters
        ----------
        block : Block
        resp : ndarray of shape (n, K)
            Initial responsibilities (rows sum to one, or one-hot on K rows).
        scale : float, default=1.0
            N_k is multiplied by it (a minibatch standing for ``scale`` times
            as many samples).

        Returns
        -------
        g : dict
        """
        nk, xbar, S = steps.stats_from_resp(block.X, block.w, resp, self.cov_type, self.eps)
        return self.m_step(nk * scale, xbar, S)

    def global_step(self, g, stats, scale=1.0, rho=1.0):
        """The M-step from the statistics (N_k scaled by ``scale``), blended into ``g``
        on the natural parameters with step ``rho`` when ``rho < 1``.

        With ``rho = 1`` the result is the M-step's own (no round trip through the
        natural parameters). The statistics must have been computed under ``g``.

        Raises
        ------
        ValueError
            A covariance is not positive definite.
        """
        nk, xbar, S = self.statistics(g, stats)
        target = self.m_step(nk * scale, xbar, S)
        if rho == 1.0:
            return target
        ct, pri = self.cov_type, self.priors
        eta = natural.blend_natural(natural.to_natural(g, pri, ct),
                                    natural.to_natural(target, pri, ct), rho)
        return natural.from_natural(eta, pri, ct)

    def elbo(self, g_prev, g, stats, scale=1.0):
        """The complete ELBO (nats) of q(Z) from ``stats`` (computed under ``g_prev``) and
        q(pi), q(mu, Lambda) = ``g``; with ``scale``, a minibatch estimate."""
        nk, xbar, S = self.statistics(g_prev, stats)
        return bounds.elbo(nk * scale, xbar, S, stats["sum_r_log_r"] * scale, g, self.priors,
                           self.cov_type, self.prior_type, self.eps)

    def lower_bound(self, g, stats, scale=1.0):
        """scikit-learn's ``lower_bound_`` (constants dropped) of ``g`` and the entropy
        term of ``stats``, the value its stopping rule compares."""
        return bounds.sklearn_lower_bound(stats["sum_r_log_r"] * scale, g, self.cov_type,
                                          self.prior_type, g["m"].shape[1])

    # ------------------------------------------------------------ the rest
    def prune(self, g, keep):
        """``g`` restricted to the components ``keep`` (a boolean mask)."""
        return steps.prune(g, keep, self.cov_type, self.prior_type)

    def log_resp_norm(self, X, g, want_resp, want_norm):
        """Log responsibilities (n, K) and log normalisers (n,) of X (None unless wanted)."""
        out = self.kernel_pass(X, np.ones(X.shape[0], dtype=X.dtype), g, False, want_resp,
                               want_norm)
        return out[5], out[6]

    def predictive_log_density(self, X, g):
        """Log posterior-predictive density of each row of X, float64 (n,) (PRML 10.81).

        The squared Mahalanobis distances come from the kernel, one component at a
        time (with one component and log-bias 0 its log normaliser is -maha / 2).
        """
        n, d = X.shape
        log_w, means, chol, dof, log_const, layout = predictive.student_t_params(
            g, self.priors, self.cov_type, self.prior_type, d)
        ones = np.ones(n, dtype=X.dtype)
        maha = np.empty((n, means.shape[0]))
        zero = np.zeros(1)
        log_norm = np.empty(n, dtype=X.dtype)
        for k in range(means.shape[0]):
            self.kernels.gmm_e_step(
                X, ones, np.ascontiguousarray(means[k:k + 1], dtype=X.dtype),
                np.ascontiguousarray(chol[k:k + 1], dtype=X.dtype), zero, layout,
                np.empty(0), np.empty((0, d)), np.empty(0), np.empty((0, 1), dtype=X.dtype),
                log_norm, False, self.n_threads)
            maha[:, k] = -2.0 * log_norm
        return predictive.student_t_log_density(log_w, dof, log_const, maha, d)


class Pruning:
    """The driver's post-step that removes the components with N_k below ``tol``.

    At least one component is kept (the largest). Called by
    :func:`~fastcavi.engine.run_cavi` after every pass but the last; a pass that
    pruned never converges.

    Parameters
    ----------
    model : MixtureModel
    tol : float
    active : ndarray of int
        Indices (among the initial components) of the components of the state
        the fit starts from.

    Attributes
    ----------
    active : ndarray of int
        The indices of the components left.
    """

    def __init__(self, model, tol, active):
        self.model, self.tol, self.active = model, tol, active

    def __call__(self, g, stats):
        nk = stats["nk"]
        keep = nk >= self.tol
        if not keep.any():
            keep[np.argmax(nk)] = True
        if keep.all():
            return g, False
        self.active = self.active[keep]
        return self.model.prune(g, keep), True
