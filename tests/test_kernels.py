"""The Numba and Cython kernels against the NumPy reference, and their determinism.

Tolerances (relative, per entry; float32 ones measured, then given a margin of
about 10x):

- float64: 1e-10 everywhere (observed <= 4e-13 over 400 random problems). The
  kernels sum in another order than NumPy's BLAS-backed matrix products, and
  the CAVI iterations amplify those 1e-16 differences. (On long real documents
  and 100 iterations the amplification reaches ~1e-10; not tested here.)
- float32, ``lda_e_step``: the reference rounds digamma to float32 and sums
  ``gamma_d`` in float32 before psi(sum); the fast backends keep both in float64
  (see reference.py vs numba_lda.py). Over ``F32_MAX_ITER`` fixed-point
  iterations this grows to at most ~6e-5 on gamma and ~3e-4 on exp_doc_topic
  (worst of 400 random problems; small gamma entries amplify through exp(psi)),
  ~2e-6 on ratio and ~4e-7 * (1 + |bound|) on doc_bound. Held to: gamma 5e-4,
  exp_doc_topic 2e-3, ratio 2e-5, doc_bound 5e-6 relative + 1e-4 nats.
  ``mean_change_tol=0`` runs every document for exactly ``F32_MAX_ITER``
  updates, so iteration counts cannot diverge between backends.
- float32, ``lda_suff_stats`` and ``exp_dirichlet_expectation_T`` on the same
  inputs: sums of positive terms and float64 evaluation, so within a few
  float32 ulps (1e-5); the topic bound is computed in float64 (1e-10).

Empty documents, and topics over a single word, have a bound of 0 up to
rounding, hence an absolute floor (1e-9 nats in float64) on both bounds.
"""

import zlib

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastcavi.kernels import csc_structure, get_backend

REFERENCE = get_backend("numpy")
F64_RTOL = 1e-10
F64_ATOL_BOUND = 1e-9
F32_MAX_ITER = 30
F32_RTOL = {"gamma": 5e-4, "exp_doc_topic": 2e-3, "ratio": 2e-5, "doc_bound": 5e-6,
            "suff_stats": 1e-5, "exp_topic_word": 1e-5, "topic_bound": 1e-10}
F32_ATOL_BOUND = 1e-4
F64_MAX_ITER = 100
F64_TOL = 1e-3  # early stopping is exercised in float64


def make_problem(seed, n_docs, n_words, n_topics, dtype, density=0.3, empty_docs=(),
                 one_word=False, index_dtype=np.int32):
    """A random LDA E-step problem: CSR counts, lambda, alpha and a starting gamma."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 6, size=(n_docs, n_words))
    if one_word:
        counts = np.zeros((n_docs, n_words), dtype=np.int64)
        counts[np.arange(n_docs), rng.integers(0, n_words, n_docs)] = rng.integers(1, 9, n_docs)
    else:
        counts *= rng.random((n_docs, n_words)) < density
    counts[list(empty_docs)] = 0
    X = sp.csr_matrix(counts.astype(dtype), shape=(n_docs, n_words))
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    # lambda spread over several decades so that digamma sees all its regimes
    lam = (rng.gamma(0.7, 1.0, (n_topics, n_words)) * 10.0 ** rng.uniform(-1, 2, (n_topics, 1))
           + 1e-3).astype(dtype)
    alpha = rng.uniform(0.01, 1.0, n_topics).astype(dtype)
    gamma0 = rng.gamma(100.0, 0.01, (n_docs, n_topics)).astype(dtype)
    return dict(X=X, lam=lam, eta=float(rng.uniform(0.01, 1.0)), alpha=alpha, gamma0=gamma0)


def run_exp_dirichlet(backend, p, n_threads=1, compute_bound=True):
    lam = p["lam"]
    out = np.full(lam.shape[::-1], np.nan, dtype=lam.dtype)
    bound = backend.exp_dirichlet_expectation_T(lam, p["eta"], out, compute_bound, n_threads)
    return out, bound


def run_e_step(backend, p, exp_topic_word, max_iter, tol, n_threads=1):
    X, gamma = p["X"], p["gamma0"].copy()
    dtype = gamma.dtype
    exp_doc_topic = np.full_like(gamma, np.nan)
    ratio = np.full(X.nnz, np.nan, dtype=dtype)
    doc_bound = np.full(X.shape[0], np.nan)
    n_updates = backend.lda_e_step(
        X.data, X.indices, X.indptr, exp_topic_word, p["alpha"], gamma, max_iter, tol,
        np.finfo(dtype).eps, exp_doc_topic, ratio, doc_bound, n_threads,
    )
    return dict(gamma=gamma, exp_doc_topic=exp_doc_topic, ratio=ratio, doc_bound=doc_bound,
                n_updates=n_updates)


def run_suff_stats(backend, p, ratio, exp_doc_topic, exp_topic_word, n_threads=1):
    X = p["X"]
    csc = csc_structure(X.indices, X.indptr, X.shape[1])
    out = np.full_like(exp_topic_word, np.nan)
    backend.lda_suff_stats(*csc, ratio, exp_doc_topic, exp_topic_word, out, n_threads)
    return out


def run_all(backend, p, max_iter, tol, n_threads=1):
    """Every kernel, chained as in one CAVI sweep; all outputs in one dict."""
    etw, topic_bound = run_exp_dirichlet(backend, p, n_threads)
    res = run_e_step(backend, p, etw, max_iter, tol, n_threads)
    res["suff_stats"] = run_suff_stats(
        backend, p, res["ratio"], res["exp_doc_topic"], etw, n_threads)
    res["exp_topic_word"], res["topic_bound"] = etw, topic_bound
    return res


def iteration_settings(dtype):
    return (F64_MAX_ITER, F64_TOL) if dtype == np.float64 else (F32_MAX_ITER, 0.0)


def assert_close(name, got, want, dtype):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, name
    assert np.all(np.isfinite(got)), f"{name}: non-finite output"
    if dtype == np.float64:
        rtol, atol = F64_RTOL, (F64_ATOL_BOUND if name.endswith("bound") else 0.0)
    else:
        rtol = F32_RTOL[name]
        # the Cython float32 kernels flush subnormals to zero (FTZ/DAZ): entries
        # below the smallest normal float32 may come back as 0
        atol = {"doc_bound": F32_ATOL_BOUND, "topic_bound": F64_ATOL_BOUND}.get(
            name, float(np.finfo(np.float32).tiny))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)


def compare_with_reference(backend, p, dtype):
    """Each kernel of ``backend`` on the same inputs as the reference."""
    max_iter, tol = iteration_settings(dtype)
    etw, bound = run_exp_dirichlet(REFERENCE, p)
    got_etw, got_bound = run_exp_dirichlet(backend, p)
    assert isinstance(got_bound, float)
    assert_close("exp_topic_word", got_etw, etw, dtype)
    assert_close("topic_bound", got_bound, bound, dtype)

    want = run_e_step(REFERENCE, p, etw, max_iter, tol)
    got = run_e_step(backend, p, etw, max_iter, tol)
    assert got["n_updates"] == want["n_updates"]
    assert isinstance(got["n_updates"], int)
    for name in ("gamma", "exp_doc_topic", "ratio", "doc_bound"):
        assert_close(name, got[name], want[name], dtype)

    args = (p, want["ratio"], want["exp_doc_topic"], etw)
    assert_close("suff_stats", run_suff_stats(backend, *args), run_suff_stats(REFERENCE, *args),
                 dtype)
    return got


CASES = {
    "random": dict(n_docs=40, n_words=30, n_topics=7, empty_docs=(0, 5, 39)),
    "wide_topics": dict(n_docs=25, n_words=60, n_topics=37, density=0.15, empty_docs=(3,)),
    "vector_sized_topics": dict(n_docs=20, n_words=20, n_topics=16),
    "int64_indices": dict(n_docs=20, n_words=25, n_topics=9, index_dtype=np.int64),
    "all_empty": dict(n_docs=6, n_words=10, n_topics=4, empty_docs=range(6)),
    "one_word_docs": dict(n_docs=30, n_words=15, n_topics=5, one_word=True),
    "one_topic": dict(n_docs=20, n_words=12, n_topics=1, empty_docs=(2,)),
    "one_column": dict(n_docs=15, n_words=1, n_topics=6, density=0.7),
    "no_docs": dict(n_docs=0, n_words=10, n_topics=5),
    "dense_long_docs": dict(n_docs=8, n_words=300, n_topics=12, density=0.9),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernels_match_reference(fast_backend, case, dtype):
    p = make_problem(zlib.crc32(case.encode()), dtype=dtype, **CASES[case])
    got = compare_with_reference(fast_backend, p, dtype)
    empty = np.diff(p["X"].indptr) == 0
    # an empty document ends at gamma = alpha exactly, with a bound of 0 up to rounding
    gamma_empty = got["gamma"][empty]
    assert np.array_equal(gamma_empty, np.broadcast_to(p["alpha"], gamma_empty.shape))
    atol = F64_ATOL_BOUND if dtype == np.float64 else F32_ATOL_BOUND
    assert np.all(np.abs(got["doc_bound"][empty]) < atol)


def test_case_sizes_are_what_they_claim():
    # guards the edge cases above against a refactoring of make_problem
    sizes = {name: make_problem(0, dtype=np.float64, **kw)["X"] for name, kw in CASES.items()}
    assert sizes["no_docs"].shape[0] == 0
    assert sizes["all_empty"].nnz == 0
    assert np.all(np.diff(sizes["one_word_docs"].indptr) == 1)
    assert sizes["one_column"].shape[1] == 1 and sizes["one_column"].nnz > 0
    assert np.any(np.diff(sizes["random"].indptr) == 0)
    assert sizes["int64_indices"].indices.dtype == np.int64


@pytest.mark.parametrize("max_iter", [0, 1])
def test_few_iterations(fast_backend, max_iter):
    """max_iter=0 only evaluates the outputs at the starting gamma."""
    p = make_problem(3, n_docs=12, n_words=9, n_topics=4, dtype=np.float64, empty_docs=(1,))
    etw, _ = run_exp_dirichlet(REFERENCE, p)
    want = run_e_step(REFERENCE, p, etw, max_iter, 0.0)
    got = run_e_step(fast_backend, p, etw, max_iter, 0.0)
    assert got["n_updates"] == want["n_updates"] == max_iter * 12
    for name in ("gamma", "exp_doc_topic", "ratio", "doc_bound"):
        assert_close(name, got[name], want[name], np.float64)
    if max_iter == 0:
        assert np.array_equal(got["gamma"], p["gamma0"])


def test_exp_dirichlet_without_bound(fast_backend):
    p = make_problem(11, n_docs=3, n_words=40, n_topics=6, dtype=np.float64)
    want, _ = run_exp_dirichlet(REFERENCE, p)
    got, bound = run_exp_dirichlet(fast_backend, p, compute_bound=False)
    assert bound == 0.0
    assert_close("exp_topic_word", got, want, np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_thread_count_and_reruns_are_bit_identical(fast_backend, dtype):
    # enough documents for many chunks, whose boundaries move with n_threads
    p = make_problem(5, n_docs=300, n_words=80, n_topics=13, dtype=dtype, density=0.1,
                     empty_docs=(0, 7, 150, 299))
    max_iter, tol = iteration_settings(dtype)
    runs = [run_all(fast_backend, p, max_iter, tol, n) for n in (1, 2, 3, 2)]
    for other in runs[1:]:
        for name, value in runs[0].items():
            assert np.array_equal(value, other[name]), name


def test_cython_simd_variants(cython_ext):
    """The vector variants (16-byte vectors, AVX2) give the same bits; the scalar one
    (libm exp in exp(psi(gamma)), see _lda.pyx) agrees within the reference tolerances,
    and every variant matches the NumPy reference."""
    variants = cython_ext.simd_variants()
    assert {"scalar", "generic"} <= set(variants)
    backend = get_backend("cython")
    problems = [
        (make_problem(21, n_docs=30, n_words=70, n_topics=k, dtype=dtype, density=0.2), dtype)
        for k in (1, 3, 8, 13, 37, 70)
        for dtype in (np.float64, np.float32)
    ]
    default = cython_ext.simd_variant()
    try:
        results = {}
        for name in variants:
            cython_ext._set_simd(name)
            assert cython_ext.simd_variant() == name
            results[name] = [run_all(backend, p, *iteration_settings(dt)) for p, dt in problems]
            for p, dt in problems[:4]:
                compare_with_reference(backend, p, dt)
    finally:
        cython_ext._set_simd(default)
    for name in variants:
        for (p, dtype), got, want in zip(problems, results[name], results["generic"]):
            assert got["n_updates"] == want["n_updates"], name
            for key, value in want.items():
                if name != "scalar":
                    assert np.array_equal(got[key], value), (name, key)
                elif key == "suff_stats" and dtype == np.float32:
                    # chained: each variant's statistics come from its own gamma, whose
                    # float32 rounding differs (sums in another order): bounded by the
                    # exp_doc_topic tolerance, not by that of one suff_stats call
                    np.testing.assert_allclose(got[key], value, err_msg=key,
                                               rtol=F32_RTOL["exp_doc_topic"],
                                               atol=float(np.finfo(np.float32).tiny))
                elif key != "n_updates":
                    assert_close(key, got[key], value, dtype)


def test_cython_rejects_inconsistent_arguments(cython_ext):
    backend = get_backend("cython")
    p = make_problem(1, n_docs=4, n_words=6, n_topics=3, dtype=np.float64)
    etw, _ = run_exp_dirichlet(REFERENCE, p)
    X, gamma = p["X"], p["gamma0"].copy()
    edt, ratio, bound = np.empty_like(gamma), np.empty(X.nnz), np.empty(4)
    args = [X.data, X.indices, X.indptr, etw, p["alpha"], gamma, 5, 1e-3, 1e-16, edt, ratio,
            bound]

    def call(**changes):
        names = ["data", "indices", "indptr", "etw", "alpha", "gamma", "max_iter", "tol", "eps",
                 "edt", "ratio", "bound"]
        a = [changes.get(n, v) for n, v in zip(names, args)]
        return backend.lda_e_step(*a)

    assert call() > 0
    with pytest.raises(TypeError):
        call(data=X.data.astype(np.float32))
    with pytest.raises(TypeError):
        call(bound=np.empty(4, dtype=np.float32))
    with pytest.raises(ValueError):
        call(alpha=p["alpha"][:2])
    with pytest.raises(ValueError):
        call(ratio=np.empty(X.nnz + 1))
    with pytest.raises(ValueError):
        call(etw=np.ascontiguousarray(etw[:, :2]))
    with pytest.raises(ValueError):
        backend.exp_dirichlet_expectation_T(p["lam"], 0.1, np.empty((3, 6)))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    n_docs=st.integers(0, 12),
    n_words=st.integers(1, 12),
    n_topics=st.integers(1, 40),
    density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_sizes_match_reference(fast_backend, n_docs, n_words, n_topics, density, seed):
    p = make_problem(seed, n_docs, n_words, n_topics, np.float64, density=density)
    compare_with_reference(fast_backend, p, np.float64)
