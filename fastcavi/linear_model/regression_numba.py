"""Numba backend of the regression kernels (``@njit(parallel=True, cache=True)``).

Same contracts as :mod:`fastcavi.linear_model.regression_reference`. Rows are
split into contiguous chunks whose number depends only on (n, p)
(:func:`~fastcavi.linear_model.regression_reference.row_chunks`); ``prange`` runs
over chunks, each chunk owns a float64 scratch block of
:func:`~fastcavi.linear_model.regression_reference.block_rows` rows and (for the
Gram) its own partial p x p matrix, and the partial results are added in
chunk order, so results do not depend on the thread count.

Dense linear algebra on a block is BLAS from SciPy's ``cython_blas``
(``dsyrk`` for the Gram; ``dtrmm`` with the factor of
:func:`~fastcavi.linear_model.regression_reference.moment_factor` for ``R^-T x~``
and ``x~^T mu`` in one product): the function addresses
are looked up at import and passed to the compiled code as integers, called
through a small LLVM intrinsic, so the kernels stay cacheable (a ctypes
function object would be a "dynamic global" and disable ``cache=True``).
The caller keeps BLAS single-threaded meanwhile
(:func:`fastcavi.engine.limit_blas`); the estimators do.
"""

import math

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import get_cython_function_address, intrinsic

from ..kernels.numba_support import set_threads
from .regression_reference import block_rows, moment_factor, row_chunks

__all__ = ["weighted_gram", "predictive_moments", "jj_step", "row_chunks", "set_threads"]

_DSYRK = get_cython_function_address("scipy.linalg.cython_blas", "dsyrk")
_DTRMM = get_cython_function_address("scipy.linalg.cython_blas", "dtrmm")


@intrinsic
def _call_ptrs(typingctx, addr, ptrs):
    """Call ``void f(void *, ...)`` at integer address ``addr`` with a tuple of integer pointers."""
    if not isinstance(addr, types.Integer) or not isinstance(ptrs, types.BaseTuple):
        return None
    if not all(isinstance(tp, types.Integer) for tp in ptrs.types):
        return None
    n_args = len(ptrs.types)
    sig = types.void(addr, ptrs)

    def codegen(context, builder, signature, args):
        voidptr = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [voidptr] * n_args)
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        vals = [builder.inttoptr(builder.extract_value(args[1], i), voidptr) for i in range(n_args)]
        builder.call(fn, vals)
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(cache=True, nogil=True)
def _syrk_acc(addr, buf, m, p, G, ints, chars, dbls):
    """G (col-major upper) += A A^T with A = buf[:m] seen as a p x m col-major matrix."""
    ints[0] = p
    ints[1] = m
    chars[0] = 85  # 'U'
    chars[1] = 78  # 'N'
    dbls[0] = 1.0
    dbls[1] = 1.0
    _call_ptrs(addr, (chars.ctypes.data, chars.ctypes.data + 1, ints.ctypes.data,
                      ints.ctypes.data + 4, dbls.ctypes.data, buf.ctypes.data, ints.ctypes.data,
                      dbls.ctypes.data + 8, G.ctypes.data, ints.ctypes.data))
    return ints[0] + chars[0] + buf[0, 0] + G[0, 0] + dbls[0]  # keeps the arrays alive


@numba.njit(cache=True, nogil=True)
def _trmm_rows(addr, F, buf, m, q, ints, chars, dbls):
    """buf[i] <- F^T buf[i] for i < m (rows of a C array = columns of a col-major one)."""
    ints[0] = q
    ints[1] = m
    chars[0] = 76  # side 'L'
    chars[1] = 76  # uplo 'L' (the upper triangle of the C-order F)
    chars[2] = 78  # 'N'
    chars[3] = 78  # non-unit diagonal
    dbls[0] = 1.0
    _call_ptrs(addr, (chars.ctypes.data, chars.ctypes.data + 1, chars.ctypes.data + 2,
                      chars.ctypes.data + 3, ints.ctypes.data, ints.ctypes.data + 4,
                      dbls.ctypes.data, F.ctypes.data, ints.ctypes.data, buf.ctypes.data,
                      ints.ctypes.data))
    return ints[0] + chars[0] + buf[0, 0] + F[0, 0] + dbls[0]


@numba.njit(cache=True, nogil=True)
def _sumsq(z, n):
    """sum_j z[j]^2 for j < n in four interleaved partial sums: a fixed order, four chains."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    j = 0
    while j + 4 <= n:
        s0 += z[j] * z[j]
        s1 += z[j + 1] * z[j + 1]
        s2 += z[j + 2] * z[j + 2]
        s3 += z[j + 3] * z[j + 3]
        j += 4
    while j < n:
        s0 += z[j] * z[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


@numba.njit(cache=True, nogil=True)
def _fill(X, row, center, intercept, scale, out):
    """out[:] = scale * [X[row] - center, 1?]."""
    d = X.shape[1]
    for j in range(d):
        out[j] = (np.float64(X[row, j]) - center[j]) * scale
    if intercept:
        out[d] = scale


@numba.njit(cache=True, nogil=True)
def _lambda(xi):
    if xi < 1e-4:
        return 0.125 - xi * xi / 96.0
    return math.tanh(0.5 * xi) / (4.0 * xi)


@numba.njit(cache=True, nogil=True)
def _log_sigmoid_pos(x):
    """log sigma(x) for x >= 0."""
    return -math.log1p(math.exp(-x))


@numba.njit(parallel=True, cache=True, nogil=True)
def _gram_chunks(X, sw, center, intercept, bounds, rows, partial, addr):
    n_chunks = bounds.shape[0] - 1
    p = partial.shape[1]
    for c in prange(n_chunks):
        buf = np.empty((rows, p), dtype=np.float64)
        ints = np.zeros(2, dtype=np.int32)
        chars = np.zeros(4, dtype=np.uint8)
        dbls = np.zeros(2, dtype=np.float64)
        Gc = partial[c]
        Gc[:, :] = 0.0
        keep = 0.0
        start = bounds[c]
        while start < bounds[c + 1]:
            m = min(rows, bounds[c + 1] - start)
            for i in range(m):
                _fill(X, start + i, center, intercept, math.sqrt(sw[start + i]), buf[i])
            keep += _syrk_acc(addr, buf, m, p, Gc, ints, chars, dbls)
            start += m
    return partial


@numba.njit(cache=True, nogil=True)
def _reduce_sym(partial, G):
    """G = sum of the partial col-major-upper matrices, in order, symmetrised."""
    p = G.shape[0]
    for i in range(p):
        for j in range(i + 1):
            acc = 0.0
            for c in range(partial.shape[0]):
                acc += partial[c, i, j]  # row-major lower = col-major upper
            G[i, j] = acc
            G[j, i] = acc


def weighted_gram(X, sample_weight, center, intercept, G, n_threads=1):
    """Numba version of :func:`fastcavi.linear_model.regression_reference.weighted_gram`."""
    n = X.shape[0]
    p = G.shape[0]
    bounds = row_chunks(n, p)
    partial = np.empty((bounds.shape[0] - 1, p, p), dtype=np.float64)
    sw = np.ascontiguousarray(sample_weight, dtype=np.float64)
    center = np.ascontiguousarray(center, dtype=np.float64)
    with set_threads(n_threads):
        _gram_chunks(X, sw, center, bool(intercept), bounds, block_rows(p), partial, _DSYRK)
    _reduce_sym(partial, G)


@numba.njit(parallel=True, cache=True, nogil=True)
def _moments_chunks(X, center, intercept, F, mean, var, bounds, rows, addr):
    n_chunks = bounds.shape[0] - 1
    q = F.shape[0]
    p = q - 1
    for c in prange(n_chunks):
        tri = np.empty((rows, q), dtype=np.float64)
        ints = np.zeros(2, dtype=np.int32)
        chars = np.zeros(4, dtype=np.uint8)
        dbls = np.zeros(2, dtype=np.float64)
        keep = 0.0
        start = bounds[c]
        while start < bounds[c + 1]:
            m = min(rows, bounds[c + 1] - start)
            for i in range(m):
                _fill(X, start + i, center, intercept, 1.0, tri[i])
                tri[i, p] = 0.0
            keep += _trmm_rows(addr, F, tri, m, q, ints, chars, dbls)
            for i in range(m):
                mean[start + i] = tri[i, p]
                var[start + i] = _sumsq(tri[i], p)
            start += m


def predictive_moments(X, center, intercept, R, mu, mean, var, n_threads=1):
    """Numba version of :func:`fastcavi.linear_model.regression_reference.predictive_moments`."""
    n = X.shape[0]
    p = R.shape[0]
    bounds = row_chunks(n, p, with_partials=False)
    with set_threads(n_threads):
        _moments_chunks(X, np.ascontiguousarray(center, dtype=np.float64), bool(intercept),
                        moment_factor(R, mu), mean, var, bounds, block_rows(p), _DTRMM)


@numba.njit(parallel=True, cache=True, nogil=True)
def _jj_chunks(X, t, sw, intercept, F, xi, partial, compute_gram, bounds, rows, terms,
               addr_trmm, addr_syrk):
    n_chunks = bounds.shape[0] - 1
    q = F.shape[0]
    p = q - 1
    d = X.shape[1]
    for c in prange(n_chunks):
        buf = np.empty((rows, p), dtype=np.float64)
        tri = np.empty((rows, q), dtype=np.float64)
        ints = np.zeros(2, dtype=np.int32)
        chars = np.zeros(4, dtype=np.uint8)
        dbls = np.zeros(2, dtype=np.float64)
        zero_center = np.zeros(d, dtype=np.float64)
        if compute_gram:
            partial[c, :, :] = 0.0
        keep = 0.0
        acc = 0.0
        start = bounds[c]
        while start < bounds[c + 1]:
            m = min(rows, bounds[c + 1] - start)
            for i in range(m):
                _fill(X, start + i, zero_center, intercept, 1.0, buf[i])
                for j in range(p):
                    tri[i, j] = buf[i, j]
                tri[i, p] = 0.0
            keep += _trmm_rows(addr_trmm, F, tri, m, q, ints, chars, dbls)
            for i in range(m):
                row = start + i
                a = tri[i, p]
                x = math.sqrt(_sumsq(tri[i], q))  # ||R^-T x~||^2 + a^2
                xi[row] = x
                acc += sw[row] * (_log_sigmoid_pos(x) - 0.5 * x + 0.5 * t[row] * a)
                if compute_gram:
                    scale = math.sqrt(2.0 * sw[row] * _lambda(x))
                    for j in range(p):
                        buf[i, j] *= scale
            if compute_gram:
                keep += _syrk_acc(addr_syrk, buf, m, p, partial[c], ints, chars, dbls)
            start += m
        terms[c] = acc


def jj_step(X, t, sample_weight, intercept, R, mu, xi, G, compute_gram, n_threads=1):
    """Numba version of :func:`fastcavi.linear_model.regression_reference.jj_step`."""
    n = X.shape[0]
    p = R.shape[0]
    bounds = row_chunks(n, p, with_partials=bool(compute_gram))
    n_chunks = bounds.shape[0] - 1
    partial = np.empty((n_chunks if compute_gram else 0, p, p), dtype=np.float64)
    terms = np.zeros(n_chunks, dtype=np.float64)
    with set_threads(n_threads):
        _jj_chunks(X, np.ascontiguousarray(t, dtype=np.float64),
                   np.ascontiguousarray(sample_weight, dtype=np.float64), bool(intercept),
                   moment_factor(R, mu), xi, partial, bool(compute_gram), bounds,
                   block_rows(p), terms, _DTRMM, _DSYRK)
    if compute_gram:
        _reduce_sym(partial, G)
    total = 0.0
    for v in terms:  # chunk order
        total += float(v)
    return total
