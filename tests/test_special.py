"""digamma of the Numba and Cython backends against scipy.special.digamma."""

import math

import numpy as np
import pytest
from scipy.special import digamma as scipy_digamma

from fastcavi.kernels import special

#: documented accuracy of both implementations (relative, against SciPy)
RTOL = 1e-13


def _numba_digamma(x):
    return np.array([special.digamma(float(v)) for v in x])


def _cython_digamma(ext, x):
    return np.array([ext.digamma(float(v)) for v in x])


def _grid():
    """Dense arguments over [1e-8, 1e6], with the places where the algorithm switches."""
    rng = np.random.default_rng(7)
    root, radius = special.PSI_ROOT_HI, special.PSI_ROOT_RADIUS
    edges = [root - radius, root + radius, 10.0, 1.0, 2.0]
    near_edges = [np.nextafter(e, d) for e in edges for d in (-np.inf, np.inf)]
    ulps_at_root = root + np.arange(-50, 51) * np.spacing(root)
    parts = [
        np.geomspace(1e-8, 1e6, 20001),
        np.linspace(root - 0.3, root + 0.3, 6001),  # Taylor interval and around it
        ulps_at_root,  # psi(x) -> 0: relative accuracy needs the double-double root
        np.array(edges + near_edges),
        np.linspace(0.01, 1.0, 991),  # Dirichlet priors alpha
        np.linspace(9.0, 11.0, 401),  # end of the recurrence
        np.arange(1.0, 40.0),
        # sums of variational parameters, as in psi(sum(gamma_d)) and psi(sum_w lambda_kw)
        rng.gamma(100.0, 0.01, size=(300, 50)).sum(axis=1),
        rng.gamma(0.5, 1.0, size=(300, 10)).sum(axis=1) + 0.01,
        rng.gamma(100.0, 0.01, size=(20, 5000)).sum(axis=1),
        rng.uniform(1e-8, 1e-3, 300),
    ]
    x = np.concatenate(parts)
    return x[(x >= 1e-8) & (x <= 1e6)]


GRID = _grid()
EXPECTED = scipy_digamma(GRID)


def _assert_close_to_scipy(got):
    err = np.abs(got - EXPECTED) / np.abs(EXPECTED)
    worst = int(np.argmax(err))
    assert err[worst] <= RTOL, (
        f"relative error {err[worst]:.3g} at x={GRID[worst]!r}: "
        f"got {got[worst]!r}, scipy {EXPECTED[worst]!r}"
    )


def test_grid_covers_the_regimes():
    root, radius = special.PSI_ROOT_HI, special.PSI_ROOT_RADIUS
    assert GRID.min() <= 1e-7 and GRID.max() >= 1e6 - 1
    assert np.sum(np.abs(GRID - root) < radius) > 1000  # Taylor series
    assert np.sum((GRID < 10) & (np.abs(GRID - root) >= radius)) > 1000  # recurrence
    assert np.sum(GRID >= 10) > 1000  # asymptotic series only
    assert np.min(np.abs(EXPECTED)) < 1e-15  # arguments within ulps of the root


def test_numba_digamma_matches_scipy():
    _assert_close_to_scipy(_numba_digamma(GRID))


def test_cython_digamma_matches_scipy(cython_ext):
    _assert_close_to_scipy(_cython_digamma(cython_ext, GRID))


def test_cython_uses_the_same_taylor_coefficients(cython_ext):
    # the .pyx recomputes them with scipy.special.zeta at import, like special.py
    assert np.array_equal(cython_ext.PSI_ROOT_TAYLOR, special.PSI_ROOT_TAYLOR)
    assert cython_ext.PSI_ROOT_HI == special.PSI_ROOT_HI
    assert cython_ext.PSI_ROOT_LO == special.PSI_ROOT_LO
    assert cython_ext.PSI_ROOT_RADIUS == special.PSI_ROOT_RADIUS


@pytest.mark.parametrize(
    "x, expected",
    [(0.0, -math.inf), (-1.0, math.nan), (-0.5, math.nan), (math.nan, math.nan),
     (math.inf, math.inf)],
)
def test_special_arguments(cython_ext, x, expected):
    for impl in (special.digamma, cython_ext.digamma):
        got = impl(x)
        if math.isnan(expected):
            assert math.isnan(got), (impl, x, got)
        else:
            assert got == expected, (impl, x, got)
