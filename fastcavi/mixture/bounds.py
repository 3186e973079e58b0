"""The bounds of the variational Gaussian mixture: scikit-learn's lower bound and
the complete ELBO (PRML 10.70-10.77; Blei & Jordan 2006 for the sticks).

Both are functions of the statistics of q(Z) and the parameters of q(pi),
q(mu, Lambda) (see :mod:`fastcavi.mixture.steps` for the layouts).
"""

import math

import numpy as np
from scipy.special import betaln, digamma, gammaln

from .steps import LOG_2PI, expected_log_det, expected_log_weights, log_det_chol

__all__ = ["sklearn_lower_bound", "elbo_terms", "elbo"]


def _log_multigamma(a, d):
    """log Gamma_d(a) for scalar or array a."""
    a = np.asarray(a, dtype=np.float64)
    return (0.25 * d * (d - 1) * math.log(math.pi)
            + gammaln(a[..., None] - 0.5 * np.arange(d)).sum(-1))



def sklearn_lower_bound(sum_w_r_log_r, p, cov_type, prior_type, d):
    """scikit-learn's ``lower_bound_`` (``_compute_lower_bound``): the ELBO with the
    terms that are constant at the coordinate-ascent optimum dropped.

    Returns
    -------
    lower_bound : float
    """
    K = p["m"].shape[0]
    nu = p["nu"]
    ldc = log_det_chol(p["pc"], cov_type, d) - 0.5 * d * np.log(nu)
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
    log_lik = 0.5 * float(np.sum(nk * (elog_det - d / beta - quad - d * LOG_2PI)))
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
    log_det_W = np.broadcast_to(2.0 * log_det_chol(p["pc"], cov_type, d) - d * np.log(nu), (K,))
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
