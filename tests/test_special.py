"""digamma of the Numba and Cython backends against scipy.special.digamma."""

import math

import numpy as np
import pytest
from scipy.special import digamma as scipy_digamma

from fastcavi.kernels import special

from conftest import SIMD_VARIANTS, with_simd

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


# ---------------------------------------------------------------------------
# vector exp and exp(psi(x)) of the Cython SIMD variants (csrc/_lda.pyx)
# ---------------------------------------------------------------------------

EPS = np.finfo(np.float64).eps


LDA_VARIANTS = tuple(SIMD_VARIANTS["lda"])
#: the vector variants, claimed bit-identical to each other (csrc/_lda.pyx)
VECTOR_VARIANTS = ("generic", "avx2", "avx512")
each_variant = pytest.mark.parametrize("variant", LDA_VARIANTS)


def _math(ext, variant, name, x):
    """``ext._vector_math(name, x)`` with ``variant`` selected (skips if the CPU lacks it)."""
    return with_simd("lda", variant, lambda: ext._vector_math(name, x))


def _assert_bits_of_generic(ext, variant, name, x, got):
    """The vector variants return generic's bits; "scalar" is not held to them."""
    if variant in VECTOR_VARIANTS and variant != "generic":
        want = _math(ext, "generic", name, x)
        assert np.array_equal(np.asarray(got), np.asarray(want)), (variant, name)


def _exp_grid():
    rng = np.random.default_rng(3)
    parts = [
        -np.geomspace(1e-300, 750.0, 20001), np.geomspace(1e-300, 720.0, 20001),
        np.linspace(-746.0, -700.0, 4001),  # results in the subnormal range
        np.linspace(-0.36, 0.36, 4001),  # the reduced interval
        rng.uniform(-745.0, 709.0, 20000),
        np.arange(-1100, 1100) * math.log(2) / 2,  # range-reduction ties
        np.array([0.0, -0.0, 709.78, 709.79, -745.13, -745.14, 1e300, -1e300]),
    ]
    return np.concatenate(parts)


@each_variant
def test_vector_exp_matches_numpy(cython_ext, variant):
    x = _exp_grid()
    with np.errstate(over="ignore"):
        want = np.exp(x)
    normal = (want >= np.finfo(np.float64).tiny) & np.isfinite(want)
    got = _math(cython_ext, variant, "exp", x)
    ulps = np.abs(got[normal] - want[normal]) / np.spacing(want[normal])
    assert ulps.max() <= 1.0, x[normal][np.argmax(ulps)]
    # subnormal results: within one subnormal step; overflow and underflow exact
    sub = ~normal & (want > 0) & np.isfinite(want)
    assert np.all(np.abs(got[sub] - want[sub]) <= 5e-324)
    assert np.array_equal(got[~normal & ~sub], want[~normal & ~sub])
    _assert_bits_of_generic(cython_ext, variant, "exp", x, got)


@each_variant
def test_vector_exp_special_arguments(cython_ext, variant):
    x = np.array([np.inf, -np.inf, np.nan, 0.0])
    got = _math(cython_ext, variant, "exp", x)
    assert got[0] == np.inf and got[1] == 0.0 and np.isnan(got[2]) and got[3] == 1.0


def _exp_digamma_grid():
    return np.concatenate([GRID, np.geomspace(1e-3, 1e8, 5001), np.linspace(1e-3, 30.0, 3001)])


@each_variant
def test_vector_exp_digamma_matches_scipy(cython_ext, variant):
    """exp(psi(x)) of every variant: the absolute error of psi(x) it implies is below
    1e-13 (relative to max(1, |psi(x)|)), the vector variants are within 8 eps
    max(1, |psi(x)|) relative of the scalar one (libm exp) and bit-identical to each
    other. (The scalar one
    itself differs from scipy by up to ~4e-13 relative at x = 1e-3, where
    psi(x) = -1000.)"""
    x = _exp_digamma_grid()
    psi = scipy_digamma(x)
    want = np.exp(psi)
    ok = want > 1e-300  # exp(psi(x)) underflows for x < 0.0014
    got = _math(cython_ext, variant, "exp_digamma", x)
    implied = np.abs(np.log(got[ok]) - psi[ok]) / np.maximum(1.0, np.abs(psi[ok]))
    assert implied.max() <= RTOL, x[ok][np.argmax(implied)]
    assert np.all(got[~ok] < 1e-290)
    scalar = _math(cython_ext, "scalar", "exp_digamma", x)
    # rounding the exponent psi(x) - log(x + 6) differently moves the result by
    # ~eps * |psi(x)| relative (below 1e-300, exp(psi(x)) / 6 is subnormal)
    scale = 8 * EPS * np.maximum(1.0, np.abs(psi[ok]))
    assert np.all(np.abs(got[ok] - scalar[ok]) <= scale * scalar[ok])
    assert np.all(np.abs(got[~ok] - scalar[~ok]) <= 1e-310)
    _assert_bits_of_generic(cython_ext, variant, "exp_digamma", x, got)


#: row lengths: below, at and past every vector width (2, 4, 8, 16 lanes)
ROW_LENGTHS = tuple(range(20)) + (31, 32, 33, 50)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@each_variant
def test_vector_exp_digamma_any_length(cython_ext, variant, dtype):
    """Full vectors, pairs of vectors and the padded tail give the same bits per entry,
    float32 rows are the float64 results rounded."""
    x = np.random.default_rng(5).gamma(0.5, 4.0, 64).astype(dtype) + dtype(0.01)
    full = with_simd("lda", variant, lambda: [
        cython_ext._vector_math("exp_digamma", x[:n]) for n in ROW_LENGTHS
    ] + [cython_ext._vector_math("exp_digamma", x)])
    whole = full[-1]
    assert whole.dtype == dtype
    for n, row in zip(ROW_LENGTHS, full):
        assert np.array_equal(row, whole[:n]), n
    _assert_bits_of_generic(cython_ext, variant, "exp_digamma", x, whole)
    if dtype == np.float32:
        # float32 rows are computed in float32 lanes (see the next test)
        wide = cython_ext._vector_math("exp_digamma", x.astype(np.float64))
        narrow = cython_ext._vector_math("exp_digamma", x).astype(np.float64)
        normal = wide > np.finfo(np.float32).tiny * 8  # below, float32 flushes to zero
        scale = F32_EXPDIG_RTOL * np.maximum(1.0, np.abs(np.log(wide[normal])))
        assert np.all(np.abs(narrow - wide)[normal] <= scale * wide[normal])
        assert np.all(narrow[~normal] <= 1e-36)


# float32 rows: relative error of exp(psi(x)) per max(1, |psi(x)|); observed 5.1e-7
F32_EXPDIG_RTOL = 1e-6


@each_variant
def test_vector_exp_digamma_float32_lanes(cython_ext, variant):
    """float32 rows of the vector variants (float32 lanes): within F32_EXPDIG_RTOL
    max(1, |psi(x)|) relative of scipy where exp(psi(x)) is a normal float32, zero or
    tiny below, finite for huge x (the shifted factors cannot overflow), bit-identical
    across the vector variants; the scalar variant rounds its float64 result."""
    x = np.concatenate([np.geomspace(1e-30, 3e38, 4001), np.linspace(1e-3, 30.0, 3001),
                        [1.4616321, 1.4616322]]).astype(np.float32)
    psi = scipy_digamma(x.astype(np.float64))
    want = np.exp(psi)
    normal = want > np.finfo(np.float32).tiny * 8
    raw = _math(cython_ext, variant, "exp_digamma", x)
    assert raw.dtype == np.float32
    got = raw.astype(np.float64)
    assert np.all(np.isfinite(got))
    err = np.abs(got[normal] - want[normal]) / want[normal]
    assert np.all(err <= F32_EXPDIG_RTOL * np.maximum(1.0, np.abs(psi[normal]))), (
        x[normal][np.argmax(err)])
    assert np.all(got[~normal] <= 1e-36)
    _assert_bits_of_generic(cython_ext, variant, "exp_digamma", x, raw)


@each_variant
def test_vector_digamma_lgamma_match_scipy(cython_ext, variant):
    """psi and lgamma of the vector variants (used for the per-document bound): psi
    to the documented 1e-13 relative over GRID (Taylor branch near the root
    included), lgamma to 1e-14 absolute where |lgamma| < 1 (the bound needs absolute
    accuracy; lgamma(1) = lgamma(2) = 0) and 1e-14 relative elsewhere; the vector
    variants bit-identical."""
    from scipy.special import gammaln

    x = np.concatenate([GRID, np.geomspace(1e-300, 1e300, 4001)])
    want_psi, want_lg = scipy_digamma(x), gammaln(x)
    psi, lg = got = _math(cython_ext, variant, "digamma_lgamma", x)
    assert psi.shape == lg.shape == x.shape
    in_grid = slice(0, GRID.shape[0])
    err = np.abs(psi[in_grid] - EXPECTED) / np.abs(EXPECTED)
    assert err.max() <= RTOL, GRID[np.argmax(err)]
    big = np.abs(psi - want_psi) / np.abs(want_psi)
    assert big.max() <= RTOL, x[np.argmax(big)]
    lg_err = np.abs(lg - want_lg) / np.maximum(1.0, np.abs(want_lg))
    assert lg_err.max() <= 1e-14, x[np.argmax(lg_err)]
    _assert_bits_of_generic(cython_ext, variant, "digamma_lgamma", x, got)


@each_variant
def test_vector_digamma_lgamma_special_arguments(cython_ext, variant):
    x = np.array([0.0, np.inf, np.nan, -1.0, -0.5, 5e-324, 1e-310, 1e15, 1e300, 2.0, 1.0])
    with np.errstate(all="ignore"):
        from scipy.special import gammaln

        want_lg = gammaln(x)
    psi, lg = _math(cython_ext, variant, "digamma_lgamma", x)
    assert psi[0] == -np.inf and psi[1] == np.inf
    assert np.isnan(psi[2]) and np.isnan(psi[3]) and np.isnan(psi[4])
    assert psi[5] == -np.inf or psi[5] < -1e300  # -1/x overflows
    np.testing.assert_allclose(psi[6:], scipy_digamma(x[6:]), rtol=RTOL)
    assert lg[0] == np.inf and lg[1] == np.inf and np.isnan(lg[2])
    # (scipy's gammaln gives inf for subnormal x; lgamma(x) = -log(x) - ... there)
    np.testing.assert_allclose(lg[5:7], -np.log(x[5:7]), rtol=1e-14)
    np.testing.assert_allclose(lg[7:], want_lg[7:], rtol=1e-14, atol=1e-14)
