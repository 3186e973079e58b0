"""Learning LDA's document-topic prior alpha: Minka's Newton iteration.

The ELBO's terms in alpha are those of a Dirichlet likelihood with sufficient
statistics ``S_k = sum_d E_q[log theta_dk]`` (:func:`sum_elogtheta`, additive
over documents), so the update is the maximiser of a concave function of
alpha (:func:`update_dirichlet_prior`).

References
----------
Minka (2000), "Estimating a Dirichlet distribution" (Newton step for alpha
with a diagonal-plus-rank-one Hessian).
"""

import numpy as np
from scipy.special import digamma, gammaln, polygamma

__all__ = ["update_dirichlet_prior", "sum_elogtheta"]


def _dirichlet_objective(alpha, n_docs, sum_elog):
    return n_docs * (gammaln(alpha.sum()) - gammaln(alpha).sum()) + np.dot(alpha - 1.0, sum_elog)


def update_dirichlet_prior(alpha, sum_elogtheta, n_docs, symmetric, max_iter=100, tol=1e-10):
    """Maximise the ELBO's alpha terms: the Dirichlet prior of theta by Newton.

    Maximises ``f(alpha) = N [lgamma(sum alpha) - sum lgamma(alpha_k)]
    + sum_k (alpha_k - 1) S_k`` with ``S_k = sum_d E_q[log theta_dk]``, the
    terms of the ELBO that depend on alpha. f is concave, so the maximiser
    never lowers the ELBO. Asymmetric: Minka's (2000, sec. 1) Newton step with
    the diagonal-plus-rank-one Hessian, as gensim's ``alpha="auto"``, but
    iterated to convergence with step halving to stay positive and increasing.
    Symmetric: the one-dimensional Newton iteration on alpha_k = a.

    Parameters
    ----------
    alpha : ndarray of shape (n_topics,), float64
        Current prior, positive.
    sum_elogtheta : ndarray of shape (n_topics,), float64
        S_k above.
    n_docs : float
        N above (> 0).
    symmetric : bool
        Keep all alpha_k equal.
    max_iter : int, default=100
    tol : float, default=1e-10
        Stop when the relative change of alpha is below this.

    Returns
    -------
    alpha : ndarray of shape (n_topics,), float64
        The maximiser (never lower in f than the input).
    """
    alpha = np.asarray(alpha, dtype=np.float64).copy()
    S = np.asarray(sum_elogtheta, dtype=np.float64)
    K = alpha.shape[0]
    f_old = _dirichlet_objective(alpha, n_docs, S)
    for _ in range(max_iter):
        if symmetric:
            a = alpha[0]
            g = n_docs * K * (digamma(K * a) - digamma(a)) + S.sum()
            h = n_docs * K * (K * polygamma(1, K * a) - polygamma(1, a))
            step = np.full(K, g / h)
        else:
            g = n_docs * (digamma(alpha.sum()) - digamma(alpha)) + S
            q = -n_docs * polygamma(1, alpha)
            z = n_docs * polygamma(1, alpha.sum())
            b = np.sum(g / q) / (1.0 / z + np.sum(1.0 / q))
            step = (g - b) / q
        t = 1.0
        while True:
            new = alpha - t * step
            if np.all(new > 0):
                f_new = _dirichlet_objective(new, n_docs, S)
                if f_new >= f_old:
                    break
            t *= 0.5
            if t < 1e-12:
                return alpha
        change = np.max(np.abs(new - alpha) / alpha)
        alpha, f_old = new, f_new
        if change < tol:
            break
    return alpha


def sum_elogtheta(gamma):
    """Sum over documents of E_q[log theta_d] (Blei et al. 2003, eq. 8 terms).

    Parameters
    ----------
    gamma : ndarray of shape (n_docs, n_topics), float32 or float64
        Variational Dirichlet parameters, positive.

    Returns
    -------
    S : ndarray of shape (n_topics,), float64
        ``sum_d (digamma(gamma_dk) - digamma(sum_k gamma_dk))``.
    """
    g = np.asarray(gamma, dtype=np.float64)
    return (digamma(g) - digamma(g.sum(axis=1))[:, np.newaxis]).sum(axis=0)
