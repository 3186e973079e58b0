"""Natural parameters of the mixture's global factors, for the stochastic-VI step.

The Robbins-Monro step of stochastic VI (Hoffman, Blei, Wang & Paisley 2013,
JMLR 14, eq. 26) blends natural parameters: :func:`to_natural`, then
:func:`blend_natural`, then :func:`from_natural`.
"""

import numpy as np

from .steps import precision_cholesky

__all__ = ["to_natural", "from_natural", "blend_natural"]


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
