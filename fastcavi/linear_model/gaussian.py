"""VB linear regression as an engine model, and the notation shared with VB logistic.

:class:`LinearModel` is :class:`fastcavi.engine.Model` for the variational
linear model: the estimator (:mod:`fastcavi.linear_model.vb_linear`) validates
input, builds it and runs :func:`fastcavi.engine.run_cavi`. The Gram kernel is
the "regression" family's (:mod:`fastcavi.linear_model.regression_reference`); the
logistic model is :mod:`fastcavi.linear_model.jaakkola`.

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

Every ELBO here is complete (every constant included), in nats.
"""

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.special import digamma, gammaln

from ..engine import Stats

__all__ = [
    "RowBlock",
    "StackedRows",
    "LinearStats",
    "LinearState",
    "LinearModel",
    "linear_elbo",
    "gamma_terms",
    "update_alpha",
    "alpha_shape",
    "weighted_means",
    "xt_dot",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


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


def update_alpha(c0, d0, cn, quad, ard):
    """The CAVI update of q(alpha) = prod_i Gamma(alpha_i | cn, dn_i) over the weight precisions.

    Drugowitsch (2013), eq. 15 (linear) and eq. 47 (logistic): dn = d0 + quad / 2
    per weight with ARD, d0 + sum(quad) / 2 for one shared precision.

    Parameters
    ----------
    c0, d0 : float
        Gamma prior (shape, rate).
    cn : float
        Shape of q(alpha): c0 + 1/2 (ARD) or c0 + d/2 (see :func:`alpha_shape`).
    quad : ndarray of shape (d,)
        E_q[w_i^2] times the noise precision where it scales the prior
        (linear: E[tau] m_i^2 + V_ii; logistic: mu_i^2 + Sigma_ii).
    ard : bool

    Returns
    -------
    e_alpha, elog_alpha : ndarray of shape (d,)
        E[alpha_i], E[log alpha_i].
    alpha_terms : float
        E[log p(alpha)] - E[log q(alpha)], nats.
    dn : float or ndarray of shape (d,)
    """
    d = quad.shape[0]
    dn = d0 + 0.5 * quad if ard else d0 + 0.5 * float(np.sum(quad))
    e_alpha = np.broadcast_to(cn / dn, (d,)).astype(np.float64)
    elog_alpha = np.broadcast_to(digamma(cn) - np.log(dn), (d,)).astype(np.float64)
    return e_alpha, elog_alpha, gamma_terms(c0, d0, cn, dn), dn


def alpha_shape(c0, d, ard):
    """Shape of q(alpha): c0 + 1/2 per weight (ARD) or c0 + d/2 shared."""
    return c0 + (0.5 if ard else 0.5 * d)


class LinearStats:
    """Sufficient statistics of (weighted, centred) linear regression data.

    What :class:`LinearModel` forms from its additive statistics (and the
    global step and the ELBO read).

    Attributes
    ----------
    d : int
    G : ndarray of shape (d, d) or None
        Xc^T S Xc (primal path, d <= n).
    B : ndarray of shape (n, d) or None
        S^1/2 Xc with zero-weight rows dropped (dual path, n < d).
    z : ndarray of shape (n,) or None
        S^1/2 yc on the same rows (dual path).
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
        """Whether the statistics are the rows B (Woodbury path), not the Gram G."""
        return self.B is not None


def xt_dot(X, v, block=8192):
    """X^T v in float64 without converting all of a float32 X at once.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d), float32 or float64
    v : ndarray of shape (n,), float64
    block : int, default=8192
        Rows converted to float64 at a time (float32 dense X).

    Returns
    -------
    ndarray of shape (d,), float64
    """
    if sp.issparse(X) or X.dtype == np.float64:
        return np.asarray(X.T @ v, dtype=np.float64).ravel()
    out = np.zeros(X.shape[1])
    for i in range(0, X.shape[0], block):
        out += X[i:i + block].astype(np.float64).T @ v[i:i + block]
    return out


class RowBlock:
    """A block of rows: what the linear models' local steps read.

    Parameters
    ----------
    X : ndarray (C-contiguous) or CSR matrix of shape (n, d), float32 or float64
    y : ndarray of shape (n,), float64
        Targets (VB linear) or labels in {-1, +1} (VB logistic).
    w : ndarray of shape (n,), float64
        Non-negative sample weights.
    """

    __slots__ = ("X", "y", "w")

    def __init__(self, X, y, w):
        self.X, self.y, self.w = X, y, w

    def __len__(self):
        return self.X.shape[0]


def weighted_means(X, y, sw):
    """Weighted means of the columns of X and of y (float64).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d)
    y : ndarray of shape (n,)
    sw : ndarray of shape (n,)
        Non-negative weights with a positive sum.

    Returns
    -------
    x_mean : ndarray of shape (d,), float64
    y_mean : float
    """
    S = float(np.sum(sw))
    return xt_dot(X, sw) / S, float(np.dot(sw, y) / S)


class StackedRows:
    """The rows B = S^1/2 (X - shift) and z = S^1/2 (y - y_shift) of blocks (dual path).

    Additive in the sense of :class:`fastcavi.engine.Stats`: the union of two
    blocks stacks their rows; scaling the weights by c scales B and z by
    sqrt(c); as an array it is the moments the rows stand for, B^T B
    (flattened), B^T z and z^T z (so two partitions of the same rows compare
    equal).

    Parameters
    ----------
    B : ndarray of shape (m, d), float64
    z : ndarray of shape (m,), float64
    """

    __slots__ = ("B", "z")

    def __init__(self, B, z):
        self.B, self.z = B, z

    def __add__(self, other):
        return StackedRows(np.vstack([self.B, other.B]), np.concatenate([self.z, other.z]))

    def __mul__(self, c):
        r = np.sqrt(c)
        return StackedRows(self.B * r, self.z * r)

    def __array__(self, dtype=None, copy=None):
        B, z = self.B, self.z
        moments = np.concatenate([(B.T @ B).ravel(), B.T @ z, [z @ z]])
        return moments if dtype is None else moments.astype(dtype)


class _Solve:
    """q(w | tau) for a given diagonal prior precision a.

    Attributes: m, log|P| (``logdet_P``), diag(V), tr(V G), ``yPy`` =
    y^T y - m^T X^T y (what q(tau) reads) and ``sse`` = ||y - X m||^2 (weighted,
    centred), the last two in a form free of cancellation on the dual path.
    """

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
        else:
            B = st.B
            BA = B / a
            K = BA @ B.T
            K[np.diag_indices(K.shape[0])] += 1.0
            L = sla.cholesky(K, lower=True, check_finite=False)
            # push-through form m = A^-1 B^T K^-1 z (not A^-1 X^T y minus its correction,
            # which cancels ~7 digits on an interpolating fit)
            Kz = sla.cho_solve((L, True), st.z, check_finite=False)
            self.m = Kz @ BA
            self.logdet_P = float(np.sum(np.log(a))) + 2.0 * float(np.sum(np.log(np.diag(L))))
            W = sla.solve_triangular(L, BA, lower=True, check_finite=False)
            self.W = W
            self.diag_V = 1.0 / a - np.einsum("ij,ij->j", W, W)
            # y^T y - m^T X^T y = z^T K^-1 z, and the residual z - B m = K^-1 z
            self.yPy = float(st.z @ Kz)
            self.sse = float(Kz @ Kz)
        if not st.dual:
            self.yPy = st.yty - float(self.m @ st.Xty)
            self.sse = st.yty - 2.0 * float(self.m @ st.Xty) + float(self.m @ Gm)
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
    sse = sol.sse
    lik = 0.5 * st.n_eff * (elog_tau - _LOG_2PI) - 0.5 * (e_tau * sse + sol.trVG) + st.const
    prior_w = (-0.5 * d * _LOG_2PI + 0.5 * d * elog_tau + 0.5 * float(np.sum(elog_alpha))
               - 0.5 * float(np.sum(e_alpha * (e_tau * m * m + sol.diag_V))))
    prior_tau = a0 * np.log(b0) - gammaln(a0) + (a0 - 1.0) * elog_tau - b0 * e_tau
    ent_w = 0.5 * d * _LOG_2PI - 0.5 * d * elog_tau - 0.5 * sol.logdet_P + 0.5 * d
    ent_tau = an - np.log(bn) + gammaln(an) + (1.0 - an) * digamma(an)
    return float(lik + prior_w + prior_tau + ent_w + ent_tau + alpha_terms)


class LinearState:
    """Global state of :class:`LinearModel`: q(w, tau) and q(alpha).

    Attributes
    ----------
    e_alpha, elog_alpha : ndarray of shape (d,)
        E[alpha_i] and E[log alpha_i] under q(alpha) (or the fixed values).
    alpha_terms : float
        E[log p(alpha)] - E[log q(alpha)] in nats (0 with alpha fixed).
    cn : float
        Shape of q(alpha).
    dn : float, ndarray of shape (d,) or None
        Rate(s) of q(alpha); None while alpha is fixed.
    sol : _Solve or None
        q(w | tau) = N(m, V / tau) for the prior precision in force when it
        was formed (None in the initial state).
    an, bn : float or None
        q(tau) = Gamma(an, bn).
    """

    __slots__ = ("e_alpha", "elog_alpha", "alpha_terms", "cn", "dn", "sol", "an", "bn")

    def __init__(self, e_alpha, elog_alpha, alpha_terms, cn, dn, sol=None, an=None, bn=None):
        self.e_alpha, self.elog_alpha, self.alpha_terms = e_alpha, elog_alpha, alpha_terms
        self.cn, self.dn, self.sol, self.an, self.bn = cn, dn, sol, an, bn


class LinearModel:
    """VB linear regression's steps for the engine's drivers (:class:`fastcavi.engine.Model`).

    One CAVI pass (Drugowitsch 2013, section 2): q(w, tau) given E[alpha]
    (the exact Normal-Gamma update, eqs. 9-12), then q(alpha) (eq. 15; ARD:
    per weight); its ELBO (:func:`linear_elbo`) is that of the state after
    the pass.

    Statistics (additive over :class:`RowBlock` s, :class:`fastcavi.engine.Stats`),
    taken about a fixed shift c (the whole data's weighted means, so they add
    exactly; the global step recentres them on the blocks' own weighted mean):

    - ``gram``: sum_n s_n (x_n - c)(x_n - c)^T, shape (d, d) (primal path), or
      the :class:`StackedRows` S^1/2 (X - c) (dual path, n < d: exact when c is
      the weighted mean, as the estimator makes it);
    - ``xty``: sum_n s_n (x_n - c)(y_n - y_c); ``yty``: sum_n s_n (y_n - y_c)^2;
    - ``sx``: sum_n s_n (x_n - c); ``sy``: sum_n s_n (y_n - y_c); ``S``: sum_n s_n.

    They do not depend on the global state (``static_stats``): a batch fit
    forms them once and each pass costs O(d^3) (primal) or O(n^2 d) (dual).

    Parameters
    ----------
    kernels : namespace
        A "regression" backend of :func:`fastcavi.kernels.get_backend`.
    n_threads : int
    fit_intercept : bool
        Integrate out a flat intercept (centre the data; S - 1 effective
        observations times S^-1/2).
    x_shift : ndarray of shape (d,)
    y_shift : float
        The shift c and y_c (zeros without an intercept).
    dual : bool
        Use the rows (Woodbury identity on n x n systems) instead of the Gram.
    a0, b0, c0, d0 : float
        Gamma priors on tau and alpha (shape, rate).
    ard : bool
        One alpha per weight.
    learn_alpha : bool
        If False, alpha stays where the initial state puts it (a point mass):
        q(w, tau) is the exact conjugate posterior after one pass.
    """

    static_stats = True

    def __init__(self, kernels, n_threads, *, fit_intercept, x_shift, y_shift, dual,
                 a0, b0, c0, d0, ard, learn_alpha):
        self.kernels = kernels
        self.n_threads = n_threads
        self.fit_intercept = fit_intercept
        self.x_shift = np.asarray(x_shift, dtype=np.float64)
        self.y_shift = float(y_shift)
        self.dual = dual
        self.a0, self.b0, self.c0, self.d0 = a0, b0, c0, d0
        self.ard = ard
        self.learn_alpha = learn_alpha
        self._centred = (None, None, None)

    def initial_state(self, alpha_init):
        """The state before the first pass: E[alpha] = ``alpha_init``.

        Parameters
        ----------
        alpha_init : ndarray of shape (d,)
            Positive initial (or, without ``learn_alpha``, fixed) precisions.

        Returns
        -------
        LinearState
        """
        e_alpha = np.asarray(alpha_init, dtype=np.float64).copy()
        cn = alpha_shape(self.c0, e_alpha.shape[0], self.ard)
        return LinearState(e_alpha, np.log(e_alpha), 0.0, cn, None)

    def n_items(self, block):
        """Rows in ``block``."""
        return block.X.shape[0]

    def init_local(self, block, g, previous):
        """No local variables: q(w, tau) is global."""
        return None

    def local_step(self, block, g, local):
        """The block's statistics (see the class docstring); ``g`` is not read.

        Parameters
        ----------
        block : RowBlock
        g : LinearState
        local : None

        Returns
        -------
        stats : fastcavi.engine.Stats
        local : None
        """
        X, y, sw = block.X, block.y, block.w
        c = self.x_shift
        d = X.shape[1]
        S = float(np.sum(sw))
        yc = y - self.y_shift
        r = sw * yc
        sy = float(r.sum())
        xty = xt_dot(X, r) - c * sy
        yty = float(np.dot(r, yc))
        sx = xt_dot(X, sw) - c * S if self.fit_intercept else np.zeros(d)
        if self.dual:
            keep = np.flatnonzero(sw > 0)
            Xk = X[keep]
            Xk = Xk.toarray() if sp.issparse(Xk) else np.asarray(Xk, dtype=np.float64)
            v = np.sqrt(sw[keep])
            gram = StackedRows((Xk - c) * v[:, None], v * yc[keep])
        elif sp.issparse(X):
            # sum s (x - c)(x - c)^T = X^T S X - sx c^T - c sx^T - S c c^T
            Xs = X.multiply(sw[:, None]).tocsr()
            gram = np.asarray((Xs.T @ X).toarray(), dtype=np.float64)
            gram -= np.outer(sx, c) + np.outer(c, sx) + S * np.outer(c, c)
            gram = 0.5 * (gram + gram.T)
        else:
            gram = np.empty((d, d))
            self.kernels.weighted_gram(X, sw, c, False, gram, self.n_threads)
        return Stats(gram=gram, xty=xty, yty=yty, sx=sx, sy=sy, S=S), None

    @property
    def summary(self):
        """The :class:`LinearStats` the last global step or ELBO read (None before one)."""
        return self._centred[2]

    def centred(self, stats, scale=1.0):
        """The statistics recentred on their own weighted means (cached per ``stats``).

        Parameters
        ----------
        stats : fastcavi.engine.Stats
            From :meth:`local_step` (summed over blocks).
        scale : float, default=1.0
            Weight multiplier (a minibatch standing for the data set).

        Returns
        -------
        LinearStats
        """
        cached, cached_scale, st = self._centred
        if cached is stats and cached_scale == scale:
            return st
        if scale != 1.0:
            stats = stats.scaled(scale)
        S = float(stats["S"])
        sx, sy = stats["sx"], float(stats["sy"])
        gram, xty, yty = stats["gram"], stats["xty"], float(stats["yty"])
        G = B = z = None
        if isinstance(gram, StackedRows):
            B, z = gram.B, gram.z
        elif self.fit_intercept:
            G = gram - np.outer(sx, sx) / S
        else:
            G = gram
        if self.fit_intercept:
            xty = xty - sx * (sy / S)
            yty = yty - sy * sy / S
        st = LinearStats(d=xty.shape[0], G=G, B=B, z=z, Xty=xty, yty=yty, S=S,
                         n_eff=S - 1.0 if self.fit_intercept else S,
                         const=-0.5 * np.log(S) if self.fit_intercept else 0.0,
                         x_mean=self.x_shift + sx / S if self.fit_intercept else self.x_shift,
                         y_mean=self.y_shift + sy / S if self.fit_intercept else 0.0)
        self._centred = (stats if scale == 1.0 else None, scale, st)
        return st

    def global_step(self, g, stats, scale=1.0, rho=1.0):
        """One CAVI update of q(w, tau), then of q(alpha).

        Parameters
        ----------
        g : LinearState
        stats : fastcavi.engine.Stats
        scale : float, default=1.0
        rho : float, default=1.0
            Must be 1: the model is fitted by batch CAVI only.

        Returns
        -------
        LinearState

        Raises
        ------
        ValueError
            If ``rho`` is not 1.
        """
        if rho != 1.0:
            raise ValueError(f"VB linear regression has no stochastic step: rho must be 1, got {rho}")
        st = self.centred(stats, scale)
        a0, b0, c0, d0 = self.a0, self.b0, self.c0, self.d0
        sol = _Solve(st, g.e_alpha)
        an = a0 + 0.5 * st.n_eff
        bn = b0 + 0.5 * sol.yPy
        bn = max(bn, b0) if b0 > 0 else max(bn, np.finfo(float).tiny)
        if not self.learn_alpha:
            return LinearState(g.e_alpha, g.elog_alpha, 0.0, g.cn, None, sol, an, bn)
        quad = (an / bn) * sol.m * sol.m + sol.diag_V
        e_alpha, elog_alpha, alpha_terms, dn = update_alpha(c0, d0, g.cn, quad, self.ard)
        return LinearState(e_alpha, elog_alpha, alpha_terms, g.cn, dn, sol, an, bn)

    def elbo(self, g_prev, g, stats):
        """The complete ELBO of the state after the pass, in nats (:func:`linear_elbo`)."""
        return linear_elbo(self.centred(stats), g.sol, g.an, g.bn, self.a0, self.b0,
                           g.e_alpha, g.elog_alpha, g.alpha_terms)
