"""The variational Bayesian Gaussian mixture as array code: statistics, M-step,
expectations, pruning (no estimator logic).

The rest of the model's mathematics is beside this module in
:mod:`fastcavi.mixture`: :mod:`~fastcavi.mixture.priors` (the hyper-parameters
in use), :mod:`~fastcavi.mixture.bounds` (scikit-learn's lower bound and the
complete ELBO), :mod:`~fastcavi.mixture.natural` (the natural parameters of the
stochastic-VI step) and :mod:`~fastcavi.mixture.predictive` (the Student-t
posterior predictive); :mod:`~fastcavi.mixture.model` puts them together as an
engine model.

Model (Bishop 2006, *Pattern Recognition and Machine Learning* (PRML), section
10.2; Blei & Jordan 2006 for the Dirichlet-process prior)::

    pi ~ Dirichlet(alpha_0 1_K)                    ("dirichlet_distribution", 10.39)
       or pi_k = v_k prod_{j<k} (1 - v_j),  v_k ~ Beta(1, alpha_0)
                                              ("dirichlet_process", stick-breaking)
    Lambda_k ~ Wishart(W_0, nu_0),  mu_k | Lambda_k ~ N(m_0, (beta_0 Lambda_k)^-1)   (10.40)
    z_i | pi ~ Categorical(pi),  x_i | z_i = k ~ N(mu_k, Lambda_k^-1)                 (10.37-10.38)

with scikit-learn's names: ``weight_concentration_prior`` = alpha_0,
``mean_precision_prior`` = beta_0, ``mean_prior`` = m_0,
``degrees_of_freedom_prior`` = nu_0 and ``covariance_prior`` = W_0^-1.

Variational family: q(Z) q(pi or v) prod_k q(mu_k, Lambda_k) with
q(mu_k, Lambda_k) = N(m_k, (beta_k Lambda_k)^-1) Wishart(W_k, nu_k) (10.59).
The four ``covariance_type`` values are the *same generative model* (a full
precision matrix per component) with a different constraint on the variational
Wishart factors, which is what scikit-learn's updates are the exact
coordinate-ascent optimum of (with ``reg_covar=0``):

- "full": W_k free;
- "tied": one factor q(Lambda) shared by all components (the optimum of a shared
  factor is nu = nu_0 + N/K, W^-1 = W_0^-1 + (1/K) sum_k ..., scikit-learn's
  update), counted once per component in the ELBO;
- "diag": W_k diagonal (the optimum keeps the diagonal of the full update);
- "spherical": W_k = s_k I (the optimum averages that diagonal).

So :func:`fastcavi.mixture.bounds.elbo` is, for every covariance type, a lower bound on the same log
evidence log p(X) of the same model (with the priors in use). For the
Dirichlet process the truncation is on q(Z) only (q(z_i = k) = 0 for k > K and
q = prior for the sticks and atoms beyond K, whose KL terms vanish; Kurihara,
Welling & Vlassis 2007, "Accelerated variational Dirichlet process mixtures",
NIPS): q(v_K) stays a free Beta, as in scikit-learn, and the bound is a bound
on the evidence of the infinite mixture, nested across n_components.

Parameters are kept in float64 in a dict ``p`` with keys ``wc`` (weight
concentration: an (a, b) tuple of (K,) arrays for the stick-breaking prior, a
(K,) array for the Dirichlet), ``beta`` (K,), ``m`` (K, d), ``nu`` ((K,), or a
float for "tied"), ``cov`` (scikit-learn's ``covariances_``: W_k^-1 / nu_k) and
``pc`` (``precisions_cholesky_``: upper-triangular U_k with U_k U_k^T = nu_k W_k
= E[Lambda_k]).

Statistics are (nk, xbar, S): nk (K,) the weighted counts sum_i w_i r_ik
(10.51), xbar (K, d) the weighted means (10.52) and S the weighted scatter
about xbar divided by nk + 10 eps (10.53, without ``reg_covar``), in
scikit-learn's covariance layout ("tied": the pooled scatter divided by
sum_k (nk + 10 eps); "spherical": averaged over the features).
"""

import math

import numpy as np
from scipy import linalg
from scipy.special import digamma

__all__ = [
    "COV_TYPES",
    "PRIOR_TYPES",
    "LOG_2PI",
    "Scatter",
    "stats_from_resp",
    "stats_from_kernel",
    "tied_scatter",
    "m_step",
    "precision_cholesky",
    "expected_log_weights",
    "expected_weights",
    "mixing_weights",
    "log_det_chol",
    "expected_log_det",
    "log_bias",
    "prune",
]

COV_TYPES = ("full", "tied", "diag", "spherical")
PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
LOG_2PI = math.log(2.0 * math.pi)

_PRECISION_ERROR = (
    "Fitting the mixture model failed because some components have ill-defined "
    "empirical covariance (for instance caused by singleton or collapsed samples). "
    "Try to decrease the number of components, increase reg_covar, or scale the input data."
)


# ------------------------------------------------------------------------ statistics
def tied_scatter(X, w):
    """Weighted mean and scatter of X about it (for the "tied" statistics).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    w : ndarray of shape (n,)

    Returns
    -------
    xmean : ndarray of shape (d,), float64
    C : ndarray of shape (d, d), float64
        ``sum_i w_i (x_i - xmean)(x_i - xmean)^T``.
    """
    X64 = np.asarray(X, dtype=np.float64)
    w64 = np.asarray(w, dtype=np.float64)
    sw = float(w64.sum())
    xmean = (w64 @ X64) / sw if sw > 0 else np.zeros(X.shape[1])
    Xc = X64 - xmean
    return xmean, (Xc.T * w64) @ Xc


class Scatter:
    """Weighted count, mean and scatter of a set of samples, as a mergeable statistic.

    The "tied" statistics need the data's scatter about its weighted mean
    (:func:`tied_scatter`). Across blocks it is not a plain sum but a merge:
    ``a + b`` is the summary of the union, exact to rounding (the pairwise
    update of Chan, Golub & LeVeque 1979, "Updating formulae and a pairwise
    algorithm for computing sample variances"), and ``a * c`` the summary of
    the samples with their weights multiplied by ``c`` (the mean unchanged).
    One block's summary is exactly :func:`tied_scatter` of it, so a fit on one
    block is bit-identical to one that computes the scatter directly.

    Parameters
    ----------
    n : float
        Sum of the weights.
    mean : ndarray of shape (d,), float64
        Weighted mean (zeros when ``n == 0``).
    C : ndarray of shape (d, d), float64
        ``sum_i w_i (x_i - mean)(x_i - mean)^T``.
    """

    __slots__ = ("n", "mean", "C")

    def __init__(self, n, mean, C):
        self.n, self.mean, self.C = float(n), mean, C

    @classmethod
    def of(cls, X, w):
        """The summary of samples ``X`` (n, d) with weights ``w`` (n,)."""
        mean, C = tied_scatter(X, w)
        return cls(np.sum(w, dtype=np.float64), mean, C)

    def __add__(self, other):
        if not isinstance(other, Scatter):
            return NotImplemented
        if other.n == 0.0:
            return self
        if self.n == 0.0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        return Scatter(n, self.mean + delta * (other.n / n),
                       self.C + other.C + np.outer(delta, delta) * (self.n * other.n / n))

    def __mul__(self, c):
        return Scatter(self.n * c, self.mean, self.C * c)

    __rmul__ = __mul__

    def __array__(self, dtype=None, copy=None):
        """(n, mean, C) flattened, so that :func:`numpy.allclose` compares summaries."""
        return np.concatenate(([self.n], self.mean, np.ravel(self.C))).astype(dtype or np.float64)

    def __repr__(self):
        return f"Scatter(n={self.n!r}, d={self.mean.shape[0]})"


def _pooled(C, xmean, nke, xbar):
    """Pooled within-component scatter C - sum_k N_k (xbar_k - xmean)(xbar_k - xmean)^T.

    Equal to scikit-learn's sum_i w_i x_i x_i^T - sum_k N_k xbar_k xbar_k^T when
    every row of the responsibilities sums to one, without its cancellation.
    """
    dev = xbar - xmean
    return C - (dev.T * nke) @ dev


def stats_from_resp(X, w, resp, cov_type, eps):
    """Statistics (nk, xbar, S) of explicit responsibilities (initialisation).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    w : ndarray of shape (n,)
        Sample weights.
    resp : ndarray of shape (n, K)
        Responsibilities r_ik (rows sum to 1).
    cov_type : str
    eps : float
        Machine epsilon of the data dtype (scikit-learn adds 10 eps to nk).

    Returns
    -------
    nk : ndarray of shape (K,), float64
        sum_i w_i r_ik (without the 10 eps).
    xbar : ndarray of shape (K, d), float64
        sum_i w_i r_ik x_i / (nk + 10 eps).
    S : ndarray, float64
        Scatter about xbar divided by nk + 10 eps (layout of ``cov_type``).
    """
    X64 = np.asarray(X, dtype=np.float64)
    w64 = np.asarray(w, dtype=np.float64)
    wr = np.asarray(resp, dtype=np.float64) * w64[:, None]
    nk = wr.sum(axis=0)
    nke = nk + 10.0 * eps
    xbar = (wr.T @ X64) / nke[:, None]
    K, d = xbar.shape
    if cov_type == "tied":
        xmean, C = tied_scatter(X64, w64)
        pooled = _pooled(C, xmean, nke, xbar)
        rows = np.asarray(resp, dtype=np.float64).sum(axis=1)
        if not np.allclose(rows, 1.0, rtol=0.0, atol=1e-6):
            # The one-hot initial responsibilities of "k-means++" and "random_from_data"
            # cover n_components rows only. scikit-learn's tied formula uses X^T X of all
            # samples regardless; its exact value, sum_i w_i x_i x_i^T - sum_k N_k xbar_k
            # xbar_k^T, is reproduced here (centred) so the iterates agree.
            sw, ntot = float(w64.sum()), float(nke.sum())
            u = nke @ xbar - ntot * xmean
            pooled = (pooled + (sw - ntot) * np.outer(xmean, xmean) - np.outer(xmean, u)
                      - np.outer(u, xmean))
        return nk, xbar, pooled / nke.sum()
    if cov_type == "full":
        S = np.empty((K, d, d))
        for k in range(K):
            diff = X64 - xbar[k]
            S[k] = (wr[:, k] * diff.T) @ diff / nke[k]
        return nk, xbar, S
    S = np.empty((K, d))
    for k in range(K):
        diff = X64 - xbar[k]
        S[k] = wr[:, k] @ (diff * diff) / nke[k]
    if cov_type == "spherical":
        S = S.mean(axis=1)
    return nk, xbar, S


def stats_from_kernel(nk, sx, sxx, means, cov_type, eps, tied=None):
    """Recentre the kernel's statistics about the current means (see the kernel doc).

    Parameters
    ----------
    nk : ndarray of shape (K,)
    sx : ndarray of shape (K, d)
        sum_i w_i r_ik (x_i - m_k).
    sxx : ndarray
        The kernel's second-moment output about m_k (unused for "tied").
    means : ndarray of shape (K, d)
        The m_k the kernel used (float64 values of what it was given).
    cov_type : str
    eps : float
        Machine epsilon of the data dtype.
    tied : tuple (xmean, C) or None
        :func:`tied_scatter` of the data, for "tied".

    Returns
    -------
    nk, xbar, S
        As :func:`stats_from_resp`. With delta_k = xbar_k - m_k the scatter is
        sxx_k - delta_k sx_k^T - sx_k delta_k^T + nk delta_k delta_k^T, exact
        for any delta_k, with no raw second moment formed.
    """
    nk = np.array(nk, dtype=np.float64)
    nke = nk + 10.0 * eps
    xbar = (nk[:, None] * means + sx) / nke[:, None]
    delta = xbar - means
    if cov_type == "tied":
        xmean, C = tied
        return nk, xbar, _pooled(C, xmean, nke, xbar) / nke.sum()
    if cov_type == "full":
        cross = np.einsum("ki,kj->kij", delta, sx)
        S = sxx - cross - cross.transpose(0, 2, 1) + nk[:, None, None] * np.einsum(
            "ki,kj->kij", delta, delta)
        S = 0.5 * (S + S.transpose(0, 2, 1))
        return nk, xbar, S / nke[:, None, None]
    if cov_type == "diag":
        S = sxx - 2.0 * delta * sx + nk[:, None] * delta * delta
        return nk, xbar, S / nke[:, None]
    d = means.shape[1]
    S = sxx - 2.0 * np.einsum("kj,kj->k", delta, sx) + nk * np.einsum("kj,kj->k", delta, delta)
    return nk, xbar, S / (d * nke)


# ---------------------------------------------------------------------------- M-step
def precision_cholesky(cov, cov_type):
    """scikit-learn's ``precisions_cholesky_`` of covariances (upper U, U U^T = cov^-1).

    Parameters
    ----------
    cov : ndarray
        (K, d, d) full, (d, d) tied, (K, d) diag, (K,) spherical.
    cov_type : str

    Returns
    -------
    pc : ndarray, float64, same shape as ``cov``.

    Raises
    ------
    ValueError
        If a covariance is not positive definite (scikit-learn's message).
    """
    if cov_type in ("full", "tied"):
        mats = cov[None] if cov_type == "tied" else cov
        d = mats.shape[-1]
        out = np.empty_like(mats)
        eye = np.eye(d)
        for k in range(mats.shape[0]):
            if not np.all(np.isfinite(mats[k])):
                raise ValueError(_PRECISION_ERROR)
            try:
                L = linalg.cholesky(mats[k], lower=True)
            except linalg.LinAlgError:
                raise ValueError(_PRECISION_ERROR) from None
            out[k] = linalg.solve_triangular(L, eye, lower=True).T
        return out[0] if cov_type == "tied" else out
    if not np.all(np.isfinite(cov)) or np.any(cov <= 0.0):
        raise ValueError(_PRECISION_ERROR)
    return 1.0 / np.sqrt(cov)


def _weights_update(nke, prior_type, alpha0):
    if prior_type == "dirichlet_process":
        # Blei & Jordan (2006), eq. 18: gamma_k1 = 1 + N_k, gamma_k2 = alpha + sum_{j>k} N_j
        tail = np.concatenate((np.cumsum(nke[::-1])[-2::-1], [0.0]))
        return (1.0 + nke, alpha0 + tail)
    return alpha0 + nke  # PRML 10.58


def m_step(nk, xbar, S, priors, cov_type, prior_type, reg_covar, eps):
    """Optimal q(pi), q(mu, Lambda) given the statistics (scikit-learn's M-step).

    PRML eqs. 10.58 and 10.60-10.63 (with nu_k = nu_0 + N_k, the book's typo
    corrected), the stick-breaking update of Blei & Jordan (2006, eq. 18), and
    scikit-learn's conventions: N_k + 10 eps, ``reg_covar`` added to S_k, the
    constrained "tied"/"diag"/"spherical" optima of the module docstring.

    Parameters
    ----------
    nk, xbar, S
        Statistics (see the module docstring).
    priors : dict
        From :func:`resolve_priors`.
    cov_type, prior_type : str
    reg_covar : float
        Added to the diagonal of S_k (scikit-learn). Non-zero values make the
        Wishart update deviate from the exact coordinate-ascent optimum.
    eps : float
        Machine epsilon of the data dtype.

    Returns
    -------
    p : dict of float64 parameters (see the module docstring).

    Raises
    ------
    ValueError
        If a resulting covariance is not positive definite.
    """
    nke = np.asarray(nk, dtype=np.float64) + 10.0 * eps
    K, d = xbar.shape
    a0, b0, m0, nu0, cov0 = (priors[k] for k in ("alpha0", "beta0", "m0", "nu0", "cov0"))
    wc = _weights_update(nke, prior_type, a0)
    beta = b0 + nke  # 10.60
    m = (b0 * m0 + nke[:, None] * xbar) / beta[:, None]  # 10.61
    diff = xbar - m0
    if cov_type == "full":
        nu = nu0 + nke  # 10.63
        cov = (cov0 + nke[:, None, None] * (S + reg_covar * np.eye(d))
               + (nke * b0 / beta)[:, None, None] * np.einsum("ki,kj->kij", diff, diff))  # 10.62
        cov /= nu[:, None, None]
    elif cov_type == "tied":
        ntot = nke.sum() / K
        nu = nu0 + ntot
        cov = (cov0 + (S + reg_covar * np.eye(d)) * ntot
               + (b0 / K) * ((nke / beta) * diff.T) @ diff) / nu
    elif cov_type == "diag":
        nu = nu0 + nke
        cov = cov0 + nke[:, None] * (S + reg_covar + (b0 / beta)[:, None] * diff * diff)
        cov /= nu[:, None]
    else:
        nu = nu0 + nke
        cov = cov0 + nke * (S + reg_covar + b0 / beta * np.mean(diff * diff, axis=1))
        cov /= nu
    return {"wc": wc, "beta": beta, "m": m, "nu": nu, "cov": cov,
            "pc": precision_cholesky(cov, cov_type)}


# ----------------------------------------------------------------------- expectations
def expected_log_weights(wc, prior_type):
    """E_q[log pi_k] (PRML 10.66; Blei & Jordan 2006, eq. 16 for the sticks).

    Returns
    -------
    elogpi : ndarray of shape (K,), float64
    """
    if prior_type == "dirichlet_process":
        a, b = wc
        dsum = digamma(a + b)
        elogv = digamma(a) - dsum
        elog1mv = digamma(b) - dsum
        return elogv + np.concatenate(([0.0], np.cumsum(elog1mv)[:-1]))
    return digamma(wc) - digamma(np.sum(wc))


def expected_weights(wc, prior_type):
    """E_q[pi_k]; for the stick-breaking prior they sum to less than 1 (the rest
    is the mass of the components beyond the truncation).

    Returns
    -------
    epi : ndarray of shape (K,), float64
    """
    if prior_type == "dirichlet_process":
        a, b = wc
        ev = a / (a + b)
        return ev * np.concatenate(([1.0], np.cumprod(b / (a + b))[:-1]))
    return wc / np.sum(wc)


def mixing_weights(wc, prior_type):
    """scikit-learn's ``weights_``: E_q[pi_k] normalised to sum to one."""
    e = expected_weights(wc, prior_type)
    return e / e.sum()


def log_det_chol(pc, cov_type, d):
    """log |U_k| of the ``precisions_cholesky_`` layout: (K,) (a float for "tied")."""
    if cov_type == "full":
        return np.log(np.diagonal(pc, axis1=1, axis2=2)).sum(axis=1)
    if cov_type == "tied":
        return float(np.log(np.diag(pc)).sum())
    if cov_type == "diag":
        return np.log(pc).sum(axis=1)
    return d * np.log(pc)


def _sum_digamma(nu, d):
    """sum_{j=0}^{d-1} psi((nu - j)/2) for scalar or (K,) nu."""
    nu = np.asarray(nu, dtype=np.float64)
    return digamma(0.5 * (nu[..., None] - np.arange(d))).sum(axis=-1)


def expected_log_det(p, cov_type, d):
    """E_q[log |Lambda_k|] (PRML 10.65), float64 of shape (K,) (a float for "tied")."""
    nu = p["nu"]
    log_det_W = 2.0 * log_det_chol(p["pc"], cov_type, d) - d * np.log(nu)
    return _sum_digamma(nu, d) + d * math.log(2.0) + log_det_W


def log_bias(p, cov_type, prior_type, d):
    """The kernel's per-component constant (PRML 10.46 with 10.64-10.66).

    E[log pi_k] + 1/2 E[log|Lambda_k|] - d/(2 beta_k) - d/2 log(2 pi): the
    kernel adds -1/2 ||(x - m_k)^T U_k||^2 = -nu_k/2 (x - m_k)^T W_k (x - m_k).

    Returns
    -------
    bias : ndarray of shape (K,), float64
    """
    K = p["m"].shape[0]
    elog_det = np.broadcast_to(expected_log_det(p, cov_type, d), (K,))
    return (expected_log_weights(p["wc"], prior_type) + 0.5 * elog_det
            - 0.5 * d / p["beta"] - 0.5 * d * LOG_2PI)


# --------------------------------------------------------------------------- pruning
def prune(p, keep, cov_type, prior_type):
    """Restrict the parameters to the components ``keep`` (a boolean mask).

    Returns
    -------
    p : dict
        The parameters of the retained components (the stick-breaking sticks
        keep their order; "tied" keeps its shared factor).
    """
    out = dict(p)
    if prior_type == "dirichlet_process":
        out["wc"] = (p["wc"][0][keep], p["wc"][1][keep])
    else:
        out["wc"] = p["wc"][keep]
    out["beta"] = p["beta"][keep]
    out["m"] = p["m"][keep]
    if cov_type != "tied":
        out["nu"] = p["nu"][keep]
        out["cov"] = p["cov"][keep]
        out["pc"] = p["pc"][keep]
    return out
