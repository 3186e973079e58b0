# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Cython backend of the Gaussian-mixture kernel (``fastcavi._ext._gmm``).

Same contract as :func:`fastcavi.mixture.gmm_reference.gmm_e_step` and the
same structure as :mod:`fastcavi.kernels.numba_gmm`: OpenMP ``prange``
(dynamic schedule) over the chunks of
:func:`~fastcavi.mixture.gmm_reference.chunk_bounds` (a partition that
depends on n only); each chunk allocates its scratch once, walks its rows in
blocks of ``FC_B`` = 128 and accumulates into its own float64 partials, which
are summed in chunk order afterwards. Results are bit-identical whatever
``n_threads``.

The hot loops are C with GCC/Clang vector extensions, 8 float64 lanes = 8
samples of a block transposed to (d, 128):

- "full"/"tied": ``y = (x - m_k) @ U_k`` with U_k copied into a zero-padded
  (d, dp) upper-triangular tile (dp = d rounded up to 8), eight output
  columns held in registers while the rows i <= j stream through, so each
  difference row is loaded once per eight columns and rows below a column
  group are skipped;
- one vectorised exp per (sample, component) (fc_vexp_flush of
  csrc/include/fc_vec.h, the LDA kernels' exp: Cody-Waite reduction and a
  degree-13 polynomial, <= 1 ulp; exactly 0 below -708, NaN propagates);
- the "full" scatter ``sum_i w_i r_ik (x_i - m_k)(x_i - m_k)^T`` in 2 x 4
  register tiles over the upper triangle only, mirrored after the chunk
  reduction; "diag"/"spherical" square the difference, never expand it.

The vector code (csrc/include/fc_gmm_kernels.h) is compiled three times
(generic 16-byte baseline, AVX2 and AVX-512 via ``__attribute__((target(...)))``)
and the widest one the CPU supports is picked at import (:func:`simd_variant`;
``FASTCAVI_SIMD`` overrides, see :mod:`fastcavi.kernels.simd`: "scalar" runs
"generic"). The source fixes every operation and its order (element-wise
vector arithmetic, fixed-order horizontal sums, no FMA: the build passes
``-ffp-contract=off``), so the variants return the same bits (tested), as
do all thread counts.
"""

from cython.parallel cimport prange
from libc.stdint cimport int64_t
cimport numpy as cnp

import numpy as np

from fastcavi.mixture.gmm_reference import chunk_bounds

cnp.import_array()

__all__ = ["gmm_e_step", "OPENMP_ENABLED", "simd_variant", "simd_variants"]

# the C kernel: csrc/include/fc_gmm_kernels.h
cdef extern from "fc_gmm_kernels.h" nogil:
    ctypedef struct fc_gmm_t:
        int d, K, dp, kind, f32, write_resp, write_norm, stats
        const void *X
        const void *w
        const double *means
        const double *prec
        const double *bias
        void *log_resp
        void *log_norm
    int fc_gmm_chunk(const fc_gmm_t *A, int64_t first, int64_t last, double *nk, double *sx,
                     double *sxx, double *sums)
    int FC_OPENMP_ENABLED


#: True when the extension was compiled with OpenMP (else prange runs serially)
OPENMP_ENABLED = bool(FC_OPENMP_ENABLED)

_FAMILY = "gmm"
include "fc_simd.pxi"

_KINDS = {"full": 0, "tied": 1, "diag": 2, "spherical": 3}


cdef inline void* _ptr(cnp.ndarray a):
    return cnp.PyArray_DATA(a)


def gmm_e_step(X, sample_weight, means, prec_chol, log_bias, cov_type, nk, sx, sxx,
               log_resp, log_norm, compute_stats, n_threads=1):
    """Cython version of :func:`fastcavi.mixture.gmm_reference.gmm_e_step`.

    Same parameters, shapes, dtypes and return value; ``n_threads`` OpenMP
    threads over a static partition of the samples (results do not depend on
    it).

    Raises
    ------
    ValueError
        If ``log_resp``/``log_norm`` are to be written but are not writeable
        C-contiguous arrays of X's dtype (they are written through a pointer).
    RuntimeError
        If the extension was built without GCC/Clang vector extensions.
    MemoryError
        If a scratch allocation failed.
    """
    if _simd is None:
        raise RuntimeError("fastcavi._ext._gmm was compiled without vector extensions")
    cdef int kind = _KINDS[cov_type]
    cdef Py_ssize_t n = X.shape[0]
    cdef int d = X.shape[1]
    cdef int K = means.shape[0]
    cdef int dp = (d + 7) // 8 * 8
    cdef int nt = max(1, int(n_threads))
    cdef bint stats = bool(compute_stats)
    cdef fc_gmm_t A
    cdef cnp.ndarray Xc = np.ascontiguousarray(X)
    cdef cnp.ndarray wc = np.ascontiguousarray(sample_weight, dtype=Xc.dtype)
    cdef cnp.ndarray m64 = np.ascontiguousarray(means, dtype=np.float64)
    cdef cnp.ndarray b64 = np.ascontiguousarray(log_bias, dtype=np.float64)
    cdef cnp.ndarray U
    if kind <= 1:
        P = np.asarray(prec_chol, dtype=np.float64).reshape(-1, d, d)
        U = np.zeros((P.shape[0], d, dp))
        U[:, :, :d] = np.triu(P)
    else:
        U = np.ascontiguousarray(prec_chol, dtype=np.float64)
    cdef int sxx_size = {0: dp * dp, 1: 0, 2: d, 3: 1}[kind]
    cdef cnp.ndarray bnd = chunk_bounds(n)
    cdef int n_chunks = bnd.shape[0] - 1
    cdef cnp.ndarray nk_p = np.zeros((n_chunks, K))
    cdef cnp.ndarray sx_p = np.zeros((n_chunks, K, d))
    cdef cnp.ndarray sxx_p = np.zeros((n_chunks, K, max(sxx_size, 1)))
    cdef cnp.ndarray sums_p = np.zeros((n_chunks, 2))
    cdef cnp.ndarray status = np.zeros(n_chunks, dtype=np.int32)
    A.d = d
    A.K = K
    A.dp = dp
    A.kind = kind
    A.f32 = Xc.dtype == np.float32
    A.write_resp = log_resp.shape[0] != 0
    A.write_norm = log_norm.shape[0] != 0
    A.stats = stats
    A.X = _ptr(Xc)
    A.w = _ptr(wc)
    A.means = <const double *>_ptr(m64)
    A.prec = <const double *>_ptr(U)
    A.bias = <const double *>_ptr(b64)
    for name, arr, write in (("log_resp", log_resp, A.write_resp),
                             ("log_norm", log_norm, A.write_norm)):
        if write and (not isinstance(arr, np.ndarray) or arr.dtype != Xc.dtype
                      or not arr.flags.c_contiguous or not arr.flags.writeable):
            raise ValueError(f"{name} must be a writeable C-contiguous {Xc.dtype} array")
    A.log_resp = _ptr(log_resp) if A.write_resp else NULL
    A.log_norm = _ptr(log_norm) if A.write_norm else NULL
    cdef int64_t[::1] bv = bnd
    cdef double *pnk = <double *>_ptr(nk_p)
    cdef double *psx = <double *>_ptr(sx_p)
    cdef double *psxx = <double *>_ptr(sxx_p)
    cdef double *psums = <double *>_ptr(sums_p)
    cdef int[::1] st = status
    cdef int sxx_stride = K * max(sxx_size, 1)
    cdef int c
    with nogil:
        for c in prange(n_chunks, schedule="dynamic", chunksize=1, num_threads=nt):
            st[c] = fc_gmm_chunk(&A, bv[c], bv[c + 1], pnk + c * K, psx + c * K * d,
                                 psxx + c * sxx_stride, psums + 2 * c)
    if status.any():
        raise MemoryError("fastcavi._ext._gmm: scratch allocation failed")
    # fixed-order reduction of the chunk partials
    cdef double s_norm = 0.0, s_ent = 0.0
    for c in range(n_chunks):
        s_norm += psums[2 * c]
        s_ent += psums[2 * c + 1]
    if stats:
        _reduce(nk_p, sx_p, sxx_p, nk, sx, sxx, kind, d, dp)
    return float(s_norm), float(s_ent)


def _reduce(nk_p, sx_p, sxx_p, nk, sx, sxx, int kind, int d, int dp):
    """Sum the partials in chunk order into the outputs; mirror "full"."""
    cdef double[:, ::1] a = nk_p
    cdef double[:, :, ::1] b = sx_p
    cdef double[:, :, ::1] cc = sxx_p
    cdef int n_chunks = a.shape[0], K = a.shape[1]
    cdef int c, k, j, i
    cdef double acc
    cdef double[::1] onk = nk
    cdef double[:, ::1] osx = sx
    cdef double[:, :, ::1] of
    cdef double[:, ::1] od
    cdef double[::1] osph
    for k in range(K):
        acc = 0.0
        for c in range(n_chunks):
            acc += a[c, k]
        onk[k] = acc
        for j in range(d):
            acc = 0.0
            for c in range(n_chunks):
                acc += b[c, k, j]
            osx[k, j] = acc
    if kind == 0:
        of = sxx
        for k in range(K):
            for i in range(d):
                for j in range(i, d):
                    acc = 0.0
                    for c in range(n_chunks):
                        acc += cc[c, k, i * dp + j]
                    of[k, i, j] = acc
                    of[k, j, i] = acc
    elif kind == 2:
        od = sxx
        for k in range(K):
            for j in range(d):
                acc = 0.0
                for c in range(n_chunks):
                    acc += cc[c, k, j]
                od[k, j] = acc
    elif kind == 3:
        osph = sxx
        for k in range(K):
            acc = 0.0
            for c in range(n_chunks):
                acc += cc[c, k, 0]
            osph[k] = acc
