"""Special functions for nopython (Numba) kernels.

numba-scipy does not support current SciPy, and calling ``scipy.special``'s
Cython exports through a ctypes pointer defeats ``cache=True``, so digamma is
written here. The same algorithm is used by the Cython backend
(``csrc/_lda.pyx``) so both are held to ``scipy.special.digamma``.

Algorithm (as in Cephes ``psi``, the basis of ``scipy.special.digamma``):

- near the positive root x0 = 1.46163214496836234..., the Taylor series
  ``psi(x) = sum_{n>=1} (-1)^(n+1) zeta(n+1, x0) (x - x0)^n``, with
  x - x0 formed in double-double to keep relative accuracy where psi -> 0;
- otherwise the recurrence ``psi(x) = psi(x + 1) - 1/x`` up to x >= 6 (the
  reciprocals summed as one fraction, so one division) and the asymptotic
  series ``log x - 1/(2x) - sum_k B_2k / (2k x^2k)`` to x^-20 (truncation
  error below 3e-15 at x = 6).

Max relative error against ``scipy.special.digamma`` is below 1e-13 over
(0, 1e6] (tested in ``tests/test_special.py``).
"""

import math

import numba
import numpy as np
from scipy.special import zeta

__all__ = ["digamma", "exp_digamma", "PSI_ROOT_HI", "PSI_ROOT_LO", "PSI_ROOT_TAYLOR", "PSI_ROOT_RADIUS"]

#: positive root of digamma as a double-double: hi + lo
PSI_ROOT_HI = 1.4616321449683622
PSI_ROOT_LO = 9.549995429965697e-17
#: half-width of the interval around the root where the Taylor series is used
PSI_ROOT_RADIUS = 0.25
#: Taylor coefficients c_n = (-1)^(n+1) zeta(n+1, x0), n = 1..24 (converge like (0.25/1.46)^n)
PSI_ROOT_TAYLOR = np.array(
    [(-1.0) ** (n + 1) * zeta(n + 1, PSI_ROOT_HI) for n in range(1, 25)], dtype=np.float64
)


@numba.njit(cache=True, nogil=True)
def _asymptotic_tail(z):
    """sum_{k=1..10} B_2k / (2k x^2k) with z = 1/x^2; truncation error < 3e-15 at x >= 6."""
    return z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (
        1.0 / 132 - z * (691.0 / 32760 - z * (1.0 / 12 - z * (3617.0 / 8160 - z * (
            43867.0 / 14364 - z * (174611.0 / 6600))))))))))


@numba.njit(cache=True, nogil=True)
def digamma(x):
    """Digamma function psi(x) for x > 0, in float64.

    Parameters
    ----------
    x : float
        Argument, > 0. Non-positive or NaN arguments return NaN (x = 0 gives
        -inf); fastcavi never calls it there.

    Returns
    -------
    float
        psi(x), relative error < 1e-13 against ``scipy.special.digamma``.
    """
    if not (x > 0.0):
        if x == 0.0:
            return -np.inf
        return np.nan
    t = x - PSI_ROOT_HI
    if abs(t) < PSI_ROOT_RADIUS:
        # t = x - x0 is exact (Sterbenz); the root's low part enters as a
        # first-order correction, psi(x) = P(t - lo) ~ P(t) - lo P'(0), which
        # stays correct even when a caller compiled with "reassoc" inlines
        # this function (t - lo would fold into x - (hi + lo) = x - hi)
        acc = 0.0
        for i in range(PSI_ROOT_TAYLOR.shape[0] - 1, -1, -1):
            acc = (acc + PSI_ROOT_TAYLOR[i]) * t
        return acc - PSI_ROOT_LO * PSI_ROOT_TAYLOR[0]
    result = 0.0
    if x < 6.0:
        # psi(x) = psi(x + n) - sum_{i<n} 1/(x + i); the sum as one fraction num/den
        # (one division instead of n)
        num = 0.0
        den = 1.0
        while x < 6.0:
            num = num * x + den
            den *= x
            x += 1.0
        result = -num / den
    inv = 1.0 / x
    return result + math.log(x) - 0.5 * inv - _asymptotic_tail(inv * inv)


@numba.njit(cache=True, nogil=True)
def exp_digamma(x):
    """exp(psi(x)) for x > 0, with one exp and no log or branches.

    ``psi(x) = psi(x + 6) - sum_{i<6} 1/(x + i)`` and the asymptotic series
    at y = x + 6 >= 6 give ``exp(psi(x)) = y exp(-sum_i 1/(x + i) - 1/(2y)
    - series(y))``, the reciprocals summed as one fraction. Relative error
    about 1e-14 against ``exp(scipy.special.digamma(x))``; 0 where exp(psi(x))
    underflows (x < 0.0014). For the E-step's exp(E[log theta]) =
    exp_digamma(gamma_k) / exp_digamma(sum gamma), where only absolute
    accuracy of psi matters (this is exp of a difference), so the root of
    psi needs no special care.

    Parameters
    ----------
    x : float
        Argument, >= 0 (0 gives 0, NaN gives NaN).

    Returns
    -------
    float
    """
    num = 1.0
    den = x
    y = x + 1.0
    for _ in range(5):
        num = num * y + den
        den *= y
        y += 1.0
    inv = 1.0 / y
    return y * math.exp(-(num / den) - 0.5 * inv - _asymptotic_tail(inv * inv))
