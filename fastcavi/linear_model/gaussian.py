"""Variational Bayesian linear and logistic regression: the CAVI maths, as array code.

The estimators in :mod:`fastcavi.linear_model` validate input and drive these
functions; the row sweeps run in the kernels of :mod:`fastcavi.kernels`
(model family "regression").

Notation (Drugowitsch 2013, "Variational Bayesian inference for linear and
logistic regression", arXiv:1310.5438; Bishop 2006, PRML, sections 10.3 and
10.6). Public names follow scikit-learn's ``BayesianRidge``/``ARDRegression``:

==============================  =================  ==========================
quantity                        here (papers)      scikit-learn name
==============================  =================  ==========================
noise precision                 tau                ``alpha_`` = E[tau]
prior on tau: Gamma(shape, rate)  a0, b0           ``alpha_1``, ``alpha_2``
weight precision(s)             alpha              ``lambda_`` = E[alpha]
prior on alpha: Gamma           c0, d0             ``lambda_1``, ``lambda_2``
==============================  =================  ==========================

Linear model (Drugowitsch 2013, section 2; ``vb_linear_fit`` and, with one
alpha_i per weight, ``vb_linear_fit_ard``)::

    y_n | w, tau ~ N(w^T x_n, (s_n tau)^-1)   [sample weight s_n: likelihood ^ s_n]
    w | tau, alpha ~ N(0, (tau A)^-1),  A = diag(alpha)
    tau ~ Gamma(a0, b0),  alpha_i ~ Gamma(c0, d0)
    q(w, tau) q(alpha) = N(w | m, V / tau) Gamma(tau | aN, bN) prod Gamma(alpha_i | cN, dN_i)

With ``fit_intercept`` the intercept has a flat prior and is integrated out
exactly: the data are centred by their weighted means (scikit-learn's
preprocessing) and the likelihood counts S - 1 effective observations times
S^-1/2, S = sum s_n. Sufficient statistics G = Xc^T S Xc, Xc^T S yc and
yc^T S yc are formed once, so an iteration costs O(d^3) (d <= n: Cholesky of
A + G) or O(n^2 d) (n < d: the Woodbury identity on the n x n matrix
I + B A^-1 B^T with B = S^1/2 Xc), never O(n d).

Logistic model (Jaakkola & Jordan 2000; PRML 10.6; Drugowitsch 2013,
section 3) with labels t_n in {-1, +1}::

    p(t_n | w) = sigma(t_n w^T x~_n),  w_1..d | alpha ~ N(0, A^-1),
    intercept ~ N(0, 1 / beta0) (fixed), alpha_i ~ Gamma(c0, d0)
    q(w) q(alpha) = N(w | mu, Sigma) prod Gamma(alpha_i | cN, dN_i)

Every ELBO here is complete (every constant included), in nats.
"""

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.special import digamma, gammaln

__all__ = [
    "LinearStats",
    "linear_stats",
    "fit_linear",
    "linear_elbo",
    "fit_logistic",
    "gamma_terms",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


def _require_finite_elbo(elbo, iteration):
    """Stop a CAVI loop whose state is no longer finite, instead of returning a NaN model.

    Every fitted quantity enters the complete ELBO, so a NaN or inf anywhere in
    q (from a kernel, or from badly scaled data) shows in it.
    """
    if not np.isfinite(elbo):
        raise FloatingPointError(
            f"the ELBO became {elbo} at iteration {iteration}: the posterior is not finite "
            "(a kernel returned NaN or inf, or X and y are too badly scaled)"
        )


def gamma_terms(c0, d0, cn, dn):
    """E_q[log Gamma(alpha | c0, d0)] - E_q[log Gamma(alpha | cn, dn)], summed.

    Parameters
    ----------
    c0, d0 : float
        Prior shape and rate.
    cn, dn : float or ndarray
        Variational shape and rate (broadcast together).

    Returns
    -------
    value : float
        Nats: prior cross-entropy term plus the Gamma entropy
        ``cn - log dn + lgamma(cn) + (1 - cn) psi(cn)``.
    """
    cn, dn = np.broadcast_arrays(np.asarray(cn, float), np.asarray(dn, float))
    elog = digamma(cn) - np.log(dn)
    e = cn / dn
    prior = c0 * np.log(d0) - gammaln(c0) + (c0 - 1.0) * elog - d0 * e
    entropy = cn - np.log(dn) + gammaln(cn) + (1.0 - cn) * digamma(cn)
    return float(np.sum(prior + entropy))


class LinearStats:
    """Sufficient statistics of (weighted, centred) linear regression data.

    Attributes
    ----------
    d : int
    G : ndarray of shape (d, d) or None
        Xc^T S Xc (primal path, d <= n).
    B : ndarray of shape (n, d) or None
        S^1/2 Xc with zero-weight rows dropped (dual path, n < d).
    Xty : ndarray of shape (d,)
        Xc^T S yc.
    yty : float
        yc^T S yc.
    S : float
        Sum of the sample weights.
    n_eff : float
        S - 1 with an intercept, else S.
    const : float
        -log(S) / 2 with an intercept (the flat intercept integrated out), else 0.
    x_mean, y_mean : ndarray of shape (d,), float
        Weighted means (zeros / 0 without intercept).
    """

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def dual(self):
        return self.B is not None


def _xt_dot(X, v, block=8192):
    """X^T v in float64 without converting all of a float32 X at once."""
    if sp.issparse(X) or X.dtype == np.float64:
        return np.asarray(X.T @ v, dtype=np.float64).ravel()
    out = np.zeros(X.shape[1])
    for i in range(0, X.shape[0], block):
        out += X[i:i + block].astype(np.float64).T @ v[i:i + block]
    return out


def linear_stats(kernels, X, y, sw, fit_intercept, n_threads, solver="auto"):
    """Form the sufficient statistics of the linear model once.

    Parameters
    ----------
    kernels : namespace
        A "regression" backend of :func:`fastcavi.kernels.get_backend`.
    X : ndarray (C-contiguous) or sparse matrix of shape (n, d), float32 or float64
    y : ndarray of shape (n,), float64
    sw : ndarray of shape (n,), float64
        Non-negative sample weights with a positive sum.
    fit_intercept : bool
    n_threads : int
    solver : {"auto", "primal", "dual"}
        "auto" picks "dual" (Woodbury, n x n systems) when the number of rows
        with positive weight is below d.

    Returns
    -------
    LinearStats
    """
    n, d = X.shape
    S = float(np.sum(sw))
    if fit_intercept:
        x_mean = _xt_dot(X, sw) / S
        y_mean = float(np.dot(sw, y) / S)
    else:
        x_mean = np.zeros(d)
        y_mean = 0.0
    yc = y - y_mean
    r = sw * yc
    Xty = _xt_dot(X, r) - x_mean * r.sum()
    yty = float(np.dot(r, yc))
    n_pos = int(np.count_nonzero(sw))
    dual = solver == "dual" or (solver == "auto" and n_pos < d)
    G = B = None
    if dual:
        keep = np.flatnonzero(sw > 0)
        Xk = X[keep]
        Xk = Xk.toarray() if sp.issparse(Xk) else np.asarray(Xk, dtype=np.float64)
        B = (Xk - x_mean) * np.sqrt(sw[keep])[:, None]
    elif sp.issparse(X):
        Xs = X.multiply(sw[:, None]).tocsr()
        G = np.asarray((Xs.T @ X).toarray(), dtype=np.float64)
        G -= S * np.outer(x_mean, x_mean)
        G = 0.5 * (G + G.T)
    else:
        G = np.empty((d, d))
        kernels.weighted_gram(X, sw, x_mean, False, G, n_threads)
    return LinearStats(d=d, G=G, B=B, Xty=Xty, yty=yty, S=S,
                       n_eff=S - 1.0 if fit_intercept else S,
                       const=-0.5 * np.log(S) if fit_intercept else 0.0,
                       x_mean=x_mean, y_mean=y_mean)


class _Solve:
    """q(w | tau) for a given diagonal prior precision a: m, log|P|, diag(V), m^T G m."""

    def __init__(self, st, a):
        self.a = a
        d = st.d
        if not st.dual:
            P = st.G.copy()
            P[np.diag_indices(d)] += a
            R = sla.cholesky(P, lower=False, check_finite=False)
            self.R = R
            self.m = sla.cho_solve((R, False), st.Xty, check_finite=False)
            self.logdet_P = 2.0 * float(np.sum(np.log(np.diag(R))))
            Rinv = sla.solve_triangular(R, np.eye(d), lower=False, check_finite=False)
            self.Rinv = Rinv
            self.diag_V = np.einsum("ij,ij->i", Rinv, Rinv)
            Gm = st.G @ self.m
            self.mGm = float(self.m @ Gm)
        else:
            B = st.B
            BA = B / a
            K = BA @ B.T
            K[np.diag_indices(K.shape[0])] += 1.0
            L = sla.cholesky(K, lower=True, check_finite=False)
            u = st.Xty / a
            self.m = u - sla.cho_solve((L, True), B @ u, check_finite=False) @ BA
            self.logdet_P = float(np.sum(np.log(a))) + 2.0 * float(np.sum(np.log(np.diag(L))))
            W = sla.solve_triangular(L, BA, lower=True, check_finite=False)
            self.W = W
            self.diag_V = 1.0 / a - np.einsum("ij,ij->j", W, W)
            Bm = B @ self.m
            self.mGm = float(Bm @ Bm)
        self.mXty = float(self.m @ st.Xty)
        # tr(V G) = tr(V (P - A)) = d - sum a_i V_ii
        self.trVG = float(d - np.sum(a * self.diag_V))

    def covariance(self):
        """V = P^-1, (d, d)."""
        if hasattr(self, "Rinv"):
            return self.Rinv @ self.Rinv.T
        return np.diag(1.0 / self.a) - self.W.T @ self.W


def linear_elbo(st, sol, an, bn, a0, b0, e_alpha, elog_alpha, alpha_terms):
    """Complete ELBO of the variational linear model, in nats.

    Valid for any q(w, tau) = N(m, V / tau) Gamma(an, bn) and any q(alpha)
    (summarised by ``e_alpha``, ``elog_alpha`` and its Gamma terms), not only
    at the coordinate optimum (Drugowitsch 2013, eq. 13, written without the
    simplifications that hold at the optimum).

    Parameters
    ----------
    st : LinearStats
    sol : _Solve
        m, diag(V), log|V^-1|, m^T G m and tr(V G) of q(w | tau).
    an, bn : float
        q(tau) = Gamma(an, bn).
    a0, b0 : float
        Prior on tau.
    e_alpha, elog_alpha : ndarray of shape (d,)
        E[alpha_i], E[log alpha_i] under q(alpha) (or the fixed values).
    alpha_terms : float
        E[log p(alpha)] - E[log q(alpha)] (0 when alpha is fixed).

    Returns
    -------
    elbo : float
    """
    d = st.d
    e_tau = an / bn
    elog_tau = digamma(an) - np.log(bn)
    m = sol.m
    sse = st.yty - 2.0 * sol.mXty + sol.mGm
    lik = 0.5 * st.n_eff * (elog_tau - _LOG_2PI) - 0.5 * (e_tau * sse + sol.trVG) + st.const
    prior_w = (-0.5 * d * _LOG_2PI + 0.5 * d * elog_tau + 0.5 * float(np.sum(elog_alpha))
               - 0.5 * float(np.sum(e_alpha * (e_tau * m * m + sol.diag_V))))
    prior_tau = a0 * np.log(b0) - gammaln(a0) + (a0 - 1.0) * elog_tau - b0 * e_tau
    ent_w = 0.5 * d * _LOG_2PI - 0.5 * d * elog_tau - 0.5 * sol.logdet_P + 0.5 * d
    ent_tau = an - np.log(bn) + gammaln(an) + (1.0 - an) * digamma(an)
    return float(lik + prior_w + prior_tau + ent_w + ent_tau + alpha_terms)


def fit_linear(st, *, a0, b0, c0, d0, ard, learn_alpha, alpha_init, max_iter, tol, monitor=None):
    """CAVI for the variational linear model (Drugowitsch 2013, Algorithm of section 2).

    Each iteration updates q(w, tau) given E[alpha] (exact Normal-Gamma update,
    eqs. 9-12), then q(alpha) (eq. 15; ARD: per weight), then evaluates the
    complete ELBO; it stops when an iteration raises the ELBO by less than
    ``tol * S`` nats.

    Parameters
    ----------
    st : LinearStats
    a0, b0, c0, d0 : float
        Gamma priors on tau and alpha (shape, rate).
    ard : bool
        One alpha per weight.
    learn_alpha : bool
        If False, alpha stays at ``alpha_init`` (a point mass): q(w, tau) is then
        the exact conjugate posterior and the ELBO is log p(y | alpha).
    alpha_init : ndarray of shape (d,)
    max_iter : int (>= 1)
    tol : float
    monitor : PassMonitor or None

    Returns
    -------
    result : dict
        m, V (d, d), sol, an, bn, e_alpha, cn, dn, elbo, history, n_iter, converged.

    Raises
    ------
    FloatingPointError
        If an iteration's ELBO is not finite.
    """
    d = st.d
    an = a0 + 0.5 * st.n_eff
    e_alpha = np.asarray(alpha_init, dtype=np.float64).copy()
    elog_alpha = np.log(e_alpha)
    cn = c0 + (0.5 if ard else 0.5 * d)
    dn = None
    history = []
    converged = False
    n_iter = 0
    for it in range(max_iter):
        sol = _Solve(st, e_alpha)
        bn = b0 + 0.5 * (st.yty - sol.mXty)
        bn = max(bn, b0) if b0 > 0 else max(bn, np.finfo(float).tiny)
        e_tau = an / bn
        alpha_terms = 0.0
        if learn_alpha:
            quad = e_tau * sol.m * sol.m + sol.diag_V
            dn = d0 + 0.5 * quad if ard else d0 + 0.5 * float(np.sum(quad))
            e_alpha = np.broadcast_to(cn / dn, (d,)).astype(np.float64)
            elog_alpha = np.broadcast_to(digamma(cn) - np.log(dn), (d,)).astype(np.float64)
            alpha_terms = gamma_terms(c0, d0, cn, dn)
        elbo = linear_elbo(st, sol, an, bn, a0, b0, e_alpha, elog_alpha, alpha_terms)
        _require_finite_elbo(elbo, it + 1)
        history.append(elbo)
        n_iter = it + 1
        if monitor is not None:
            monitor.end_pass(it, elbo)
        if not learn_alpha:
            converged = True  # the conjugate update is exact in one step
            break
        if it > 0 and history[-1] - history[-2] < tol * st.S:
            converged = True
            break
    return {"m": sol.m, "sol": sol, "an": an, "bn": bn, "e_alpha": e_alpha, "cn": cn,
            "dn": dn, "elbo": history[-1], "history": history, "n_iter": n_iter,
            "converged": converged}


def fit_logistic(kernels, X, t, sw, *, intercept, beta0, c0, d0, ard, learn_alpha, alpha_init,
                 max_iter, tol, n_threads, monitor=None):
    """CAVI with the Jaakkola-Jordan bound for one binary problem (PRML 10.6).

    One iteration: a fused sweep over the rows (``kernels.jj_step``) sets every
    xi_n to its optimum for the current q(w) (PRML eq. 10.163), returns the
    data term of the ELBO and the Gram matrix sum_n 2 s_n lambda(xi_n) x~ x~^T;
    then q(w) = N(mu, Sigma) with Sigma^-1 = diag(E[alpha], beta0) + Gram and
    mu = Sigma sum_n s_n t_n x~_n / 2 (eqs. 10.156-10.157), then q(alpha)
    (Drugowitsch 2013, eq. 47; ARD per weight). The ELBO is evaluated after the
    xi sweep, where E[a_n^2] = xi_n^2, so every value is the complete ELBO of
    the state it reports, and each is >= the previous one. Stops when the
    ELBO rises by less than ``tol * S`` nats; the returned q(w) is the one
    whose ELBO was evaluated last.

    Parameters
    ----------
    kernels : namespace
        "regression" backend.
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    t : ndarray of shape (n,), float64 in {-1, +1}
    sw : ndarray of shape (n,), float64
    intercept : bool
    beta0 : float
        Fixed prior precision of the intercept.
    c0, d0 : float
        Gamma prior on the weight precision(s).
    ard : bool
    learn_alpha : bool
        If False, alpha is held at ``alpha_init``.
    alpha_init : ndarray of shape (d,)
    max_iter : int
    tol : float
    n_threads : int
    monitor : PassMonitor or None

    Returns
    -------
    result : dict
        mu (p,), R (p, p) upper Cholesky factor of the precision, Sigma (p, p),
        xi (n,), e_alpha (d,), cn, dn, elbo, history, n_iter, converged.

    Raises
    ------
    FloatingPointError
        If the ELBO of a sweep is not finite (checked before q(w) is updated from it).
    """
    n, d = X.shape
    p = d + int(intercept)
    S = float(np.sum(sw))
    st = 0.5 * sw * t
    b = np.empty(p)
    b[:d] = _xt_dot(X, st)
    if intercept:
        b[d] = st.sum()
    e_alpha = np.asarray(alpha_init, dtype=np.float64).copy()
    elog_alpha = np.log(e_alpha)
    cn = c0 + (0.5 if ard else 0.5 * d)
    dn = None
    alpha_terms = 0.0
    prior_diag = np.concatenate([e_alpha, [beta0]]) if intercept else e_alpha.copy()
    # start from q(w) = the prior
    mu = np.zeros(p)
    R = np.diag(np.sqrt(prior_diag))
    diag_sigma = 1.0 / prior_diag
    Rinv = np.diag(1.0 / np.sqrt(prior_diag))
    xi = np.empty(n)
    G = np.empty((p, p))
    history = []
    n_iter = 0
    converged = False
    while True:
        data = kernels.jj_step(X, t, sw, intercept, R, mu, xi, G, n_iter < max_iter, n_threads)
        quad = mu[:d] ** 2 + diag_sigma[:d]
        prior_w = -0.5 * d * _LOG_2PI + 0.5 * float(np.sum(elog_alpha)) \
            - 0.5 * float(np.sum(e_alpha * quad))
        if intercept:
            prior_w += -0.5 * _LOG_2PI + 0.5 * np.log(beta0) \
                - 0.5 * beta0 * (mu[d] ** 2 + diag_sigma[d])
        entropy = 0.5 * p * (1.0 + _LOG_2PI) - float(np.sum(np.log(np.diag(R))))
        elbo = float(data + prior_w + entropy + alpha_terms)
        _require_finite_elbo(elbo, n_iter)
        history.append(elbo)
        if monitor is not None and len(history) > 1:
            # report the state after each q update (the first sweep evaluates the prior)
            monitor.end_pass(len(history) - 2, elbo)
        if len(history) > 1 and history[-1] - history[-2] < tol * S:
            converged = True
            break
        if n_iter >= max_iter:
            break
        # q(w)
        P = G
        P[np.diag_indices(d)] += e_alpha
        if intercept:
            P[d, d] += beta0
        R = sla.cholesky(P, lower=False, check_finite=False)
        mu = sla.cho_solve((R, False), b, check_finite=False)
        Rinv = sla.solve_triangular(R, np.eye(p), lower=False, check_finite=False)
        diag_sigma = np.einsum("ij,ij->i", Rinv, Rinv)
        G = np.empty((p, p))
        # q(alpha)
        if learn_alpha:
            quad = mu[:d] ** 2 + diag_sigma[:d]
            dn = d0 + 0.5 * quad if ard else d0 + 0.5 * float(np.sum(quad))
            e_alpha = np.broadcast_to(cn / dn, (d,)).astype(np.float64)
            elog_alpha = np.broadcast_to(digamma(cn) - np.log(dn), (d,)).astype(np.float64)
            alpha_terms = gamma_terms(c0, d0, cn, dn)
        n_iter += 1
    return {"mu": mu, "R": np.ascontiguousarray(R), "Sigma": Rinv @ Rinv.T, "xi": xi,
            "e_alpha": e_alpha, "cn": cn, "dn": dn, "elbo": history[-1], "history": history,
            "n_iter": n_iter, "converged": converged}
