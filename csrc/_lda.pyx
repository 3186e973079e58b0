# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Cython backend of the LDA kernels (``fastcavi._ext._lda``).

Same contracts as :mod:`fastcavi.lda.lda_reference` (the NumPy oracle) and the
same structure as :mod:`fastcavi.kernels.numba_lda`:

- ``lda_e_step``: OpenMP ``prange`` (dynamic schedule) over contiguous chunks
  of documents from :func:`fastcavi.kernels.doc_chunks`; each thread allocates
  its scratch once; every document writes only its own outputs.
- ``lda_suff_stats``: ``prange`` over words, each word gathers its column in
  the fixed CSC order.
- ``exp_dirichlet_expectation_T``: ``prange`` over topics for each topic's
  psi(sum) and lgamma(sum), then over blocks of 512 words (contiguous writes
  to the word-major output); one float64 bound term per block, summed in
  block order afterwards.

Results are therefore bit-identical for any ``n_threads``.

Per document and CAVI iteration, one sweep over the words first forms every
``n_dw / phinorm_dw`` (dot products in the working dtype with 8 partial sums)
and then ``sum_w (n_dw / phinorm_dw) expElogbeta_w`` with the K accumulators
held in vector registers, words in order (in groups of ~16 KB of rows, so the
second pass reads them from L1). The summation order is fixed by the source,
not by the instruction set, and no FMA is used (the build passes
``-ffp-contract=off``, never ``-ffast-math``). Sums of gamma and lambda, ELBO
terms, digamma, exp and lgamma are evaluated in float64, except exp(psi(gamma_dk))
of every inner iteration for float32 data in the vector variants, which runs in
float32 lanes (relative error below 1e-6 max(1, |psi|), see fc_vexpdigf):
on short documents that row dominates the E-step.

Variants (:func:`simd_variants`, chosen at import: the widest the CPU has, or
the environment variable ``FASTCAVI_SIMD``, see :mod:`fastcavi.kernels.simd`):

- "scalar": plain C, with libm's exp and lgamma (the reentrant ``lgamma_r``
  where libm has it) and the scalar :func:`digamma`;
- "generic" (16-byte vectors), "avx2" (32-byte) and "avx512" (64-byte float64
  vectors): also evaluate the special functions in vectors: exp(psi(gamma_dk))
  of every inner iteration, the per-document bound's psi and lgamma, and the
  topic step's psi, exp and lgamma, with a division-free exp (<= 1 ulp) and
  a vector log (fc_vec.h, fc_special.h). These three return the same bits as
  each other; they differ from "scalar" by rounding only (exp(psi) within
  ~8 eps |psi|; results within the reference tolerances, see
  tests/test_kernels.py and tests/test_special.py).

``digamma`` (C: fc_digamma) uses the algorithm of :mod:`fastcavi.kernels.special`:
a Taylor series in double-double around the positive root, else the recurrence
up to x >= 6 and the asymptotic series to x^-20. Its 24 Taylor coefficients are
computed at import with ``scipy.special.zeta``, exactly as ``special.py`` does.

The C is in csrc/include/: fc_lda_kernels.h (the variants and their table) and
the headers it includes (fc_lda_sweep.h, fc_lda_rows.h, and fc_vec.h,
fc_special.h, fc_cpu.h shared with the other families).
"""

from cython.parallel cimport parallel, prange
from libc.math cimport exp, log
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport free, malloc

import math

import numpy as np

__all__ = [
    "exp_dirichlet_expectation_T",
    "lda_e_step",
    "lda_suff_stats",
    "digamma",
    "OPENMP_ENABLED",
    "simd_variant",
    "simd_variants",
]

# the C kernels: csrc/include/fc_lda_kernels.h (and the headers it includes)
cdef extern from "fc_lda_kernels.h" nogil:
    int FC_OPENMP_ENABLED
    unsigned int fc_ftz_on()
    void fc_ftz_restore(unsigned int old)
    double fc_lgamma(double x)
    double fc_digamma(double x)
    enum:
        FC_N_TAYLOR
    double FC_PSI_ROOT_RADIUS
    const double fc_psi_root_hi
    const double fc_psi_root_lo
    float fc_dot_f(const float *a, const float *b, Py_ssize_t n)
    double fc_dot_d(const double *a, const double *b, Py_ssize_t n)
    void fc_doc_sweep_f(const float *cnt, const float **rows, Py_ssize_t n, Py_ssize_t K,
                        const float *etheta, float eps, float *coef, float *acc)
    void fc_doc_sweep_d(const double *cnt, const double **rows, Py_ssize_t n, Py_ssize_t K,
                        const double *etheta, double eps, double *coef, double *acc)
    void fc_gather_f(const float **rows, const float *coef, Py_ssize_t n, Py_ssize_t K,
                     float *acc)
    void fc_gather_d(const double **rows, const double *coef, Py_ssize_t n, Py_ssize_t K,
                     double *acc)
    void fc_expdig_row_f(const float *g, float *out, Py_ssize_t n, double total)
    void fc_expdig_row_d(const double *g, double *out, Py_ssize_t n, double total)
    void fc_exp_row(const double *x, double *out, Py_ssize_t n)
    double fc_sum_f(const float *g, Py_ssize_t n)
    double fc_sum_d(const double *g, Py_ssize_t n)
    double fc_update_f(const float *alpha, const float *etheta, const float *acc, float *g,
                       Py_ssize_t n, double *total)
    double fc_update_d(const double *alpha, const double *etheta, const double *acc,
                       double *g, Py_ssize_t n, double *total)
    double fc_psi_taylor[FC_N_TAYLOR]
    int fc_bound_f(const float *alpha, const float *g, Py_ssize_t n, double psi_total,
                   double *out)
    int fc_bound_d(const double *alpha, const double *g, Py_ssize_t n, double psi_total,
                   double *out)
    int fc_diglgam_row(const double *x, double *psi, double *lgam, Py_ssize_t n)
    int fc_edir_f(const float *lam, Py_ssize_t V, Py_ssize_t K, Py_ssize_t w0, Py_ssize_t w1,
                  const double *pt, double eta, double lg_eta, int cb, float *out,
                  double *bound)
    int fc_edir_d(const double *lam, Py_ssize_t V, Py_ssize_t K, Py_ssize_t w0, Py_ssize_t w1,
                  const double *pt, double eta, double lg_eta, int cb, double *out,
                  double *bound)

#: True when the extension was compiled with OpenMP (else prange runs serially)
OPENMP_ENABLED = bool(FC_OPENMP_ENABLED)

_FAMILY = "lda"
include "fc_simd.pxi"

ctypedef fused floating:
    float
    double

ctypedef fused index_t:
    int32_t
    int64_t

ctypedef fused ptr_t:
    int32_t
    int64_t

# The same chunking as the Numba backend.
cdef int _CHUNKS_PER_THREAD = 8


# ---------------------------------------------------------------------------
# digamma (algorithm and constants of fastcavi/kernels/special.py)
# ---------------------------------------------------------------------------

#: positive root of digamma as a double-double: hi + lo (from csrc/include/fc_special.h)
PSI_ROOT_HI = fc_psi_root_hi
PSI_ROOT_LO = fc_psi_root_lo
#: half-width of the interval around the root where the Taylor series is used
PSI_ROOT_RADIUS = FC_PSI_ROOT_RADIUS


def _taylor_coefficients():
    """c_n = (-1)^(n+1) zeta(n+1, x0), n = 1..24, as in special.PSI_ROOT_TAYLOR."""
    from scipy.special import zeta

    return np.array(
        [(-1.0) ** (n + 1) * zeta(n + 1, PSI_ROOT_HI) for n in range(1, FC_N_TAYLOR + 1)],
        dtype=np.float64,
    )


PSI_ROOT_TAYLOR = _taylor_coefficients()
PSI_ROOT_TAYLOR.setflags(write=False)
for _i in range(FC_N_TAYLOR):
    fc_psi_taylor[_i] = PSI_ROOT_TAYLOR[_i]
del _i


cpdef double digamma(double x) noexcept nogil:
    """Digamma function psi(x) for x > 0, in float64.

    Same algorithm as :func:`fastcavi.kernels.special.digamma`: relative
    error below 1e-13 against ``scipy.special.digamma`` on (0, 1e6].
    ``digamma(0) = -inf``; negative or NaN arguments give NaN.
    """
    return fc_digamma(x)


cdef bint _diglgam(const double[::1] x, double[:, ::1] out):
    return fc_diglgam_row(&x[0], &out[0, 0], &out[1, 0], x.shape[0]) != 0


def _vector_math(name, x):
    """Apply the current SIMD variant's row function ``name`` to a 1-d array; for tests.

    ``name``: "exp" (float64 in and out), "exp_digamma" (exp(psi(x)), float32
    or float64 in, same dtype out), "digamma_lgamma" (float64, returns an array
    of shape (2, n): psi(x) and lgamma(x)). The scalar variant uses libm's exp
    and lgamma and the scalar digamma.
    """
    x = np.ascontiguousarray(x)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-d; got shape {x.shape}")
    if name == "digamma_lgamma":
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty((2, x.shape[0]))
        if x.shape[0] and not _diglgam(x, out):
            out[0] = [fc_digamma(v) for v in x]
            out[1] = [fc_lgamma(v) for v in x]
        return out
    if name == "exp":
        x = np.ascontiguousarray(x, dtype=np.float64)
    elif name != "exp_digamma":
        raise ValueError(f"unknown function {name!r}")
    elif x.dtype != np.float32 and x.dtype != np.float64:
        x = x.astype(np.float64)
    out = np.empty_like(x)
    cdef Py_ssize_t n = x.shape[0]
    cdef double[::1] x64, o64
    cdef float[::1] x32, o32
    if n == 0:
        return out
    if x.dtype == np.float32:
        x32 = x
        o32 = out
        fc_expdig_row_f(&x32[0], &o32[0], n, 0.0)
    else:
        x64 = x
        o64 = out
        if name == "exp":
            fc_exp_row(&x64[0], &o64[0], n)
        else:
            fc_expdig_row_d(&x64[0], &o64[0], n, 0.0)
    return out


# ---------------------------------------------------------------------------
# small vector helpers, dispatched on the fused dtype at compile time
# ---------------------------------------------------------------------------

cdef inline floating _dot(const floating *a, const floating *b, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return fc_dot_f(a, b, n)
    else:
        return fc_dot_d(a, b, n)


cdef inline void _gather(
    const floating **rows, const floating *coef, Py_ssize_t n, Py_ssize_t n_topics,
    floating *acc,
) noexcept nogil:
    """acc[k] = sum_j coef[j] * rows[j][k], j in order."""
    if floating is float:
        fc_gather_f(rows, coef, n, n_topics, acc)
    else:
        fc_gather_d(rows, coef, n, n_topics, acc)


cdef inline double _row_sum(const floating *g, Py_ssize_t n) noexcept nogil:
    """sum(g) in float64, 8 partial sums (fixed order, see fc_sum)."""
    if floating is float:
        return fc_sum_f(g, n)
    else:
        return fc_sum_d(g, n)


cdef inline double _update_row(
    const floating *alpha, const floating *etheta, const floating *acc, floating *g,
    Py_ssize_t n, double *total,
) noexcept nogil:
    """g <- alpha + etheta * acc; returns sum |change|, *total = sum(new g) (float64)."""
    if floating is float:
        return fc_update_f(alpha, etheta, acc, g, n, total)
    else:
        return fc_update_d(alpha, etheta, acc, g, n, total)


cdef inline void _exp_dirichlet_row(
    const floating *g, double total, floating *out, Py_ssize_t n
) noexcept nogil:
    """out[k] = exp(psi(g[k]) - psi(total)), total = sum(g); psi in float64
    (float32 lanes for float32 data in the vector variants)."""
    cdef Py_ssize_t k
    cdef double psi_total
    if total >= 1.0:
        # exp(psi(g_k)) / exp(psi(total)): one exp per topic, no log (vectorised
        # in the "generic" and "avx2" variants, exp(psi(total)) included)
        if floating is float:
            fc_expdig_row_f(g, out, n, total)
        else:
            fc_expdig_row_d(g, out, n, total)
    else:
        # tiny total (an empty document, small prior): avoid underflow of exp(psi(g_k))
        psi_total = fc_digamma(total)
        for k in range(n):
            out[k] = <floating> exp(fc_digamma(g[k]) - psi_total)


# ---------------------------------------------------------------------------
# exp_dirichlet_expectation_T
# ---------------------------------------------------------------------------

# words per parallel block (as in the Numba backend): blocks write contiguous
# rows of the word-major output
cdef Py_ssize_t _WORD_BLOCK = 512


cdef void _topic_totals(
    const floating *lam_k, Py_ssize_t n_words, double *psi_total, double *lg_total
) noexcept nogil:
    cdef Py_ssize_t w
    cdef double total = 0.0
    for w in range(n_words):
        total += lam_k[w]
    psi_total[0] = fc_digamma(total)
    lg_total[0] = fc_lgamma(total)


cdef double _exp_dirichlet_block(
    const floating *lam, Py_ssize_t n_words, Py_ssize_t n_topics, Py_ssize_t w0,
    Py_ssize_t w1, const double *psi_total, double eta, double lg_eta, bint compute_bound,
    floating *out,
) noexcept nogil:
    """Rows w0..w1-1 of out = exp(Elogbeta).T; returns their bound terms (w, then k order).

    The vector variants evaluate digamma, exp and lgamma in vectors along each
    topic's row of lam (see fc_vedir; bound summed in another fixed order)."""
    cdef Py_ssize_t w, k
    cdef double lkw, elog
    cdef double acc = 0.0
    if floating is float:
        if fc_edir_f(lam, n_words, n_topics, w0, w1, psi_total, eta, lg_eta, compute_bound,
                     out, &acc):
            return acc
    else:
        if fc_edir_d(lam, n_words, n_topics, w0, w1, psi_total, eta, lg_eta, compute_bound,
                     out, &acc):
            return acc
    for w in range(w0, w1):
        for k in range(n_topics):
            lkw = lam[k * n_words + w]
            elog = fc_digamma(lkw) - psi_total[k]
            out[w * n_topics + k] = <floating> exp(elog)
            if compute_bound:
                acc += (eta - lkw) * elog + fc_lgamma(lkw) - lg_eta
    return acc


def _exp_dirichlet_T(
    const floating[:, ::1] lam, double eta, floating[:, ::1] out, bint compute_bound,
    int n_threads
):
    cdef Py_ssize_t n_topics = lam.shape[0]
    cdef Py_ssize_t n_words = lam.shape[1]
    cdef Py_ssize_t n_blocks = (n_words + _WORD_BLOCK - 1) // _WORD_BLOCK
    cdef Py_ssize_t k, b
    cdef double lg_eta = fc_lgamma(eta)
    cdef double lg_eta_sum = fc_lgamma(eta * n_words)
    cdef double bound = 0.0
    if out.shape[0] != n_words or out.shape[1] != n_topics:
        raise ValueError(
            f"out must have shape {(n_words, n_topics)} (lam transposed); "
            f"got {(out.shape[0], out.shape[1])}"
        )
    if n_topics == 0:
        return 0.0
    # per-topic psi(sum_w lambda_kw) and lgamma of it, then word blocks in parallel;
    # the bound is summed per block, then over blocks in order, then over topics
    totals = np.empty((2, n_topics), dtype=np.float64)
    partial = np.zeros(max(n_blocks, 1), dtype=np.float64)
    cdef double[:, ::1] tot = totals
    cdef double[::1] part = partial
    cdef const floating *p_lam = &lam[0, 0]
    cdef floating *p_out = &out[0, 0] if n_words else NULL
    with nogil:
        for k in prange(n_topics, num_threads=n_threads, schedule="static"):
            _topic_totals(p_lam + k * n_words, n_words, &tot[0, k], &tot[1, k])
        for b in prange(n_blocks, num_threads=n_threads, schedule="dynamic"):
            part[b] = _exp_dirichlet_block(
                p_lam, n_words, n_topics, b * _WORD_BLOCK,
                min(n_words, (b + 1) * _WORD_BLOCK), &tot[0, 0], eta, lg_eta,
                compute_bound, p_out,
            )
        if compute_bound:
            for b in range(n_blocks):
                bound += part[b]
            for k in range(n_topics):
                bound += lg_eta_sum - tot[1, k]
    return bound


def exp_dirichlet_expectation_T(lam, eta, out, compute_bound=True, n_threads=1):
    """Cython version of :func:`fastcavi.lda.lda_reference.exp_dirichlet_expectation_T`.

    Same parameters, shapes and return value; parallel over topics, then over
    word blocks, with ``n_threads`` OpenMP threads. ``lam`` is used in place when C-contiguous
    (else copied); ``out`` must be C-contiguous with the dtype of ``lam``.
    """
    lam = np.ascontiguousarray(lam)
    if lam.dtype != np.float32 and lam.dtype != np.float64:
        raise TypeError(f"lam must be float32 or float64; got {lam.dtype}")
    if lam.ndim != 2:
        raise ValueError(f"lam must be 2-d; got shape {lam.shape}")
    _check_dtype("out", out, lam.dtype)
    return float(
        _exp_dirichlet_T(lam, float(eta), out, bool(compute_bound), _n_threads(n_threads))
    )


# ---------------------------------------------------------------------------
# lda_e_step
# ---------------------------------------------------------------------------

cdef inline void _doc_sweep(
    const floating *cnt, const floating **rows, Py_ssize_t n, Py_ssize_t n_topics,
    const floating *etheta, floating epsv, floating *coef, floating *acc,
) noexcept nogil:
    if floating is float:
        fc_doc_sweep_f(cnt, rows, n, n_topics, etheta, epsv, coef, acc)
    else:
        fc_doc_sweep_d(cnt, rows, n, n_topics, etheta, epsv, coef, acc)


cdef Py_ssize_t _e_step_doc(
    const floating *cnt, const index_t *ids, Py_ssize_t n_ids,
    const floating *etw, const floating *alpha, Py_ssize_t n_topics,
    Py_ssize_t max_iter, double tol, floating epsv, double alpha_bound,
    floating *g, floating *etheta_out, floating *ratio, double *bound,
    floating *etheta, floating *acc, floating *coef, const floating **rows,
) noexcept nogil:
    """CAVI for one document (in place on its gamma row ``g``); returns #updates.

    Scratch: ``etheta``, ``acc`` of n_topics and ``coef``, ``rows`` of n_ids.
    """
    cdef Py_ssize_t it, j, k
    cdef Py_ssize_t n_up = 0
    cdef floating s
    cdef double change, loglik, total, psi_total, gk, b, terms
    cdef int vec
    for j in range(n_ids):
        rows[j] = etw + <Py_ssize_t> ids[j] * n_topics
    _exp_dirichlet_row(g, _row_sum(g, n_topics), etheta, n_topics)
    for it in range(max_iter):
        # phinorm_j = etheta . beta_w + eps; acc = sum_j (n_j / phinorm_j) beta_w
        _doc_sweep(cnt, rows, n_ids, n_topics, etheta, epsv, coef, acc)
        # gamma = alpha + etheta * acc, its mean absolute change and its sum
        change = _update_row(alpha, etheta, acc, g, n_topics, &total) / n_topics
        _exp_dirichlet_row(g, total, etheta, n_topics)
        n_up += 1
        if change < tol:
            break
    loglik = 0.0
    for j in range(n_ids):
        s = _dot(etheta, rows[j], n_topics) + epsv
        ratio[j] = cnt[j] / s
        loglik += <double> cnt[j] * log(<double> s)
    total = _row_sum(g, n_topics)
    psi_total = fc_digamma(total)
    b = loglik + alpha_bound - fc_lgamma(total)
    # sum_k (alpha_k - g_k) (psi(g_k) - psi_total) + lgamma(g_k): vectorised
    # (8 partial sums) in the vector variants, in order in the scalar one
    if floating is float:
        vec = fc_bound_f(alpha, g, n_topics, psi_total, &terms)
    else:
        vec = fc_bound_d(alpha, g, n_topics, psi_total, &terms)
    if vec:
        b += terms
    else:
        for k in range(n_topics):
            gk = g[k]
            b += (alpha[k] - gk) * (fc_digamma(gk) - psi_total) + fc_lgamma(gk)
    for k in range(n_topics):
        etheta_out[k] = etheta[k]
    bound[0] = b
    return n_up


cdef int64_t _e_step_range(
    const floating *data, const index_t *indices, const ptr_t *indptr,
    Py_ssize_t first, Py_ssize_t last,
    const floating *etw, const floating *alpha, Py_ssize_t n_topics,
    Py_ssize_t max_iter, double tol, floating epsv, double alpha_bound,
    floating *gamma, floating *exp_doc_topic, floating *ratio, double *doc_bound,
    void *scratch, Py_ssize_t max_len,
) noexcept nogil:
    """Documents first..last-1 of one chunk; returns their number of updates.

    ``scratch`` holds max_len row pointers followed by max_len + 2 * n_topics
    floating values (max_len = longest document).
    """
    cdef Py_ssize_t d, start, stop
    cdef int64_t n_up = 0
    cdef const floating **rows = <const floating **> scratch
    cdef floating *coef = <floating *> (rows + max_len)
    cdef floating *etheta = coef + max_len
    cdef floating *acc = etheta + n_topics
    for d in range(first, last):
        start = indptr[d]
        stop = indptr[d + 1]
        n_up += _e_step_doc(
            data + start, indices + start, stop - start, etw, alpha, n_topics,
            max_iter, tol, epsv, alpha_bound,
            gamma + d * n_topics, exp_doc_topic + d * n_topics, ratio + start,
            doc_bound + d, etheta, acc, coef, rows,
        )
    return n_up


def _e_step(
    const floating[::1] data,
    const index_t[::1] indices,
    const ptr_t[::1] indptr,
    const floating[:, ::1] exp_topic_word,
    const floating[::1] alpha,
    floating[:, ::1] gamma,
    Py_ssize_t max_iter,
    double mean_change_tol,
    double eps,
    floating[:, ::1] exp_doc_topic,
    floating[::1] ratio,
    double[::1] doc_bound,
    const int64_t[::1] bounds,
    double alpha_bound,
    Py_ssize_t max_len,
    int n_threads,
):
    cdef Py_ssize_t n_topics = gamma.shape[1]
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t c
    cdef floating epsv = <floating> eps
    cdef void *scratch = NULL
    # raw pointers (computed from element 0 only when the array is non-empty)
    cdef const floating *p_data = &data[0] if data.shape[0] else NULL
    cdef const index_t *p_indices = &indices[0] if indices.shape[0] else NULL
    cdef const floating *p_etw = &exp_topic_word[0, 0] if exp_topic_word.shape[0] else NULL
    cdef floating *p_ratio = &ratio[0] if ratio.shape[0] else NULL
    updates = np.zeros(max(n_chunks, 0), dtype=np.int64)
    cdef int64_t[::1] upd = updates
    if n_chunks <= 0 or n_topics == 0:
        return 0
    # each thread's scratch: etheta, acc, coef and row pointers (see _e_step_range),
    # padded so that threads do not share cache lines
    cdef size_t scratch_bytes = (
        max_len * sizeof(void *) + (max_len + 2 * n_topics) * sizeof(floating) + 128
    )
    cdef unsigned int csr = 0
    with nogil, parallel(num_threads=n_threads):
        if floating is float:
            csr = fc_ftz_on()
        scratch = malloc(scratch_bytes)
        for c in prange(n_chunks, schedule="dynamic"):
            if scratch == NULL:
                upd[c] = -1
            else:
                upd[c] = _e_step_range(
                    p_data, p_indices, &indptr[0], bounds[c], bounds[c + 1],
                    p_etw, &alpha[0], n_topics, max_iter, mean_change_tol, epsv,
                    alpha_bound, &gamma[0, 0], &exp_doc_topic[0, 0], p_ratio,
                    &doc_bound[0], scratch, max_len,
                )
        free(scratch)
        if floating is float:
            fc_ftz_restore(csr)
    if (updates < 0).any():
        raise MemoryError("fastcavi: could not allocate per-thread scratch")
    return int(updates.sum())


def lda_e_step(
    data,
    indices,
    indptr,
    exp_topic_word,
    alpha,
    gamma,
    max_iter,
    mean_change_tol,
    eps,
    exp_doc_topic,
    ratio,
    doc_bound,
    n_threads=1,
):
    """Cython version of :func:`fastcavi.lda.lda_reference.lda_e_step`.

    Same parameters, shapes, dtypes and return value; OpenMP over chunks of
    documents with ``n_threads`` threads. Inputs are used in place when
    contiguous (``data`` is never copied then); the outputs ``gamma``,
    ``exp_doc_topic``, ``ratio`` and ``doc_bound`` must be C-contiguous.
    Word ids in ``indices`` must lie in ``[0, n_words)`` (not checked).
    """
    from fastcavi.kernels import doc_chunks

    n_threads = _n_threads(n_threads)
    dtype = np.dtype(gamma.dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"gamma must be float32 or float64; got {dtype}")
    for name, arr in (("data", data), ("exp_topic_word", exp_topic_word),
                      ("exp_doc_topic", exp_doc_topic), ("ratio", ratio)):
        _check_dtype(name, arr, dtype)
    _check_dtype("doc_bound", doc_bound, np.float64)
    data = np.ascontiguousarray(data)
    indices = _as_index(indices)
    indptr = _as_index(indptr)
    exp_topic_word = np.ascontiguousarray(exp_topic_word)
    n_docs = indptr.shape[0] - 1
    n_topics = gamma.shape[1] if gamma.ndim == 2 else -1
    alpha = np.ascontiguousarray(alpha, dtype=dtype)
    if alpha.shape != (n_topics,):
        raise ValueError(f"alpha must have shape ({n_topics},); got {alpha.shape}")
    if gamma.shape != (n_docs, n_topics) or exp_doc_topic.shape != (n_docs, n_topics):
        raise ValueError(
            f"gamma and exp_doc_topic must have shape {(n_docs, n_topics)}; "
            f"got {gamma.shape} and {exp_doc_topic.shape}"
        )
    if exp_topic_word.ndim != 2 or exp_topic_word.shape[1] != n_topics:
        raise ValueError(
            f"exp_topic_word must have shape (n_words, {n_topics}); got {exp_topic_word.shape}"
        )
    if doc_bound.shape != (n_docs,):
        raise ValueError(f"doc_bound must have shape ({n_docs},); got {doc_bound.shape}")
    nnz = data.shape[0]
    if indices.shape != (nnz,) or ratio.shape != (nnz,):
        raise ValueError(
            f"data, indices and ratio must have the same shape; got "
            f"{data.shape}, {indices.shape}, {ratio.shape}"
        )
    if n_docs < 0 or (n_docs > 0 and (indptr[0] < 0 or indptr[n_docs] > nnz)):
        raise ValueError("indptr is not a valid CSR row-pointer array for data")
    if n_docs == 0:
        return 0
    alpha64 = alpha.astype(np.float64)
    alpha_bound = math.lgamma(float(alpha64.sum())) - sum(math.lgamma(a) for a in alpha64)
    bounds = doc_chunks(indptr, n_threads * _CHUNKS_PER_THREAD)
    max_len = int(np.diff(indptr).max())
    return _e_step(
        data, indices, indptr, exp_topic_word, alpha, gamma, int(max_iter),
        float(mean_change_tol), float(eps), exp_doc_topic, ratio, doc_bound,
        bounds, alpha_bound, max_len, n_threads,
    )


# ---------------------------------------------------------------------------
# lda_suff_stats
# ---------------------------------------------------------------------------

cdef void _suff_stats_word(
    const int64_t *col, const index_t *docs, const ptr_t *perm, const floating *ratio,
    const floating *edt, const floating *etw_w, Py_ssize_t n_topics, floating *out_w,
    const floating **rows, floating *coef,
) noexcept nogil:
    """out_w = (sum_j ratio_j * edt[doc_j]) * etw_w over the column's entries j in order."""
    cdef Py_ssize_t j, k
    cdef Py_ssize_t first = col[0]
    cdef Py_ssize_t n = col[1] - first
    for j in range(n):
        rows[j] = edt + <Py_ssize_t> docs[first + j] * n_topics
        coef[j] = ratio[perm[first + j]]
    _gather(rows, coef, n, n_topics, out_w)
    for k in range(n_topics):
        out_w[k] = out_w[k] * etw_w[k]


def _suff_stats(
    const int64_t[::1] csc_indptr,
    const index_t[::1] csc_docs,
    const ptr_t[::1] csc_perm,
    const floating[::1] ratio,
    const floating[:, ::1] exp_doc_topic,
    const floating[:, ::1] exp_topic_word,
    floating[:, ::1] out,
    Py_ssize_t max_len,
    int n_threads,
):
    cdef Py_ssize_t n_words = exp_topic_word.shape[0]
    cdef Py_ssize_t n_topics = exp_topic_word.shape[1]
    cdef Py_ssize_t w
    cdef void *scratch = NULL
    cdef const index_t *p_docs = &csc_docs[0] if csc_docs.shape[0] else NULL
    cdef const ptr_t *p_perm = &csc_perm[0] if csc_perm.shape[0] else NULL
    cdef const floating *p_ratio = &ratio[0] if ratio.shape[0] else NULL
    cdef const floating *p_edt = &exp_doc_topic[0, 0] if exp_doc_topic.shape[0] else NULL
    # per thread: max_len row pointers, then max_len coefficients (+ padding)
    cdef size_t scratch_bytes = max_len * (sizeof(void *) + sizeof(floating)) + 128
    cdef int n_failed = 0
    if n_words == 0 or n_topics == 0:
        return
    with nogil, parallel(num_threads=n_threads):
        scratch = malloc(scratch_bytes)
        for w in prange(n_words, schedule="guided"):
            if scratch == NULL:
                n_failed += 1
            else:
                _suff_stats_word(
                    &csc_indptr[w], p_docs, p_perm, p_ratio, p_edt,
                    &exp_topic_word[w, 0], n_topics, &out[w, 0],
                    <const floating **> scratch,
                    <floating *> (<const floating **> scratch + max_len),
                )
        free(scratch)
    if n_failed:
        raise MemoryError("fastcavi: could not allocate per-thread scratch")


def lda_suff_stats(
    csc_indptr, csc_docs, csc_perm, ratio, exp_doc_topic, exp_topic_word, out, n_threads=1
):
    """Cython version of :func:`fastcavi.lda.lda_reference.lda_suff_stats`.

    Same parameters and shapes; OpenMP over words with ``n_threads`` threads,
    each word gathering its CSC column in order (bit-identical for any
    ``n_threads``). ``out`` must be C-contiguous.
    """
    dtype = np.dtype(out.dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"out must be float32 or float64; got {dtype}")
    for name, arr in (("ratio", ratio), ("exp_doc_topic", exp_doc_topic),
                      ("exp_topic_word", exp_topic_word)):
        _check_dtype(name, arr, dtype)
    csc_indptr = np.ascontiguousarray(csc_indptr, dtype=np.int64)
    csc_docs = _as_index(csc_docs)
    csc_perm = _as_index(csc_perm)
    ratio = np.ascontiguousarray(ratio)
    exp_doc_topic = np.ascontiguousarray(exp_doc_topic)
    exp_topic_word = np.ascontiguousarray(exp_topic_word)
    if exp_topic_word.ndim != 2 or out.shape != exp_topic_word.shape:
        raise ValueError(
            f"out and exp_topic_word must have the same 2-d shape; got "
            f"{out.shape} and {exp_topic_word.shape}"
        )
    n_words, n_topics = exp_topic_word.shape
    if csc_indptr.shape != (n_words + 1,):
        raise ValueError(f"csc_indptr must have shape ({n_words + 1},); got {csc_indptr.shape}")
    nnz = csc_docs.shape[0]
    if csc_perm.shape != (nnz,) or ratio.shape != (nnz,):
        raise ValueError("csc_docs, csc_perm and ratio must have the same length")
    if n_words > 0 and (csc_indptr[0] < 0 or csc_indptr[n_words] > nnz):
        raise ValueError("csc_indptr is not a valid column-pointer array")
    if exp_doc_topic.ndim != 2 or exp_doc_topic.shape[1] != n_topics:
        raise ValueError(
            f"exp_doc_topic must have shape (n_docs, {n_topics}); got {exp_doc_topic.shape}"
        )
    max_len = int(np.diff(csc_indptr).max()) if n_words > 0 else 0
    _suff_stats(
        csc_indptr, csc_docs, csc_perm, ratio, exp_doc_topic, exp_topic_word, out,
        max_len, _n_threads(n_threads),
    )


# ---------------------------------------------------------------------------
# argument helpers (Python level, outside the hot loops)
# ---------------------------------------------------------------------------

cdef int _n_threads(n_threads) except -1:
    return <int> max(1, min(int(n_threads), 1 << 16))


def _check_dtype(name, arr, dtype):
    if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
        got = arr.dtype if hasattr(arr, "dtype") else type(arr).__name__
        raise TypeError(f"{name} must be a numpy array of dtype {np.dtype(dtype)}; got {got}")


def _as_index(a):
    """int32/int64 arrays pass through (no copy when contiguous); others -> int64."""
    a = np.asarray(a)
    if a.dtype == np.int32 or a.dtype == np.int64:
        return np.ascontiguousarray(a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"index arrays must be integer; got {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.int64)
