"""The Numba and Cython kernels against the NumPy reference, and their determinism.

Tolerances (relative):

- float64: 1e-10 per entry everywhere (observed <= 4e-13 over 400 random
  problems). The kernels sum in another order than NumPy's BLAS-backed matrix
  products, and the CAVI iterations amplify those 1e-16 differences. (On long
  real documents and 100 iterations the amplification reaches ~1e-10; not
  tested here.)
- float32: against the reference run in float64 on the same float32 inputs
  (exact in float64) with the same ``eps`` (``np.finfo(float32).eps``, a
  constant of the model here, not a rounding error), so the difference is the
  float32 kernel's own rounding. The float32 kernels sum the dot products, the
  gamma accumulators and the update in float32, psi(sum gamma), the ELBO terms
  and the topic step in float64; the vector variants evaluate exp(psi(gamma_dk))
  in float32 lanes (within 1e-6 max(1, |psi|), see test_special.py).

  * One update (``test_float32_each_update_matches_float64_reference``, each
    update of a 30-update float32 trajectory from the kernel's own gamma): per
    entry, gamma and ratio within 5e-6 (observed <= 1.2e-6 over 1,600 random
    problems, every backend and variant), exp_doc_topic within 5e-6 max(1,
    |psi(gamma)|) (observed 1.5e-6; d log exp(psi(g)) = psi'(g) dg grows like
    1/g for small g), doc_bound 5e-6 (1 + |bound|) (observed 1.2e-6).
  * ``F32_MAX_ITER`` = 10 updates: the fixed-point map contracts slowly on some
    documents (topics that share their words), so those few ulps per update
    drift along the slow direction and grow with the number of updates: after
    10 updates gamma and exp_doc_topic are within 6.4e-6 of each document's
    largest entry (worst of 1,600 random problems; per entry up to 4e-5 on
    gamma and 1e-3 on exp_doc_topic entries of 1e-13), after 30 updates
    3e-5. Held to 2e-5 of the document's largest entry; ratio 2e-5 per entry
    (observed 4.7e-6), doc_bound 5e-6 (1 + |bound|) (observed 8.5e-7).
    ``mean_change_tol=0`` runs every document for exactly ``F32_MAX_ITER``
    updates, so the iteration counts cannot differ.
  * ``exp_dirichlet_expectation_T`` computes in float64 and rounds: 3e-7
    (observed 6e-8, half a float32 ulp); its bound in float64, 1e-10.
    ``lda_suff_stats`` sums positive float32 terms: 2e-6 (observed 5.3e-7).

  A 1e-4 relative error in any of these outputs fails (checked by perturbing
  the float32 results on purpose).

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

from conftest import SIMD_VARIANTS, cpu_flags, require_backend, simd_module, with_simd

REFERENCE = get_backend("numpy")
F64_RTOL = 1e-10
F64_ATOL_BOUND = 1e-9
F32_MAX_ITER = 10
F32_EPS = float(np.finfo(np.float32).eps)
#: float32 against the float64 reference (see the module docstring); gamma and
#: exp_doc_topic relative to each document's largest entry, doc_bound to 1 + |bound|
F32_RTOL = {"gamma": 2e-5, "exp_doc_topic": 2e-5, "ratio": 2e-5, "doc_bound": 5e-6,
            "suff_stats": 2e-6, "exp_topic_word": 3e-7, "topic_bound": 1e-10}
#: one update: gamma and ratio per entry, exp_doc_topic per entry times max(1, |psi(gamma)|)
F32_STEP_RTOL = 5e-6
PER_DOCUMENT = ("gamma", "exp_doc_topic")
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


def as_float64(p):
    """The same problem in float64: the float32 values are exact in float64."""
    X = p["X"].copy()
    X.data = X.data.astype(np.float64)
    return dict(p, X=X, lam=p["lam"].astype(np.float64), alpha=p["alpha"].astype(np.float64),
                gamma0=p["gamma0"].astype(np.float64))


def run_e_step(backend, p, exp_topic_word, max_iter, tol, n_threads=1, eps=None):
    """``eps`` defaults to the machine epsilon of the data's dtype."""
    X, gamma = p["X"], p["gamma0"].copy()
    dtype = gamma.dtype
    exp_doc_topic = np.full_like(gamma, np.nan)
    ratio = np.full(X.nnz, np.nan, dtype=dtype)
    doc_bound = np.full(X.shape[0], np.nan)
    n_updates = backend.lda_e_step(
        X.data, X.indices, X.indptr, exp_topic_word, p["alpha"], gamma, max_iter, tol,
        np.finfo(dtype).eps if eps is None else eps, exp_doc_topic, ratio, doc_bound, n_threads,
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
    """``got`` (the backend's, in ``dtype``) against ``want`` (the reference's, float64
    for float32 data too), with the tolerances of the module docstring."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, name
    assert np.all(np.isfinite(got)), f"{name}: non-finite output"
    if dtype == np.float64:
        rtol, atol = F64_RTOL, (F64_ATOL_BOUND if name.endswith("bound") else 0.0)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)
        return
    rtol = F32_RTOL[name]
    if name in PER_DOCUMENT:
        scale = np.abs(want).max(axis=1, keepdims=True) if want.size else want
    elif name == "doc_bound":
        scale = 1.0 + np.abs(want)
    elif name == "topic_bound":
        scale = max(1.0, abs(float(want)))
    else:
        scale = np.abs(want)
    err = np.abs(got - want)
    # the Cython float32 kernels flush subnormals to zero (FTZ/DAZ): entries
    # below the smallest normal float32 may come back as 0
    err = np.where(err <= np.finfo(np.float32).tiny, 0.0, err)
    assert_within(name, err, rtol * np.broadcast_to(scale, err.shape), rtol)


def assert_within(name, err, bound, rtol):
    """Every ``err <= bound``, else an error naming the worst entry."""
    ratio = np.divide(err, bound, out=np.where(err > 0, np.inf, 0.0), where=bound > 0)
    if ratio.size and ratio.max() > 1:
        worst = np.unravel_index(np.argmax(ratio), ratio.shape)
        raise AssertionError(f"{name}: error {ratio[worst] * rtol:.3g} (relative to its scale) "
                             f"at {worst} exceeds {rtol:g}")


def compare_with_reference(backend, p, dtype):
    """Each kernel of ``backend`` on the same inputs as the reference (float32 data:
    the reference in float64 on the same values, see the module docstring)."""
    max_iter, tol = iteration_settings(dtype)
    ref_p = p if dtype == np.float64 else as_float64(p)
    etw, bound = run_exp_dirichlet(REFERENCE, ref_p)
    got_etw, got_bound = run_exp_dirichlet(backend, p)
    assert isinstance(got_bound, float)
    assert_close("exp_topic_word", got_etw, etw, dtype)
    assert_close("topic_bound", got_bound, bound, dtype)

    # the E-step of both reads the float32 exp_topic_word the float32 kernel would
    etw_in = etw.astype(dtype)
    eps = float(np.finfo(dtype).eps)
    want = run_e_step(REFERENCE, ref_p, etw_in.astype(np.float64), max_iter, tol, eps=eps)
    got = run_e_step(backend, p, etw_in, max_iter, tol, eps=eps)
    assert got["n_updates"] == want["n_updates"]
    assert isinstance(got["n_updates"], int)
    for name in ("gamma", "exp_doc_topic", "ratio", "doc_bound"):
        assert_close(name, got[name], want[name], dtype)

    ratio, edt = want["ratio"].astype(dtype), want["exp_doc_topic"].astype(dtype)
    ref_args = (ref_p, ratio.astype(np.float64), edt.astype(np.float64),
                etw_in.astype(np.float64))
    assert_close("suff_stats", run_suff_stats(backend, p, ratio, edt, etw_in),
                 run_suff_stats(REFERENCE, *ref_args), dtype)
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
    assert np.all(np.abs(got["doc_bound"][empty]) < F64_ATOL_BOUND)


@pytest.mark.parametrize("case", sorted(CASES))
def test_float32_reference_matches_float64_reference(case):
    """backend="numpy" with float32 data (digamma rounded to float32, gamma summed in
    float32) is held to the same float32 tolerances as the compiled kernels."""
    p = make_problem(zlib.crc32(case.encode()), dtype=np.float32, **CASES[case])
    compare_with_reference(REFERENCE, p, np.float32)


def step_by_step(backend, p, n_steps):
    """Each update of a float32 trajectory against one float64 reference update from
    the same (float32) gamma: per-entry errors without their amplification over
    many updates (see the module docstring)."""
    from scipy.special import digamma

    etw, _ = run_exp_dirichlet(REFERENCE, p)
    p64, gamma = as_float64(p), p["gamma0"]
    for step in range(n_steps):
        got = run_e_step(backend, dict(p, gamma0=gamma), etw, 1, 0.0, eps=F32_EPS)
        want = run_e_step(REFERENCE, dict(p64, gamma0=gamma.astype(np.float64)),
                          etw.astype(np.float64), 1, 0.0, eps=F32_EPS)
        psi = np.maximum(1.0, np.abs(digamma(want["gamma"])))
        for name, scale in (("gamma", np.abs(want["gamma"])), ("ratio", np.abs(want["ratio"])),
                            ("exp_doc_topic", psi * want["exp_doc_topic"]),
                            ("doc_bound", 1.0 + np.abs(want["doc_bound"]))):
            err = np.abs(got[name].astype(np.float64) - want[name])
            err = np.where(err <= np.finfo(np.float32).tiny, 0.0, err)  # FTZ
            assert_within(f"{name} at update {step + 1}", err, F32_STEP_RTOL * scale,
                          F32_STEP_RTOL)
        gamma = got["gamma"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_float32_each_update_matches_float64_reference(fast_backend, case):
    p = make_problem(zlib.crc32(case.encode()), dtype=np.float32, **CASES[case])
    step_by_step(fast_backend, p, 30)


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


# ------------------------------------------------------------------ SIMD variants
LDA_VARIANTS = tuple(SIMD_VARIANTS["lda"])
#: the vector variants, which perform the same operations in the same order and so
#: return the same bits (csrc/_lda.pyx); "scalar" uses libm and differs by rounding
VECTOR_VARIANTS = ("generic", "avx2", "avx512")
#: topics per row: below, at and past the vector widths (2, 4, 8 lanes), and rows
#: whose last (overlapping) vector is alone in a block of 8 vectors for 2 lanes
#: (K = 17), 4 lanes (33) and 8 lanes (70), where a second group of words once
#: counted the overlap twice
SIMD_TOPICS = (1, 3, 7, 8, 9, 16, 17, 33, 50, 70)


def simd_problem(n_topics, dtype):
    """Documents of ~130 distinct words: past one 16 KB group of rows for K >= 17
    (float64) or K >= 33 (float32), so the gather continues across groups."""
    return make_problem(100 + n_topics, n_docs=6, n_words=260, n_topics=n_topics,
                        dtype=dtype, density=0.5, empty_docs=(2,))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("n_topics", SIMD_TOPICS)
@pytest.mark.parametrize("variant", LDA_VARIANTS)
def test_cython_simd_variant_matches_reference(variant, n_topics, dtype):
    backend = require_backend("cython")
    p = simd_problem(n_topics, dtype)
    with_simd("lda", variant, lambda: compare_with_reference(backend, p, dtype))
    if dtype == np.float32:
        with_simd("lda", variant, lambda: step_by_step(backend, p, 3))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("n_topics", SIMD_TOPICS)
@pytest.mark.parametrize("variant", [v for v in VECTOR_VARIANTS if v != "generic"])
def test_cython_vector_variants_are_bit_identical(variant, n_topics, dtype):
    """Every kernel of every vector variant gives generic's bits (on 2 threads too)."""
    backend = require_backend("cython")
    p = simd_problem(n_topics, dtype)
    settings = iteration_settings(dtype)
    want = with_simd("lda", "generic", lambda: run_all(backend, p, *settings))
    got = with_simd("lda", variant, lambda: run_all(backend, p, *settings, n_threads=2))
    for key, value in want.items():
        assert np.array_equal(got[key], value), key


def test_simd_variants_are_those_the_cpu_has():
    """simd_variants() lists exactly the variants the CPU's flags allow (so an
    extension cannot under-report and have the variant tests skip), _set_simd
    accepts exactly those, and every compiled module with variants is in
    conftest.SIMD_VARIANTS. (FASTCAVI_SIMD at import: tests/test_simd_env.py.)"""
    import importlib
    import pkgutil

    import fastcavi._ext

    flags = cpu_flags()
    if flags is None:
        pytest.skip("the CPU's feature flags cannot be read here (no /proc/cpuinfo)")
    for family, variants in SIMD_VARIANTS.items():
        ext = simd_module(family)
        usable = [v for v, needed in variants.items() if set(needed) <= flags]
        assert ext.simd_variants() == usable, family
        for v in variants:
            if v in usable:
                with_simd(family, v, lambda: None)
            else:
                with pytest.raises(ValueError, match="SIMD variant"):
                    ext._set_simd(v)
        with pytest.raises(ValueError, match="SIMD variant"):
            ext._set_simd("sse9")
    compiled = {m.name for m in pkgutil.iter_modules(fastcavi._ext.__path__)}
    assert {f"_{f}" for f in SIMD_VARIANTS} < compiled
    for name in compiled - {f"_{f}" for f in SIMD_VARIANTS}:
        assert not hasattr(importlib.import_module(f"fastcavi._ext.{name}"), "_set_simd"), name


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


def test_csc_structure_is_the_stable_sort_by_column():
    """O(nnz) by scipy's CSR-to-CSC conversion, the order of a stable argsort by column
    (rows ascending within a column), duplicates and unsorted rows included."""
    rng = np.random.default_rng(0)
    for trial in range(40):
        n_docs, n_words = int(rng.integers(0, 30)), int(rng.integers(1, 20))
        indptr = np.concatenate(([0], np.cumsum(rng.integers(0, 8, n_docs))))
        indptr = indptr.astype(np.int32 if trial % 2 else np.int64)
        indices = rng.integers(0, n_words, int(indptr[-1])).astype(np.int32)
        rows = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(indptr))
        perm = np.argsort(indices, kind="stable")
        want_indptr = np.concatenate(([0], np.cumsum(np.bincount(indices, minlength=n_words))))
        got = csc_structure(indices, indptr, n_words)
        for a, b in zip(got, (want_indptr, rows[perm], perm)):
            assert a.dtype == np.int64
            np.testing.assert_array_equal(a, b)
