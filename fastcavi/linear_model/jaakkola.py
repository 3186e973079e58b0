"""VB logistic regression (the Jaakkola-Jordan bound) as an engine model.

The model (Jaakkola & Jordan 2000; Bishop PRML 10.6; Drugowitsch 2013,
arXiv:1310.5438, section 3), for labels t_n in {-1, +1} and x~_n = [x_n, 1]
(with an intercept)::

    p(t_n | w) = sigma(t_n w^T x~_n),  w_1..d | alpha ~ N(0, A^-1),
    intercept ~ N(0, 1 / beta0) (fixed), alpha_i ~ Gamma(c0, d0)
    q(w) q(alpha) = N(w | mu, Sigma) prod Gamma(alpha_i | cN, dN_i)

with one variational parameter xi_n per row (the block's local state).
Public names follow scikit-learn (``lambda_`` = E[alpha]); every ELBO is
complete, in nats.
"""

import numpy as np
import scipy.linalg as sla

from ..engine import Stats
from .gaussian import alpha_shape, update_alpha, xt_dot

__all__ = ["LogisticLocal", "LogisticState", "LogisticModel"]

_LOG_2PI = float(np.log(2.0 * np.pi))


class LogisticLocal:
    """A block's local state: xi_n and the block's fixed X~^T S t / 2.

    Attributes
    ----------
    xi : ndarray of shape (n,), float64
        The Jaakkola-Jordan variational parameters (written by the sweep).
    b : ndarray of shape (p,), float64
        sum_n s_n t_n x~_n / 2, which does not change between passes.
    """

    __slots__ = ("xi", "b")

    def __init__(self, xi, b):
        self.xi, self.b = xi, b


class LogisticState:
    """Global state of :class:`LogisticModel`: q(w) and q(alpha).

    Attributes
    ----------
    mu : ndarray of shape (p,)
        Mean of q(w) (the intercept last, with one).
    R : ndarray of shape (p, p), C-contiguous
        Upper Cholesky factor of q(w)'s precision Sigma^-1.
    Rinv : ndarray of shape (p, p)
        R^-1, so that Sigma = R^-1 R^-T.
    diag_sigma : ndarray of shape (p,)
        diag(Sigma).
    e_alpha, elog_alpha : ndarray of shape (d,)
        E[alpha_i], E[log alpha_i] under q(alpha) (or the fixed values).
    alpha_terms : float
        E[log p(alpha)] - E[log q(alpha)] in nats (0 with alpha fixed).
    cn : float
    dn : float, ndarray of shape (d,) or None
        Shape and rate(s) of q(alpha); ``dn`` None while alpha is fixed.
    """

    __slots__ = ("mu", "R", "Rinv", "diag_sigma", "e_alpha", "elog_alpha", "alpha_terms",
                 "cn", "dn")

    def __init__(self, mu, R, Rinv, diag_sigma, e_alpha, elog_alpha, alpha_terms, cn, dn):
        self.mu, self.R, self.Rinv, self.diag_sigma = mu, R, Rinv, diag_sigma
        self.e_alpha, self.elog_alpha, self.alpha_terms = e_alpha, elog_alpha, alpha_terms
        self.cn, self.dn = cn, dn

    def covariance(self):
        """Sigma, shape (p, p)."""
        return self.Rinv @ self.Rinv.T


class LogisticModel:
    """One binary VB logistic problem's steps for the engine (:class:`fastcavi.engine.Model`).

    - local step: the fused sweep ``kernels.jj_step`` over the block's rows
      sets every xi_n to its optimum for the current q(w) (PRML eq. 10.163)
      and returns the data term of the ELBO there and the Gram matrix
      sum_n 2 s_n lambda(xi_n) x~_n x~_n^T;
    - global step: q(w) with Sigma^-1 = diag(E[alpha], beta0) + Gram and
      mu = Sigma sum_n s_n t_n x~_n / 2 (PRML eqs. 10.156-10.157), then
      q(alpha) (Drugowitsch 2013, eq. 47; ARD: per weight);
    - ELBO: that of the state the sweep read (``elbo_before_step``): there
      E[a_n^2] = xi_n^2, so the value is the complete ELBO of that q(w) and
      q(alpha), and each pass's value is >= the previous one.

    Statistics (additive over :class:`~fastcavi.linear_model.gaussian.RowBlock` s):
    ``gram`` (p, p), ``data`` (nats) and ``b`` (p,).

    Parameters
    ----------
    kernels : namespace
        A "regression" backend of :func:`fastcavi.kernels.get_backend`.
    n_threads : int
    n_features : int
        d (p = d + 1 with an intercept).
    intercept : bool
    beta0 : float
        Fixed prior precision of the intercept.
    c0, d0 : float
        Gamma prior on the weight precision(s).
    ard : bool
        One alpha per weight.
    learn_alpha : bool
        If False, alpha stays where the initial state puts it.
    """

    static_stats = False
    elbo_before_step = True

    def __init__(self, kernels, n_threads, n_features, *, intercept, beta0, c0, d0, ard,
                 learn_alpha):
        self.kernels = kernels
        self.n_threads = n_threads
        self.d = int(n_features)
        self.p = self.d + int(intercept)
        self.intercept = intercept
        self.beta0, self.c0, self.d0 = beta0, c0, d0
        self.ard = ard
        self.learn_alpha = learn_alpha

    def initial_state(self, alpha_init):
        """q(w) = the prior with E[alpha] = ``alpha_init``.

        Parameters
        ----------
        alpha_init : ndarray of shape (d,)
            Positive initial (or, without ``learn_alpha``, fixed) precisions.

        Returns
        -------
        LogisticState
        """
        e_alpha = np.asarray(alpha_init, dtype=np.float64).copy()
        prior_diag = np.concatenate([e_alpha, [self.beta0]]) if self.intercept else e_alpha.copy()
        cn = alpha_shape(self.c0, self.d, self.ard)
        return LogisticState(np.zeros(self.p), np.diag(np.sqrt(prior_diag)),
                             np.diag(1.0 / np.sqrt(prior_diag)), 1.0 / prior_diag,
                             e_alpha, np.log(e_alpha), 0.0, cn, None)

    def n_items(self, block):
        """Rows in ``block``."""
        return block.X.shape[0]

    def init_local(self, block, g, previous):
        """The block's xi (kept across passes) and X~^T S t / 2 (formed on the first pass)."""
        if previous is not None:
            return previous
        st = 0.5 * block.w * block.y
        b = np.empty(self.p)
        b[:self.d] = xt_dot(block.X, st)
        if self.intercept:
            b[self.d] = st.sum()
        return LogisticLocal(np.empty(block.X.shape[0]), b)

    def local_step(self, block, g, local, for_step=True):
        """The fused sweep under q(w) = ``g``.

        Parameters
        ----------
        block : RowBlock
            ``y`` holds the labels in {-1, +1}.
        g : LogisticState
        local : LogisticLocal
            ``xi`` is overwritten.
        for_step : bool, default=True
            False on the driver's last, evaluation-only pass: the Gram matrix
            is not formed (zeros are returned in its place).

        Returns
        -------
        stats : fastcavi.engine.Stats
        local : LogisticLocal
        """
        p = self.p
        G = np.empty((p, p)) if for_step else np.zeros((p, p))
        data = self.kernels.jj_step(block.X, block.y, block.w, self.intercept, g.R, g.mu,
                                    local.xi, G, for_step, self.n_threads)
        return Stats(gram=G, data=float(data), b=local.b), local

    def global_step(self, g, stats, scale=1.0, rho=1.0):
        """q(w), then q(alpha), from the sweep's statistics.

        Parameters
        ----------
        g : LogisticState
        stats : fastcavi.engine.Stats
        scale : float, default=1.0
        rho : float, default=1.0
            Must be 1 (batch CAVI only).

        Returns
        -------
        LogisticState

        Raises
        ------
        ValueError
            If ``rho`` is not 1.
        """
        if rho != 1.0:
            raise ValueError(f"VB logistic regression has no stochastic step: rho must be 1, "
                             f"got {rho}")
        d = self.d
        P = stats["gram"] * scale  # a new array: the statistics stay as the sweep left them
        P[np.diag_indices(d)] += g.e_alpha
        if self.intercept:
            P[d, d] += self.beta0
        R = sla.cholesky(P, lower=False, check_finite=False)
        mu = sla.cho_solve((R, False), stats["b"] * scale, check_finite=False)
        Rinv = sla.solve_triangular(R, np.eye(self.p), lower=False, check_finite=False)
        diag_sigma = np.einsum("ij,ij->i", Rinv, Rinv)
        e_alpha, elog_alpha, alpha_terms, dn = g.e_alpha, g.elog_alpha, g.alpha_terms, g.dn
        if self.learn_alpha:
            e_alpha, elog_alpha, alpha_terms, dn = update_alpha(
                self.c0, self.d0, g.cn, mu[:d] ** 2 + diag_sigma[:d], self.ard)
        return LogisticState(mu, np.ascontiguousarray(R), Rinv, diag_sigma, e_alpha, elog_alpha,
                             alpha_terms, g.cn, dn)

    def elbo(self, g_prev, g, stats):
        """The complete ELBO of the state ``g`` the sweep read, in nats.

        Data term (from the sweep) + E[log p(w | alpha)] + H[q(w)] +
        E[log p(alpha)] - E[log q(alpha)].
        """
        d = self.d
        mu, diag_sigma = g.mu, g.diag_sigma
        quad = mu[:d] ** 2 + diag_sigma[:d]
        prior_w = (-0.5 * d * _LOG_2PI + 0.5 * float(np.sum(g.elog_alpha))
                   - 0.5 * float(np.sum(g.e_alpha * quad)))
        if self.intercept:
            prior_w += (-0.5 * _LOG_2PI + 0.5 * np.log(self.beta0)
                        - 0.5 * self.beta0 * (mu[d] ** 2 + diag_sigma[d]))
        entropy = 0.5 * self.p * (1.0 + _LOG_2PI) - float(np.sum(np.log(np.diag(g.R))))
        return float(stats["data"] + prior_w + entropy + g.alpha_terms)
