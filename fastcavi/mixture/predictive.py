"""The posterior predictive of the variational Gaussian mixture: a mixture of
Student-t (PRML eqs. 10.81-10.82)."""

import math

import numpy as np
from scipy.special import gammaln, logsumexp

from .steps import expected_weights, precision_cholesky

__all__ = ["student_t_params", "student_t_log_density"]


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
