"""A textbook model for the engine's tests: the univariate Gaussian with unknown
mean and precision under the mean-field q(mu) q(tau) (Bishop PRML section 10.1.3).

    x_n ~ N(mu, 1/tau),  mu | tau ~ N(mu0, 1/(lambda0 tau)),  tau ~ Gamma(a0, b0)

The statistics (N, sum x, sum x^2) add over blocks; the CAVI step is PRML
eqs. 10.26-10.30; the stochastic step blends the natural parameters of q(mu)
(lambda mu, -lambda/2) and q(tau) (a - 1, -b) with step rho.
"""

import numpy as np
from scipy.special import digamma, gammaln

from fastcavi.engine import Stats

LOG_2PI = np.log(2 * np.pi)


class GaussianMeanPrecision:
    """Engine model of PRML 10.1.3; global state g = (mu_N, lambda_N, a_N, b_N)."""

    static_stats = False  # the toy recomputes its statistics each pass, as a real model does

    def __init__(self, mu0=0.0, lambda0=1.0, a0=1.0, b0=1.0):
        self.mu0, self.lambda0, self.a0, self.b0 = mu0, lambda0, a0, b0

    def init_global(self):
        return (self.mu0, self.lambda0, self.a0, self.b0)

    def init_local(self, block, g, previous):
        return None

    def n_items(self, block):
        return len(block)

    def local_step(self, block, g, local):
        x = np.asarray(block, dtype=np.float64)
        return Stats(n=float(len(x)), sx=float(x.sum()), sxx=float(x @ x)), None

    def _cavi(self, g, stats):
        mu_n, lam_n, a_n, b_n = g
        n, sx, sxx = stats["n"], stats["sx"], stats["sxx"]
        e_tau = a_n / b_n
        mu_n = (self.lambda0 * self.mu0 + sx) / (self.lambda0 + n)          # 10.26
        lam_n = (self.lambda0 + n) * e_tau                                   # 10.27
        a_n = self.a0 + 0.5 * (n + 1.0)                                      # 10.29
        e_sq = sxx - 2 * mu_n * sx + n * (mu_n ** 2 + 1.0 / lam_n)
        b_n = self.b0 + 0.5 * (e_sq + self.lambda0 * ((mu_n - self.mu0) ** 2 + 1.0 / lam_n))
        return (mu_n, lam_n, a_n, b_n)                                       # 10.30

    def global_step(self, g, stats, scale=1.0, rho=1.0):
        target = self._cavi(g, stats.scaled(scale))
        if rho == 1.0:
            return target
        nat = lambda s: np.array([s[1] * s[0], -0.5 * s[1], s[2] - 1.0, -s[3]])  # noqa: E731
        e = (1 - rho) * nat(g) + rho * nat(target)
        lam = -2.0 * e[1]
        return (e[0] / lam, lam, e[2] + 1.0, -e[3])

    def elbo(self, g_prev, g, stats):
        mu_n, lam_n, a_n, b_n = g
        n, sx, sxx = stats["n"], stats["sx"], stats["sxx"]
        e_tau, e_log_tau = a_n / b_n, digamma(a_n) - np.log(b_n)
        e_sq = sxx - 2 * mu_n * sx + n * (mu_n ** 2 + 1.0 / lam_n)
        lik = 0.5 * n * (e_log_tau - LOG_2PI) - 0.5 * e_tau * e_sq
        p_mu = 0.5 * (np.log(self.lambda0) + e_log_tau - LOG_2PI) \
            - 0.5 * self.lambda0 * e_tau * ((mu_n - self.mu0) ** 2 + 1.0 / lam_n)
        p_tau = self.a0 * np.log(self.b0) - gammaln(self.a0) + (self.a0 - 1) * e_log_tau \
            - self.b0 * e_tau
        h_mu = 0.5 * (1.0 + LOG_2PI - np.log(lam_n))
        h_tau = a_n - np.log(b_n) + gammaln(a_n) + (1 - a_n) * digamma(a_n)
        return float(lik + p_mu + p_tau + h_mu + h_tau)

    def log_evidence(self, x):
        """log p(x) in closed form (the Normal-Gamma prior is conjugate)."""
        x = np.asarray(x, dtype=np.float64)
        n, xbar = len(x), x.mean()
        lam = self.lambda0 + n
        a = self.a0 + 0.5 * n
        b = self.b0 + 0.5 * (np.sum((x - xbar) ** 2) + self.lambda0 * n * (xbar - self.mu0) ** 2 / lam)
        return float(gammaln(a) - gammaln(self.a0) + self.a0 * np.log(self.b0) - a * np.log(b)
                     + 0.5 * np.log(self.lambda0 / lam) - 0.5 * n * LOG_2PI)
