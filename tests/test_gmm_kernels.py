"""The Gaussian-mixture kernel ``gmm_e_step``: NumPy reference, Numba and Cython.

- the reference against a direct dense computation (explicit n x K matrix of
  log densities, scipy.special.logsumexp, einsum statistics) and against
  scikit-learn's BayesianGaussianMixture E-step;
- Numba and Cython against the reference for every covariance type, float32
  and float64, with and without weights, statistics on/off, skipped outputs
  and edge shapes;
- bit-identical results for n_threads 1 and 2, chunk partition properties,
  0 log 0 and NaN handling.
"""

import numpy as np
import pytest
from scipy.special import digamma, logsumexp

from fastcavi.kernels import get_backend
from fastcavi.mixture.gmm_reference import COV_TYPES, chunk_bounds

from conftest import SIMD_VARIANTS, require_backend, simd_module, with_simd

FAST = ("numba", "cython")


def make_problem(rng, n, d, K, cov_type, dtype=np.float64, weighted=True, spread=2.0):
    """Samples, weights, means, precision Cholesky factors and log_bias."""
    X = rng.normal(size=(n, d)) + spread * rng.normal(size=(K, d))[rng.integers(0, K, n)]
    means = X[rng.choice(n, K)] if n >= K else rng.normal(size=(K, d))
    means = means + 0.1 * rng.normal(size=(K, d))
    if cov_type == "full":
        prec = np.triu(0.3 * rng.normal(size=(K, d, d)))
        prec[:, np.arange(d), np.arange(d)] = rng.uniform(0.5, 1.5, size=(K, d))
    elif cov_type == "tied":
        prec = np.triu(0.3 * rng.normal(size=(d, d)))
        prec[np.arange(d), np.arange(d)] = rng.uniform(0.5, 1.5, size=d)
    elif cov_type == "diag":
        prec = rng.uniform(0.5, 1.5, size=(K, d))
    else:
        prec = rng.uniform(0.5, 1.5, size=K)
    w = rng.uniform(0.2, 3.0, size=n) if weighted else np.ones(n)
    log_bias = rng.normal(size=K) - 0.5 * d * np.log(2 * np.pi)
    return (X.astype(dtype), w.astype(dtype), means.astype(dtype), prec.astype(dtype), log_bias)


def sxx_shape(cov_type, K, d):
    return {"full": (K, d, d), "tied": (0,), "diag": (K, d), "spherical": (K,)}[cov_type]


def run(backend, problem, cov_type, compute_stats=True, write_resp=True, write_norm=True,
        n_threads=1, fill=np.nan):
    """Call one backend; returns (sums, nk, sx, sxx, log_resp, log_norm)."""
    X, w, means, prec, log_bias = problem
    n, d = X.shape
    K = means.shape[0]
    nk = np.full(K, fill)
    sx = np.full((K, d), fill)
    sxx = np.full(sxx_shape(cov_type, K, d), fill)
    log_resp = np.full((n if write_resp else 0, K), np.nan, dtype=X.dtype)
    log_norm = np.full(n if write_norm else 0, np.nan, dtype=X.dtype)
    sums = backend.gmm_e_step(X, w, means, prec, log_bias, cov_type, nk, sx, sxx, log_resp,
                              log_norm, compute_stats, n_threads)
    assert isinstance(sums, tuple) and len(sums) == 2
    assert all(isinstance(v, float) for v in sums)
    return sums, nk, sx, sxx, log_resp, log_norm


def assert_close(actual, desired, rtol):
    """Agreement relative to the array's scale (entries near 0 get the same absolute slack)."""
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    assert actual.shape == desired.shape
    scale = np.max(np.abs(desired)) if desired.size else 0.0
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale)


def dense_oracle(problem, cov_type):
    """Direct n x K computation with full precision matrices Lambda_k = U_k U_k^T."""
    X, w, means, prec, log_bias = (np.asarray(a, dtype=np.float64) for a in problem)
    n, d = X.shape
    K = means.shape[0]
    if cov_type == "full":
        U = prec
    elif cov_type == "tied":
        U = np.broadcast_to(prec, (K, d, d))
    elif cov_type == "diag":
        U = np.stack([np.diag(p) for p in prec])
    else:
        U = np.stack([p * np.eye(d) for p in prec])
    Lam = np.einsum("kij,klj->kil", U, U)
    diff = X[:, None, :] - means[None, :, :]  # (n, K, d)
    maha = np.einsum("nki,kij,nkj->nk", diff, Lam, diff)
    log_rho = log_bias[None, :] - 0.5 * maha
    log_norm = logsumexp(log_rho, axis=1)
    log_resp = log_rho - log_norm[:, None]
    r = np.exp(log_resp)
    wr = w[:, None] * r
    nk = wr.sum(0)
    sx = np.einsum("nk,nkd->kd", wr, diff)
    if cov_type == "full":
        sxx = np.einsum("nk,nki,nkj->kij", wr, diff, diff)
    elif cov_type == "diag":
        sxx = np.einsum("nk,nkd->kd", wr, diff**2)
    elif cov_type == "spherical":
        sxx = np.einsum("nk,nkd->k", wr, diff**2)
    else:
        sxx = np.zeros(0)
    sums = (float(w @ log_norm), float(w @ (r * log_resp).sum(1)))
    return sums, nk, sx, sxx, log_resp, log_norm


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("n", [1, 37, 1100])
def test_reference_against_dense_computation(cov_type, n):
    rng = np.random.default_rng(n)
    problem = make_problem(rng, n, 4, 3, cov_type)
    ref = get_backend("numpy", "gmm")
    got = run(ref, problem, cov_type)
    want = dense_oracle(problem, cov_type)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    for a, b in zip(got[1:], want[1:]):
        if cov_type == "tied" and b.size == 0:
            continue
        assert_close(a, b, 1e-12)
    # responsibilities are a probability distribution over components
    np.testing.assert_allclose(np.exp(got[4]).sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(got[1].sum(), problem[1].sum(), rtol=1e-12)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_reference_matches_sklearn_e_step(cov_type):
    """log_bias built from a fitted BayesianGaussianMixture reproduces its E-step."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture
    from sklearn.mixture._gaussian_mixture import _compute_log_det_cholesky

    rng = np.random.default_rng(3)
    n, d, K = 400, 3, 3
    X = rng.normal(size=(n, d)) + 4 * rng.normal(size=(K, d))[rng.integers(0, K, n)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = BayesianGaussianMixture(n_components=K, covariance_type=cov_type, max_iter=3,
                                    weight_concentration_prior_type="dirichlet_distribution",
                                    random_state=0).fit(X)
    elog_pi = digamma(m.weight_concentration_) - digamma(m.weight_concentration_.sum())
    log_det = _compute_log_det_cholesky(m.precisions_cholesky_, cov_type, d)
    log_lambda = d * np.log(2.0) + np.sum(
        digamma(0.5 * (m.degrees_of_freedom_ - np.arange(d)[:, None])), 0)
    log_bias = (elog_pi + log_det - 0.5 * d * np.log(2 * np.pi)
                - 0.5 * d * np.log(m.degrees_of_freedom_)
                + 0.5 * (log_lambda - d / m.mean_precision_))
    problem = (X, np.ones(n), m.means_, m.precisions_cholesky_, log_bias)
    sums, nk, sx, sxx, log_resp, log_norm = run(get_backend("numpy", "gmm"), problem, cov_type)
    sk_norm, sk_resp = m._estimate_log_prob_resp(X)
    np.testing.assert_allclose(log_resp, sk_resp, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(log_norm, sk_norm, rtol=1e-12)
    r = np.exp(sk_resp)
    np.testing.assert_allclose(nk, r.sum(0), rtol=1e-10)
    # recentred means equal scikit-learn's responsibility-weighted means
    xbar = m.means_ + sx / nk[:, None]
    np.testing.assert_allclose(xbar, (r.T @ X) / r.sum(0)[:, None], rtol=1e-10)


SHAPES = [
    (1, 3, 2),      # one sample
    (9, 1, 3),      # one feature, n smaller than a SIMD strip
    (70, 4, 1),     # one component
    (300, 9, 3),    # n < one chunk, d not a multiple of 4 or 8
    (1111, 16, 5),  # several chunks, n not a multiple of any block
]


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_fast_backend_matches_reference(name, cov_type, dtype, shape):
    backend = require_backend(name, "gmm")
    ref = get_backend("numpy", "gmm")
    n, d, K = shape
    rng = np.random.default_rng(n * 7 + d)
    weighted = n % 2 == 1
    problem = make_problem(rng, n, d, K, cov_type, dtype, weighted)
    # float64: 1e-10 relative (the contract); float32 inputs are computed in
    # float64 too, only log_resp/log_norm are rounded to float32 on output
    rtol = 1e-10
    out_rtol = 1e-10 if dtype == np.float64 else 2e-6
    want = run(ref, problem, cov_type)
    got = run(backend, problem, cov_type)
    np.testing.assert_allclose(got[0], want[0], rtol=rtol, atol=rtol * max(abs(want[0][0]), 1.0))
    for a, b in zip(got[1:4], want[1:4]):
        assert_close(a, b, rtol)
    assert got[4].dtype == dtype and got[5].dtype == dtype
    assert_close(got[4], want[4], out_rtol)
    assert_close(got[5], want[5], out_rtol)
    # statistics off: nk/sx/sxx untouched, per-sample outputs the same
    got_nostats = run(backend, problem, cov_type, compute_stats=False, fill=-7.0)
    for a in got_nostats[1:4]:
        assert np.all(a == -7.0)
    np.testing.assert_array_equal(got_nostats[4], got[4])
    np.testing.assert_array_equal(got_nostats[5], got[5])
    assert got_nostats[0] == got[0]
    # skipped outputs: no write, same statistics and sums
    got_skip = run(backend, problem, cov_type, write_resp=False, write_norm=False)
    assert got_skip[4].shape == (0, K) and got_skip[5].shape == (0,)
    assert got_skip[0] == got[0]
    for a, b in zip(got_skip[1:4], got[1:4]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ("numpy",) + FAST)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_only_one_output_skipped(name, cov_type):
    backend = require_backend(name, "gmm")
    problem = make_problem(np.random.default_rng(5), 300, 3, 4, cov_type)
    full = run(backend, problem, cov_type)
    no_resp = run(backend, problem, cov_type, write_resp=False)
    no_norm = run(backend, problem, cov_type, write_norm=False)
    np.testing.assert_array_equal(no_resp[5], full[5])
    np.testing.assert_array_equal(no_norm[4], full[4])


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bit_identical_across_thread_counts(name, cov_type, dtype):
    backend = require_backend(name, "gmm")
    problem = make_problem(np.random.default_rng(11), 20_000, 6, 4, cov_type, dtype)
    assert len(chunk_bounds(20_000)) - 1 > 2  # really several chunks to share out
    one = run(backend, problem, cov_type, n_threads=1)
    two = run(backend, problem, cov_type, n_threads=2)
    assert one[0] == two[0]
    for a, b in zip(one[1:], two[1:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ("numpy",) + FAST)
def test_zero_log_zero_and_far_components(name):
    """A component with rho = 0 (log_bias = -inf) or far away contributes nothing."""
    backend = require_backend(name, "gmm")
    rng = np.random.default_rng(2)
    X, w, means, prec, log_bias = make_problem(rng, 200, 3, 4, "diag")
    log_bias[1] = -np.inf
    means[2] += 1e4  # exp underflows to exactly 0
    sums, nk, sx, sxx, log_resp, log_norm = run(backend, (X, w, means, prec, log_bias), "diag")
    assert np.all(np.isfinite(sums))
    assert nk[1] == 0.0 and nk[2] == 0.0
    assert np.all(sx[1] == 0.0) and np.all(sxx[2] == 0.0)
    assert np.all(log_resp[:, 1] == -np.inf)
    assert np.all(np.isfinite(log_norm))
    ref = run(get_backend("numpy", "gmm"), (X, w, means, prec, log_bias), "diag")
    np.testing.assert_allclose(sums, ref[0], rtol=1e-10)


@pytest.mark.parametrize("name", ("numpy",) + FAST)
@pytest.mark.parametrize("cov_type", ["full", "diag"])
def test_nan_sample_propagates(name, cov_type):
    """NaN in a sample gives NaN for that sample (never a silent number) only."""
    backend = require_backend(name, "gmm")
    X, w, means, prec, log_bias = make_problem(np.random.default_rng(4), 300, 5, 3, cov_type)
    X[17, 2] = np.nan
    sums, nk, sx, sxx, log_resp, log_norm = run(backend, (X, w, means, prec, log_bias), cov_type)
    assert np.isnan(log_norm[17]) and np.all(np.isnan(log_resp[17]))
    assert np.all(np.isfinite(np.delete(log_norm, 17)))
    assert np.isnan(sums[0]) and np.all(np.isnan(nk))


def test_chunk_bounds_depend_on_n_only():
    assert chunk_bounds(0).tolist() == [0]
    for n in [1, 255, 256, 257, 5000, 16_385, 200_000, 10**7]:
        b = chunk_bounds(n)
        assert b[0] == 0 and b[-1] == n
        sizes = np.diff(b)
        assert np.all(sizes > 0) and len(sizes) <= 64
        assert np.all(sizes[:-1] == sizes[0]) and np.all(sizes[:-1] % 256 == 0)
        assert sizes[-1] <= sizes[0]
    assert len(chunk_bounds(200_000)) - 1 > 8


GMM_VARIANTS = tuple(SIMD_VARIANTS["gmm"])
#: components and features below, at and past the 8-lane tiles; n = 777 is six
#: blocks of 128 samples and a tail of 9 (not a multiple of the 8 sample lanes)
SIMD_COMPONENTS = (1, 3, 7, 8, 9, 16, 17, 50)
SIMD_FEATURES = (1, 7, 9, 16)


def simd_problems(cov_type, dtype):
    for K in SIMD_COMPONENTS:
        for d in SIMD_FEATURES:
            rng = np.random.default_rng(100 * K + d)
            yield (K, d), make_problem(rng, 777, d, K, cov_type, dtype, weighted=(K + d) % 2 == 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("variant", GMM_VARIANTS)
def test_cython_simd_variant_matches_reference(variant, cov_type, dtype):
    """Each variant against the NumPy reference at every (K, d) above, with the
    tolerances of test_fast_backend_matches_reference."""
    assert isinstance(simd_module("gmm").OPENMP_ENABLED, bool)
    backend = require_backend("cython", "gmm")
    ref = get_backend("numpy", "gmm")
    out_rtol = 1e-10 if dtype == np.float64 else 2e-6
    for (K, d), problem in simd_problems(cov_type, dtype):
        want = run(ref, problem, cov_type)
        got = with_simd("gmm", variant, lambda: run(backend, problem, cov_type))
        where = f"{variant}, K={K}, d={d}"
        np.testing.assert_allclose(got[0], want[0], rtol=1e-10,
                                   atol=1e-10 * max(abs(want[0][0]), 1.0), err_msg=where)
        for a, b in zip(got[1:4], want[1:4]):
            assert_close(a, b, 1e-10)
        assert_close(got[4], want[4], out_rtol)
        assert_close(got[5], want[5], out_rtol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("variant", [v for v in GMM_VARIANTS if v != "generic"])
def test_cython_simd_variants_are_bit_identical(variant, cov_type, dtype):
    """Same operations in the same order whatever the vector width (csrc/_gmm.pyx):
    every output equals generic's bits, on 2 threads too."""
    backend = require_backend("cython", "gmm")
    for (K, d), problem in simd_problems(cov_type, dtype):
        want = with_simd("gmm", "generic", lambda: run(backend, problem, cov_type))
        got = with_simd("gmm", variant, lambda: run(backend, problem, cov_type, n_threads=2))
        assert got[0] == want[0], (K, d)
        for a, b in zip(got[1:], want[1:]):
            np.testing.assert_array_equal(a, b, err_msg=f"K={K}, d={d}")


@pytest.mark.parametrize("name", ("numpy",) + FAST)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_no_samples(name, cov_type):
    """n = 0: zero statistics and sums, nothing written."""
    backend = require_backend(name, "gmm")
    X, w, means, prec, log_bias = make_problem(np.random.default_rng(6), 5, 3, 2, cov_type)
    problem = (X[:0], w[:0], means, prec, log_bias)
    sums, nk, sx, sxx, log_resp, log_norm = run(backend, problem, cov_type)
    assert sums == (0.0, 0.0)
    assert np.all(nk == 0.0) and np.all(sx == 0.0) and np.all(sxx == 0.0)


def test_cython_rejects_outputs_it_cannot_write_through_a_pointer():
    backend = require_backend("cython", "gmm")
    X, w, means, prec, log_bias = make_problem(np.random.default_rng(9), 50, 3, 2, "diag")
    out = (np.empty(2), np.empty((2, 3)), np.empty((2, 3)))
    strided = np.empty((50, 4))[:, ::2]
    with pytest.raises(ValueError, match="log_resp must be a writeable C-contiguous"):
        backend.gmm_e_step(X, w, means, prec, log_bias, "diag", *out, strided, np.empty(50),
                           True, 1)
    with pytest.raises(ValueError, match="log_norm must be a writeable C-contiguous"):
        backend.gmm_e_step(X, w, means, prec, log_bias, "diag", *out, np.empty((0, 2)),
                           np.empty(50, dtype=np.float32), True, 1)
