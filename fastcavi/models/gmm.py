"""The variational Bayesian Gaussian mixture as array code (no estimator logic).

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

So :func:`elbo` is, for every covariance type, a lower bound on the same log
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
from scipy.special import betaln, digamma, gammaln, logsumexp

__all__ = [
    "COV_TYPES",
    "PRIOR_TYPES",
    "resolve_priors",
    "stats_from_resp",
    "stats_from_kernel",
    "tied_scatter",
    "m_step",
    "precision_cholesky",
    "expected_log_weights",
    "expected_weights",
    "mixing_weights",
    "log_bias",
    "sklearn_lower_bound",
    "elbo",
    "elbo_terms",
    "to_natural",
    "from_natural",
    "blend_natural",
    "expected_log_det",
    "student_t_params",
    "student_t_log_density",
    "prune",
]

COV_TYPES = ("full", "tied", "diag", "spherical")
PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
_LOG_2PI = math.log(2.0 * math.pi)

_PRECISION_ERROR = (
    "Fitting the mixture model failed because some components have ill-defined "
    "empirical covariance (for instance caused by singleton or collapsed samples). "
    "Try to decrease the number of components, increase reg_covar, or scale the input data."
)


# ----------------------------------------------------------------------------- priors
def resolve_priors(X, w, cov_type, n_components, weight_concentration_prior=None,
                   mean_precision_prior=None, mean_prior=None, degrees_of_freedom_prior=None,
                   covariance_prior=None):
    """The prior hyper-parameters in use, scikit-learn's defaults and checks.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64
        Training data (the defaults of m_0 and W_0^-1 come from it).
    w : ndarray of shape (n,) or None
        Sample weights; None is the unweighted case, which reproduces
        scikit-learn's ``X.mean(0)`` and ``np.cov(X.T)`` exactly. With weights
        the mean is weighted and the covariance uses the frequency-weight
        correction ``sum(w) - 1`` (repeating rows gives the same prior).
    cov_type : {"full", "tied", "diag", "spherical"}
    n_components : int
    weight_concentration_prior, mean_precision_prior, mean_prior,
    degrees_of_freedom_prior, covariance_prior
        The estimator's parameters (None: scikit-learn's default: 1/K, 1,
        the data mean, n_features, the data covariance in the layout of
        ``cov_type``).

    Returns
    -------
    priors : dict
        ``alpha0`` (float), ``beta0`` (float), ``m0`` ((d,) float64), ``nu0``
        (float), ``cov0`` (W_0^-1: (d, d) for full/tied, (d,) diag, float
        spherical; float64).

    Raises
    ------
    ValueError
        Wrong shape of ``mean_prior`` or ``covariance_prior``, a covariance
        prior that is not symmetric positive definite (or not positive),
        ``degrees_of_freedom_prior <= n_features - 1``, non-finite values, or
        (weighted, default covariance prior) ``sum(sample_weight) <= 1``.
    """
    n, d = X.shape
    X64 = np.asarray(X, dtype=np.float64)
    alpha0 = 1.0 / n_components if weight_concentration_prior is None else float(
        weight_concentration_prior)
    beta0 = 1.0 if mean_precision_prior is None else float(mean_precision_prior)

    if mean_prior is None:
        if w is None:
            m0 = np.asarray(X.mean(axis=0), dtype=np.float64)
        else:
            m0 = (w @ X64) / float(w.sum())
    else:
        m0 = np.asarray(mean_prior, dtype=np.float64)
        if m0.shape != (d,):
            raise ValueError(
                f"The parameter 'means' should have the shape of {(d,)}, but got {m0.shape}"
            )
        if not np.all(np.isfinite(m0)):
            raise ValueError("mean_prior must contain only finite values")

    if degrees_of_freedom_prior is None:
        nu0 = float(d)
    elif degrees_of_freedom_prior > d - 1.0:
        nu0 = float(degrees_of_freedom_prior)
    else:
        raise ValueError(
            "The parameter 'degrees_of_freedom_prior' should be greater than %d, but got %.3f."
            % (d - 1, degrees_of_freedom_prior)
        )

    if covariance_prior is None:
        if w is None:
            if cov_type in ("full", "tied"):
                full = var = np.atleast_2d(np.cov(X64.T))
            else:
                full = var = np.var(X64, axis=0, ddof=1)
        else:
            sw = float(w.sum())
            if sw <= 1.0:
                raise ValueError(
                    "The default covariance_prior (the weighted data covariance, with the "
                    "frequency-weight correction sum(sample_weight) - 1) needs "
                    f"sum(sample_weight) > 1; got {sw!r}. Pass covariance_prior explicitly."
                )
            Xc = X64 - m0 if mean_prior is None else X64 - (w @ X64) / sw
            full = (Xc.T * w) @ Xc / (sw - 1.0)
            var = np.diag(full).copy()
        if cov_type in ("full", "tied"):
            cov0 = full
        elif cov_type == "diag":
            cov0 = var
        else:
            cov0 = float(var.mean())
    elif cov_type in ("full", "tied"):
        cov0 = np.asarray(covariance_prior, dtype=np.float64)
        if cov0.shape != (d, d):
            raise ValueError(
                f"The parameter '{cov_type} covariance_prior' should have the shape of "
                f"{(d, d)}, but got {cov0.shape}"
            )
        if not (np.all(np.isfinite(cov0)) and np.allclose(cov0, cov0.T)
                and np.all(np.linalg.eigvalsh(cov0) > 0.0)):
            raise ValueError(
                f"'{cov_type} covariance_prior' should be symmetric, positive-definite"
            )
    elif cov_type == "diag":
        cov0 = np.asarray(covariance_prior, dtype=np.float64)
        if cov0.shape != (d,):
            raise ValueError(
                f"The parameter 'diag covariance_prior' should have the shape of {(d,)}, "
                f"but got {cov0.shape}"
            )
        if not np.all(np.isfinite(cov0)) or np.any(cov0 <= 0.0):
            raise ValueError("'diag covariance_prior' should be positive")
    else:
        cov0 = np.asarray(covariance_prior, dtype=np.float64)
        if cov0.ndim != 0 or not np.isfinite(cov0) or cov0 <= 0:
            raise ValueError(
                "'spherical covariance_prior' should be a positive float; got "
                f"{covariance_prior!r}"
            )
        cov0 = float(cov0)
    return {"alpha0": alpha0, "beta0": beta0, "m0": m0, "nu0": nu0, "cov0": cov0}


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


def _log_det_chol(pc, cov_type, d):
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


def _log_multigamma(a, d):
    """log Gamma_d(a) for scalar or array a."""
    a = np.asarray(a, dtype=np.float64)
    return (0.25 * d * (d - 1) * math.log(math.pi)
            + gammaln(a[..., None] - 0.5 * np.arange(d)).sum(-1))


def expected_log_det(p, cov_type, d):
    """E_q[log |Lambda_k|] (PRML 10.65), float64 of shape (K,) (a float for "tied")."""
    nu = p["nu"]
    log_det_W = 2.0 * _log_det_chol(p["pc"], cov_type, d) - d * np.log(nu)
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
            - 0.5 * d / p["beta"] - 0.5 * d * _LOG_2PI)


# ------------------------------------------------------------------------------ bounds
def sklearn_lower_bound(sum_w_r_log_r, p, cov_type, prior_type, d):
    """scikit-learn's ``lower_bound_`` (``_compute_lower_bound``): the ELBO with the
    terms that are constant at the coordinate-ascent optimum dropped.

    Returns
    -------
    lower_bound : float
    """
    K = p["m"].shape[0]
    nu = p["nu"]
    ldc = _log_det_chol(p["pc"], cov_type, d) - 0.5 * d * np.log(nu)
    log_wishart = -(nu * ldc + nu * d * 0.5 * math.log(2.0)
                    + gammaln(0.5 * (np.asarray(nu)[..., None] - np.arange(d))).sum(-1))
    log_wishart = K * float(log_wishart) if cov_type == "tied" else float(np.sum(log_wishart))
    if prior_type == "dirichlet_process":
        log_norm_weight = -float(np.sum(betaln(p["wc"][0], p["wc"][1])))
    else:
        wc = p["wc"]
        log_norm_weight = float(gammaln(np.sum(wc)) - np.sum(gammaln(wc)))
    return float(-sum_w_r_log_r - log_wishart - log_norm_weight
                 - 0.5 * d * np.sum(np.log(p["beta"])))


def _precision(p, cov_type, d):
    """E_q[Lambda_k] = nu_k W_k = U_k U_k^T in the layout of the covariance type."""
    pc = p["pc"]
    if cov_type == "full":
        return np.einsum("kij,klj->kil", pc, pc)
    if cov_type == "tied":
        return pc @ pc.T
    return pc * pc


def elbo_terms(nk, xbar, S, sum_w_r_log_r, p, priors, cov_type, prior_type, eps):
    """The complete ELBO term by term, with every constant (PRML 10.70-10.77).

    Valid for any q (not only at the coordinate-ascent optimum): the
    statistics are those of the current q(Z), the parameters those of the
    current q(pi), q(mu, Lambda).

    Parameters
    ----------
    nk, xbar, S
        Statistics of q(Z) (see the module docstring; S without ``reg_covar``).
    sum_w_r_log_r : float
        sum_i w_i sum_k r_ik log r_ik.
    p : dict
        Parameters of q(pi), q(mu, Lambda).
    priors : dict
    cov_type, prior_type : str
    eps : float
        The epsilon the statistics were normalised with (S * (nk + 10 eps) is
        the scatter).

    Returns
    -------
    terms : dict of float
        ``"log_lik"`` E[log p(X | Z, mu, Lambda)] (10.71), ``"log_p_z"``
        E[log p(Z | pi)] (10.72), ``"entropy_z"`` -E[log q(Z)] (10.75),
        ``"kl_weights"`` KL(q(pi) || p(pi)) (10.73 + 10.76; for the
        stick-breaking prior the sum of Beta KLs, Blei & Jordan 2006),
        ``"kl_normal_wishart"`` sum_k KL(q(mu_k, Lambda_k) || p(mu_k, Lambda_k))
        (10.74 + 10.77), and ``"elbo"`` = log_lik + log_p_z + entropy_z
        - kl_weights - kl_normal_wishart.
    """
    K, d = xbar.shape
    nk = np.asarray(nk, dtype=np.float64)
    nke = nk + 10.0 * eps
    beta, m, nu = p["beta"], p["m"], p["nu"]
    b0, m0, nu0, cov0 = priors["beta0"], priors["m0"], priors["nu0"], priors["cov0"]
    P = _precision(p, cov_type, d)  # nu_k W_k
    elog_det = np.broadcast_to(expected_log_det(p, cov_type, d), (K,))
    dm = xbar - m
    dm0 = m - m0
    # tr(N_k S_k nu_k W_k), (xbar - m)^T nu W (xbar - m), (m - m0)^T nu W (m - m0), tr(W0^-1 nu W)
    if cov_type == "full":
        tr_S = np.einsum("kij,kij->k", S * nke[:, None, None], P)
        quad = np.einsum("ki,kij,kj->k", dm, P, dm)
        quad0 = np.einsum("ki,kij,kj->k", dm0, P, dm0)
        tr0 = np.einsum("ij,kij->k", cov0, P)
    elif cov_type == "tied":
        tr_S_total = float(np.sum(S * nke.sum() * P))
        quad = np.einsum("ki,ij,kj->k", dm, P, dm)
        quad0 = np.einsum("ki,ij,kj->k", dm0, P, dm0)
        tr0 = np.full(K, float(np.sum(cov0 * P)))
    elif cov_type == "diag":
        tr_S = np.sum(S * nke[:, None] * P, axis=1)
        quad = np.sum(dm * dm * P, axis=1)
        quad0 = np.sum(dm0 * dm0 * P, axis=1)
        tr0 = P @ cov0
    else:
        tr_S = S * d * nke * P
        quad = np.sum(dm * dm, axis=1) * P
        quad0 = np.sum(dm0 * dm0, axis=1) * P
        tr0 = d * cov0 * P
    # 10.71
    log_lik = 0.5 * float(np.sum(nk * (elog_det - d / beta - quad - d * _LOG_2PI)))
    log_lik -= 0.5 * (tr_S_total if cov_type == "tied" else float(np.sum(tr_S)))
    # 10.72
    log_p_z = float(np.sum(nk * expected_log_weights(p["wc"], prior_type)))
    # 10.73 + 10.76
    if prior_type == "dirichlet_process":
        a, b = p["wc"]
        a0_, b0_ = 1.0, priors["alpha0"]
        dsum = digamma(a + b)
        kl_w = float(np.sum(betaln(a0_, b0_) - betaln(a, b) + (a - a0_) * digamma(a)
                            + (b - b0_) * digamma(b) + (a0_ - a + b0_ - b) * dsum))
    else:
        alpha = p["wc"]
        alpha0 = np.full(K, priors["alpha0"])
        kl_w = float(gammaln(alpha.sum()) - gammaln(alpha).sum() - gammaln(alpha0.sum())
                     + gammaln(alpha0).sum()
                     + np.sum((alpha - alpha0) * (digamma(alpha) - digamma(alpha.sum()))))
    # 10.74 + 10.77: E_q(Lambda)[KL(N(m, (beta Lambda)^-1) || N(m0, (beta0 Lambda)^-1))]
    kl_normal = 0.5 * (d * b0 / beta - d + d * np.log(beta / b0) + b0 * quad0)
    # KL(Wishart(W, nu) || Wishart(W0, nu0)), log B(W, nu) = -nu/2 log|W| - nu d/2 log 2 - log Gamma_d(nu/2)
    nu_k = np.broadcast_to(np.asarray(nu, dtype=np.float64), (K,))
    log_det_W = np.broadcast_to(2.0 * _log_det_chol(p["pc"], cov_type, d) - d * np.log(nu), (K,))
    if cov_type in ("full", "tied"):
        log_det_W0 = -np.linalg.slogdet(cov0)[1]
    elif cov_type == "diag":
        log_det_W0 = -float(np.sum(np.log(cov0)))
    else:
        log_det_W0 = -d * math.log(cov0)
    log_B = -0.5 * nu_k * log_det_W - 0.5 * nu_k * d * math.log(2.0) - _log_multigamma(0.5 * nu_k, d)
    log_B0 = -0.5 * nu0 * log_det_W0 - 0.5 * nu0 * d * math.log(2.0) - _log_multigamma(0.5 * nu0, d)
    kl_wishart = log_B - log_B0 + 0.5 * (nu_k - nu0) * elog_det - 0.5 * nu_k * d + 0.5 * tr0
    kl_nw = float(np.sum(kl_normal) + np.sum(kl_wishart))
    entropy_z = -float(sum_w_r_log_r)
    total = log_lik + log_p_z + entropy_z - kl_w - kl_nw
    return {"log_lik": log_lik, "log_p_z": log_p_z, "entropy_z": entropy_z,
            "kl_weights": kl_w, "kl_normal_wishart": kl_nw, "elbo": total}


def elbo(nk, xbar, S, sum_w_r_log_r, p, priors, cov_type, prior_type, eps):
    """The complete ELBO in nats (:func:`elbo_terms`' ``"elbo"``)."""
    return elbo_terms(nk, xbar, S, sum_w_r_log_r, p, priors, cov_type, prior_type, eps)["elbo"]


# ------------------------------------------------------------- natural parameters (SVI)
def to_natural(p, priors, cov_type):
    """Natural parameters of q(pi) and q(mu, Lambda), in coordinates centred at m_0.

    For the Normal-Wishart factor with mu~ = mu - m_0 the natural parameters
    are linear in (beta, beta m~, nu, T) with T = W^-1 + beta m~ m~^T
    (Hoffman et al. 2013, JMLR 14, section 2.2: the coordinate-ascent optimum
    is the prior's natural parameter plus expected sufficient statistics).
    For the constrained covariance types T is the diagonal ("diag"), the mean
    of the diagonal ("spherical"), or the component average ("tied", with
    T = W^-1 + (1/K) sum_k beta_k m~_k m~_k^T) of the full T: the constrained
    optimum is linear in the same statistics, so the Robbins-Monro step on
    these coordinates is the step on the natural parameters.

    Returns
    -------
    eta : dict
        ``wc`` (the Beta/Dirichlet parameters, linear in their natural
        parameters), ``beta``, ``bm`` (K, d), ``nu``, ``T``.
    """
    mt = p["m"] - priors["m0"]
    beta, nu = p["beta"], p["nu"]
    bm = beta[:, None] * mt
    if cov_type == "full":
        T = nu[:, None, None] * p["cov"] + beta[:, None, None] * np.einsum("ki,kj->kij", mt, mt)
    elif cov_type == "tied":
        K = mt.shape[0]
        T = nu * p["cov"] + ((beta * mt.T) @ mt) / K
    elif cov_type == "diag":
        T = nu[:, None] * p["cov"] + beta[:, None] * mt * mt
    else:
        T = nu * p["cov"] + beta * np.mean(mt * mt, axis=1)
    wc = tuple(np.array(x) for x in p["wc"]) if isinstance(p["wc"], tuple) else p["wc"].copy()
    return {"wc": wc, "beta": beta.copy(), "bm": bm, "nu": np.array(nu, dtype=np.float64), "T": T}


def from_natural(eta, priors, cov_type):
    """Inverse of :func:`to_natural`.

    Raises
    ------
    ValueError
        If a covariance is not positive definite.
    """
    beta = eta["beta"]
    mt = eta["bm"] / beta[:, None]
    nu = eta["nu"]
    if cov_type == "full":
        Winv = eta["T"] - beta[:, None, None] * np.einsum("ki,kj->kij", mt, mt)
        Winv = 0.5 * (Winv + Winv.transpose(0, 2, 1))
        cov = Winv / nu[:, None, None]
    elif cov_type == "tied":
        K = mt.shape[0]
        Winv = eta["T"] - ((beta * mt.T) @ mt) / K
        cov = 0.5 * (Winv + Winv.T) / float(nu)
        nu = float(nu)
    elif cov_type == "diag":
        cov = (eta["T"] - beta[:, None] * mt * mt) / nu[:, None]
    else:
        cov = (eta["T"] - beta * np.mean(mt * mt, axis=1)) / nu
    return {"wc": eta["wc"], "beta": beta, "m": mt + priors["m0"], "nu": nu, "cov": cov,
            "pc": precision_cholesky(cov, cov_type)}


def blend_natural(eta, target, rho):
    """(1 - rho) eta + rho target, entry by entry (Hoffman et al. 2013, eq. 26)."""
    out = {}
    for key, val in eta.items():
        if isinstance(val, tuple):
            out[key] = tuple((1.0 - rho) * v + rho * t for v, t in zip(val, target[key]))
        else:
            out[key] = (1.0 - rho) * val + rho * target[key]
    return out


# ------------------------------------------------------------------ Student-t predictive
def student_t_params(p, priors, cov_type, prior_type, d):
    """Components of the posterior predictive mixture of Student-t (PRML 10.81-10.82).

    p(x | X) = sum_k E[pi_k] St(x | m_k, L_k, nu_k + 1 - d) with
    L_k = (nu_k + 1 - d) beta_k / (1 + beta_k) W_k. For the stick-breaking
    prior the remaining mass 1 - sum_k E[pi_k] belongs to the components
    beyond the truncation, whose q is the prior: it goes to the prior
    predictive St(x | m_0, L_0, nu_0 + 1 - d), appended as a last component.

    Returns
    -------
    log_w : ndarray of shape (K',), float64
        Log mixture weights (K' = K, or K + 1 with the prior component).
    means : ndarray of shape (K', d)
    chol : ndarray
        Per component, U with U U^T = L_k: (K', d, d) for full/tied, (K', d)
        diag, (K',) spherical.
    dof : ndarray of shape (K',)
        nu_k + 1 - d.
    log_const : ndarray of shape (K',)
        log Gamma((dof + d)/2) - log Gamma(dof/2) + 1/2 log|L_k| - d/2 log(dof pi).
    layout : str
        Kernel layout of ``chol``: "full", "diag" or "spherical".
    """
    K = p["m"].shape[0]
    nu = np.broadcast_to(np.asarray(p["nu"], dtype=np.float64), (K,))
    beta = p["beta"]
    pc = p["pc"]
    if cov_type == "tied":
        pc = np.broadcast_to(pc, (K, d, d))
    layout = "full" if cov_type in ("full", "tied") else cov_type
    epi = expected_weights(p["wc"], prior_type)
    means = p["m"]
    nus, betas, pcs, weights = nu, beta, pc, epi
    rest = 1.0 - float(epi.sum())
    if prior_type == "dirichlet_process" and rest > 0.0:
        cov0 = priors["cov0"] / priors["nu0"]
        if cov_type in ("full", "tied"):
            pc0 = precision_cholesky(np.asarray(cov0)[None], "full")
        elif cov_type == "diag":
            pc0 = precision_cholesky(np.asarray(cov0)[None], "diag")
        else:
            pc0 = precision_cholesky(np.array([cov0]), "spherical")
        means = np.vstack((means, priors["m0"][None]))
        nus = np.append(nu, priors["nu0"])
        betas = np.append(beta, priors["beta0"])
        pcs = np.concatenate((np.asarray(pc), pc0))
        weights = np.append(epi, rest)
    dof = nus + 1.0 - d
    # L = dof beta / (1 + beta) W = c * (nu W) with c = dof beta / ((1 + beta) nu)
    c = dof * betas / ((1.0 + betas) * nus)
    sc = np.sqrt(c)
    if layout == "full":
        chol = pcs * sc[:, None, None]
        log_det_L = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    elif layout == "diag":
        chol = pcs * sc[:, None]
        log_det_L = 2.0 * np.log(chol).sum(axis=1)
    else:
        chol = pcs * sc
        log_det_L = 2.0 * d * np.log(chol)
    log_const = (gammaln(0.5 * (dof + d)) - gammaln(0.5 * dof) + 0.5 * log_det_L
                 - 0.5 * d * np.log(dof * math.pi))
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    return log_w, means, chol, dof, log_const, layout


def student_t_log_density(log_w, dof, log_const, maha, d):
    """log sum_k w_k St_k(x) given the squared Mahalanobis distances (n, K').

    Returns
    -------
    log_density : ndarray of shape (n,), float64
    """
    lp = log_w + log_const - 0.5 * (dof + d) * np.log1p(maha / dof)
    return logsumexp(lp, axis=1)


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
