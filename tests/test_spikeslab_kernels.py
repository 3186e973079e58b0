"""The Numba and Cython spike-and-slab sweeps against the NumPy reference.

Tolerance: the backends form ``x_j^T Xr`` in another summation order than
NumPy's BLAS dot (chunks of 1024 rows; 16 partial sums in Cython, LLVM's
vectorised order in Numba), so each inner product differs by a few ulps of
``sum |x_ij Xr_i|``; the update amplifies that by at most ``s_j / sigma2 *
sum|x_ij Xr_i|`` relative to |mu_j|, and the next coordinates see it through
Xr. After ``N_SWEEPS`` sweeps on these well-scaled random problems the
largest difference observed was 4.4e-16 of the scale of each quantity
(``max|got - want| / max(1, max|want|)`` over every case below); held to
1e-10 as the LDA kernels are, leaving room for other CPUs' vector widths.
float32 X is read as float32 by every backend and promoted, everything else
is float64, so the same tolerance applies.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from fastcavi.kernels import get_backend

from conftest import FAST_BACKENDS, SIMD_VARIANTS, require_backend, with_simd

REFERENCE = get_backend("numpy", "spikeslab")
ATOL = 1e-10
N_SWEEPS = 3


def make_problem(seed, n, p, dtype, density=None, zero_col=False, index_dtype=np.int32,
                 centre=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    if density is not None:
        X *= rng.random((n, p)) < density
    if zero_col and p > 1:
        X[:, 1] = 0.0
    X = X.astype(dtype)
    beta = np.zeros(p)
    beta[: max(1, p // 4)] = rng.standard_normal(max(1, p // 4))
    y = X.astype(np.float64) @ beta + rng.standard_normal(n)
    alpha = rng.random(p)
    alpha /= alpha.sum()
    mu = rng.standard_normal(p)
    prob = dict(alpha=alpha, mu=mu, s=np.ones(p), logodds=rng.uniform(-3, 1, p),
                sigma2=float(rng.uniform(0.5, 2.0)), sa=float(rng.uniform(0.1, 2.0)))
    if density is None:
        Xf = np.asfortranarray(X)
        X64 = Xf.astype(np.float64)
        prob.update(X=Xf, xy=X64.T @ y, d=np.einsum("ij,ij->j", X64, X64),
                    Xr=X64 @ (alpha * mu))
    else:
        Xs = sp.csc_matrix(X)
        Xs.indices = Xs.indices.astype(index_dtype)
        Xs.indptr = Xs.indptr.astype(index_dtype)
        X64 = X.astype(np.float64)
        xm = X64.mean(axis=0) if centre else np.zeros(p)
        Xc = X64 - xm
        Xr = X64 @ (alpha * mu)
        prob.update(data=Xs.data, indices=Xs.indices, indptr=Xs.indptr, xm=xm, wsum=float(n),
                    xy=Xc.T @ (y - y.mean() if centre else y), d=np.einsum("ij,ij->j", Xc, Xc),
                    Xr=Xr, xr_sum=np.array([Xr.sum()]), Xc=Xc)
    return prob


def run_dense(backend, prob, order, n_threads=1, sweeps=N_SWEEPS):
    a, m, s, Xr = (prob[k].copy() for k in ("alpha", "mu", "s", "Xr"))
    for _ in range(sweeps):
        backend.spikeslab_sweep_dense(prob["X"], prob["xy"], prob["d"], prob["sigma2"], prob["sa"],
                                      prob["logodds"], a, m, s, Xr, order, n_threads)
    return a, m, s, Xr


def run_csc(backend, prob, order, n_threads=1, sweeps=N_SWEEPS):
    a, m, s, Xr, T = (prob[k].copy() for k in ("alpha", "mu", "s", "Xr", "xr_sum"))
    for _ in range(sweeps):
        backend.spikeslab_sweep_csc(prob["data"], prob["indices"], prob["indptr"], prob["xm"],
                                    prob["wsum"], prob["xy"], prob["d"], prob["sigma2"],
                                    prob["sa"], prob["logodds"], a, m, s, Xr, T, order, n_threads)
    return a, m, s, Xr, T


def assert_same(got, want, atol=ATOL):
    for g, w, name in zip(got, want, ("alpha", "mu", "s", "Xr", "xr_sum")):
        np.testing.assert_allclose(g, w, rtol=0, atol=atol * max(1.0, np.max(np.abs(w))),
                                   err_msg=name)


SHAPES = [(1, 1), (7, 3), (50, 1), (33, 17), (2500, 6)]


@pytest.mark.parametrize("name", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_dense_sweep_matches_reference(name, dtype, shape):
    backend = require_backend(name, "spikeslab")
    n, p = shape
    prob = make_problem(n * 31 + p, n, p, dtype, zero_col=True)
    order = np.arange(p, dtype=np.int64)
    if p > 2:  # a backward sweep and a subset of the coordinates as well
        order = np.concatenate([order[::-1], order[::2]])[:p]
    assert_same(run_dense(backend, prob, order), run_dense(REFERENCE, prob, order))


def test_dense_sweep_reference_is_the_coordinate_update():
    """The reference's sweep is the closed-form coordinate update of Carbonetto & Stephens (2012)."""
    prob = make_problem(5, 40, 4, np.float64)
    X = prob["X"]
    a, m, s, Xr = run_dense(REFERENCE, prob, np.array([2], dtype=np.int64), sweeps=1)
    r = prob["alpha"] * prob["mu"]
    r_others = X @ r - X[:, 2] * r[2]
    s2 = prob["sigma2"] * prob["sa"] / (prob["sa"] * prob["d"][2] + 1)
    m2 = s2 / prob["sigma2"] * (prob["xy"][2] - X[:, 2] @ r_others)
    logit = prob["logodds"][2] + 0.5 * np.log(s2 / (prob["sa"] * prob["sigma2"])) + m2**2 / (2 * s2)
    np.testing.assert_allclose([s[2], m[2], a[2]], [s2, m2, 1 / (1 + np.exp(-logit))], rtol=1e-12)
    np.testing.assert_allclose(Xr, X @ (a * m), atol=1e-12)
    # untouched coordinates stay as they were
    np.testing.assert_array_equal(np.delete(a, 2), np.delete(prob["alpha"], 2))


@pytest.mark.parametrize("name", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("centre", [False, True])
@pytest.mark.parametrize("shape", [(1, 1), (9, 5), (300, 12)])
def test_csc_sweep_matches_reference(name, dtype, index_dtype, centre, shape):
    backend = require_backend(name, "spikeslab")
    n, p = shape
    prob = make_problem(n + 7 * p, n, p, dtype, density=0.3, zero_col=True,
                        index_dtype=index_dtype, centre=centre)
    order = np.arange(p, dtype=np.int64)[::-1].copy()
    assert_same(run_csc(backend, prob, order), run_csc(REFERENCE, prob, order))


def test_csc_implicit_centring_is_the_dense_centred_sweep():
    """The CSC sweep with xm, wsum equals the dense sweep on the explicitly centred X."""
    prob = make_problem(3, 200, 8, np.float64, density=0.4, centre=True)
    order = np.arange(8, dtype=np.int64)
    a, m, s, Xr, T = run_csc(REFERENCE, prob, order)
    Xc = np.asfortranarray(prob["Xc"])
    dense = dict(prob, X=Xc, Xr=Xc @ (prob["alpha"] * prob["mu"]))
    a2, m2, s2, Xr2 = run_dense(REFERENCE, dense, order)
    np.testing.assert_allclose(np.c_[a, m, s], np.c_[a2, m2, s2], atol=1e-10)
    # the kernel's uncentred Xr and T recover the centred product
    np.testing.assert_allclose(Xr - prob["xm"] @ (a * m), Xr2, atol=1e-10)
    np.testing.assert_allclose(T[0], Xr.sum(), rtol=1e-10)


@pytest.mark.parametrize("name", FAST_BACKENDS)
def test_empty_order_changes_nothing(name):
    backend = require_backend(name, "spikeslab")
    prob = make_problem(1, 20, 3, np.float64)
    order = np.zeros(0, dtype=np.int64)
    got = run_dense(backend, prob, order)
    for g, k in zip(got, ("alpha", "mu", "s", "Xr")):
        np.testing.assert_array_equal(g, prob[k])


@pytest.mark.parametrize("name", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_threaded_sweep_is_bit_identical(name, dtype, monkeypatch):
    """The row-chunked threaded sweep gives exactly the serial sweep's bits."""
    backend = require_backend(name, "spikeslab")
    module = __import__("fastcavi.linear_model.spikeslab_numba" if name == "numba"
                        else "fastcavi._ext._spikeslab", fromlist=["x"])
    prob = make_problem(11, 5000, 9, dtype)
    order = np.arange(9, dtype=np.int64)
    serial = run_dense(backend, prob, order, n_threads=1)
    monkeypatch.setattr(module, "PARALLEL_MIN_ROWS", 0)
    for n_threads in (2, 3):
        threaded = run_dense(backend, prob, order, n_threads=n_threads)
        for a, b in zip(serial, threaded):
            np.testing.assert_array_equal(a, b)
    if name == "cython":
        with pytest.raises(ValueError, match="order must not repeat"):
            run_dense(backend, prob, np.array([0, 0], dtype=np.int64), n_threads=2)


SS_VARIANTS = tuple(SIMD_VARIANTS["spikeslab"])
#: rows: below, at and past the 16 partial sums, and past one and several chunks of
#: CHUNK = 1024 rows (with a short last chunk)
SIMD_ROWS = (1, 3, 7, 8, 9, 16, 17, 50, 1023, 1025, 3001)


def simd_problems(dtype):
    for n in SIMD_ROWS:
        yield n, make_problem(4 + n, n, 7, dtype), np.arange(7, dtype=np.int64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("variant", SS_VARIANTS)
def test_cython_simd_variant_matches_reference(variant, dtype):
    backend = require_backend("cython", "spikeslab")
    for n, prob, order in simd_problems(dtype):
        got = with_simd("spikeslab", variant, lambda: run_dense(backend, prob, order))
        assert_same(got, run_dense(REFERENCE, prob, order))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("variant", [v for v in SS_VARIANTS if v != "generic"])
def test_cython_simd_variants_are_bit_identical(variant, dtype):
    backend = require_backend("cython", "spikeslab")
    for n, prob, order in simd_problems(dtype):
        want = with_simd("spikeslab", "generic", lambda: run_dense(backend, prob, order))
        got = with_simd("spikeslab", variant, lambda: run_dense(backend, prob, order))
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b, err_msg=f"n={n}")
