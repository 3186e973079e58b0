"""Numba backend of the Gaussian-mixture kernel (``@njit(parallel=True, cache=True)``).

Same contract as :func:`fastcavi.mixture.gmm_reference.gmm_e_step`. The
samples are split by :func:`~fastcavi.mixture.gmm_reference.chunk_bounds` (a
partition that depends on n only); ``prange`` runs over the chunks, each
chunk allocates its scratch once and walks its rows in blocks of
:data:`BLOCK`, accumulating into its own float64 partials, which are summed in
chunk order at the end. Results are therefore bit-identical whatever the
number of threads.

There is one compiled parallel kernel per covariance type
(``_kernel_full``, ``_kernel_tied``, ``_kernel_diag``, ``_kernel_spherical``),
each running the shared chunk body :func:`_chunk` with its type as a constant.
Compilation is lazy (first use of a type and dtype) and cached on disk.

The hot loops are written for SIMD: a block is transposed into a (d, BLOCK)
float64 scratch so that the innermost loop of every step runs over the
block's samples with unit stride (one vector lane per sample). For each
component k:

- "full"/"tied": ``y_j = sum_{i <= j} (x_i - m_ki) U_k[i, j]`` touches only
  the upper triangle of U_k (d(d+1)/2 multiply-adds per sample), four output
  columns and four rows at a time, so every pass over the partial sums
  carries 16 multiply-adds;
- "diag"/"spherical": ``((x - m_k) * u_k)^2`` directly;
- the log-sum-exp over components uses a vectorisable exp (:func:`_exp_neg`,
  Cody-Waite reduction and a degree-13 polynomial, ~1 ulp), since Numba has no
  vector libm here;
- the "full" scatter accumulates only the upper triangle in 2 x 4 tiles,
  mirrored once after the chunk reduction; "diag" squares the difference,
  never expanding it;
- every reduction over samples runs in a loop that only reads: LLVM then
  vectorises it without runtime alias checks, whose outcome (and so the
  summation order) could otherwise depend on where the scratch arrays lie --
  observed as 1-ulp differences between processes before this rule.

``FASTMATH`` is the flag set of :mod:`fastcavi.kernels.numba_support`
({"reassoc", "contract", "arcp", "nsz"}): reductions vectorise and FMAs are
used, while NaN/inf keep their IEEE meaning.
"""

import math

import numba
import numpy as np
from numba import prange

from ..kernels.numba_support import FASTMATH, set_threads
from .gmm_reference import chunk_bounds

__all__ = ["gmm_e_step", "set_threads", "BLOCK"]

#: rows per block inside a chunk (chunks are multiples of 256 rows)
BLOCK = 128

_LOG2E = 1.4426950408889634
_LN2_HI = 0.693145751953125
_LN2_LO = 1.42860682030941723212e-6


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _exp_neg(src, dst, nb, ibuf):
    """dst[s] = exp(src[s]) for s < nb, vectorisable; exact 0 below -708.

    Cody-Waite: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-13 Taylor
    polynomial (truncation < 1e-17), 2^n built from its bits in ``ibuf``.
    ``src`` and ``dst`` must not overlap.
    NaN propagates (the comparisons below are false for NaN, and the
    polynomial of NaN is NaN).
    """
    for s in range(nb):
        x = src[s]
        xc = -708.0 if x < -708.0 else x
        nf = math.floor(xc * _LOG2E + 0.5)
        nf = -1100.0 if not (nf > -1100.0) else nf
        nf = 1100.0 if nf > 1100.0 else nf
        r = (xc - nf * _LN2_HI) - nf * _LN2_LO
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        dst[s] = p
        ibuf[s] = (np.int64(nf) + 1023) << 52
    fbuf = ibuf.view(np.float64)
    for s in range(nb):
        v = dst[s] * fbuf[s]
        dst[s] = 0.0 if src[s] < -708.0 else v


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _load_block(X, b0, nb, XT):
    d = X.shape[1]
    for s in range(nb):
        for j in range(d):
            XT[j, s] = X[b0 + s, j]


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _diff(XT, mk, nb, DT):
    d = XT.shape[0]
    for j in range(d):
        m = np.float64(mk[j])
        for s in range(nb):
            DT[j, s] = XT[j, s] - m


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _maha_tri(DT, U, nb, q, y0, y1, y2, y3):
    """q[s] = ||DT[:, s]^T U||^2 for upper-triangular U (rows i <= column j).

    Columns go four at a time; the rows above their diagonal 4 x 4 block are
    consumed four at a time too, so each pass over the (L1-resident) partial
    sums y0..y3 carries 16 multiply-adds (the loop over samples is the
    vectorised one; a pass per row would be bound by the stores of y).
    """
    d = DT.shape[0]
    for s in range(nb):
        q[s] = 0.0
    j = 0
    while j + 4 <= d:
        for s in range(nb):
            y0[s] = 0.0
            y1[s] = 0.0
            y2[s] = 0.0
            y3[s] = 0.0
        for i in range(0, j, 4):
            u00 = np.float64(U[i, j])
            u01 = np.float64(U[i, j + 1])
            u02 = np.float64(U[i, j + 2])
            u03 = np.float64(U[i, j + 3])
            u10 = np.float64(U[i + 1, j])
            u11 = np.float64(U[i + 1, j + 1])
            u12 = np.float64(U[i + 1, j + 2])
            u13 = np.float64(U[i + 1, j + 3])
            u20 = np.float64(U[i + 2, j])
            u21 = np.float64(U[i + 2, j + 1])
            u22 = np.float64(U[i + 2, j + 2])
            u23 = np.float64(U[i + 2, j + 3])
            u30 = np.float64(U[i + 3, j])
            u31 = np.float64(U[i + 3, j + 1])
            u32 = np.float64(U[i + 3, j + 2])
            u33 = np.float64(U[i + 3, j + 3])
            for s in range(nb):
                t0 = DT[i, s]
                t1 = DT[i + 1, s]
                t2 = DT[i + 2, s]
                t3 = DT[i + 3, s]
                y0[s] += (t0 * u00 + t1 * u10) + (t2 * u20 + t3 * u30)
                y1[s] += (t0 * u01 + t1 * u11) + (t2 * u21 + t3 * u31)
                y2[s] += (t0 * u02 + t1 * u12) + (t2 * u22 + t3 * u32)
                y3[s] += (t0 * u03 + t1 * u13) + (t2 * u23 + t3 * u33)
        # the diagonal block: row j + r feeds columns j + r .. j + 3 only
        v00 = np.float64(U[j, j])
        v01 = np.float64(U[j, j + 1])
        v02 = np.float64(U[j, j + 2])
        v03 = np.float64(U[j, j + 3])
        v11 = np.float64(U[j + 1, j + 1])
        v12 = np.float64(U[j + 1, j + 2])
        v13 = np.float64(U[j + 1, j + 3])
        v22 = np.float64(U[j + 2, j + 2])
        v23 = np.float64(U[j + 2, j + 3])
        v33 = np.float64(U[j + 3, j + 3])
        for s in range(nb):
            t0 = DT[j, s]
            t1 = DT[j + 1, s]
            t2 = DT[j + 2, s]
            t3 = DT[j + 3, s]
            a0 = y0[s] + t0 * v00
            a1 = y1[s] + (t0 * v01 + t1 * v11)
            a2 = y2[s] + (t0 * v02 + t1 * v12) + t2 * v22
            a3 = y3[s] + (t0 * v03 + t1 * v13) + (t2 * v23 + t3 * v33)
            q[s] += (a0 * a0 + a1 * a1) + (a2 * a2 + a3 * a3)
        j += 4
    while j < d:
        for s in range(nb):
            y0[s] = 0.0
        for i in range(j + 1):
            u0 = np.float64(U[i, j])
            for s in range(nb):
                y0[s] += DT[i, s] * u0
        for s in range(nb):
            q[s] += y0[s] * y0[s]
        j += 1


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _scatter_tri(WD, DT, nb, out):
    """out[a, b] += sum_s WD[a, s] DT[b, s] for b >= a (upper triangle).

    2 x 4 tiles (two rows a, four columns b): 6 loads per 8 multiply-adds.
    Entries with b < a inside a tile on the diagonal are computed too and
    ignored (only the upper triangle is read back).
    """
    d = DT.shape[0]
    for a in range(0, d, 2):
        a1 = a + 1 if a + 1 < d else a
        b = (a // 4) * 4
        while b + 4 <= d:
            c00 = 0.0
            c01 = 0.0
            c02 = 0.0
            c03 = 0.0
            c10 = 0.0
            c11 = 0.0
            c12 = 0.0
            c13 = 0.0
            for s in range(nb):
                x0 = WD[a, s]
                x1 = WD[a1, s]
                z0 = DT[b, s]
                z1 = DT[b + 1, s]
                z2 = DT[b + 2, s]
                z3 = DT[b + 3, s]
                c00 += x0 * z0
                c01 += x0 * z1
                c02 += x0 * z2
                c03 += x0 * z3
                c10 += x1 * z0
                c11 += x1 * z1
                c12 += x1 * z2
                c13 += x1 * z3
            out[a, b] += c00
            out[a, b + 1] += c01
            out[a, b + 2] += c02
            out[a, b + 3] += c03
            if a1 != a:
                out[a1, b] += c10
                out[a1, b + 1] += c11
                out[a1, b + 2] += c12
                out[a1, b + 3] += c13
            b += 4
        while b < d:
            c00 = 0.0
            c10 = 0.0
            for s in range(nb):
                z0 = DT[b, s]
                c00 += WD[a, s] * z0
                c10 += WD[a1, s] * z0
            out[a, b] += c00
            if a1 != a:
                out[a1, b] += c10
            b += 1


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _normalise(LR, E, w, nb, b0, log_resp, log_norm, write_resp, write_norm, mx, tot, tmp,
               ibuf):
    """Row-wise log-sum-exp of LR[:, :nb]; LR becomes w_i r_ik in place.

    r_ik = exp(LR_ik - max_i) / sum_k exp(LR_ik - max_i), one exp per entry
    (kept in E). Returns (sum_s w_s lse_s, sum_s w_s sum_k r_sk log r_sk) of
    the block.
    """
    K = LR.shape[0]
    for s in range(nb):
        mx[s] = LR[0, s]
    for k in range(1, K):
        for s in range(nb):
            v = LR[k, s]
            mx[s] = v if v > mx[s] else mx[s]
    for s in range(nb):
        tot[s] = 0.0
    for k in range(K):
        for s in range(nb):
            tmp[s] = LR[k, s] - mx[s]
        ek = E[k]
        _exp_neg(tmp, ek, nb, ibuf)
        for s in range(nb):
            tot[s] += ek[s]
    # every reduction below runs in a loop that only reads, so LLVM vectorises
    # it without runtime alias checks and the summation order never depends
    # on where the scratch arrays happen to lie
    for s in range(nb):
        mx[s] = mx[s] + math.log(tot[s])
        tot[s] = 1.0 / tot[s]
    if write_norm:
        for s in range(nb):
            log_norm[b0 + s] = mx[s]
    s_norm = 0.0
    for s in range(nb):
        s_norm += np.float64(w[b0 + s]) * mx[s]
    s_ent = 0.0
    for k in range(K):
        if write_resp:
            for s in range(nb):
                log_resp[b0 + s, k] = LR[k, s] - mx[s]
        for s in range(nb):
            lr = LR[k, s] - mx[s]
            r = E[k, s] * tot[s]
            ws = np.float64(w[b0 + s])
            tmp[s] = ws * (r * lr if r > 0.0 else 0.0)
            LR[k, s] = ws * r
        for s in range(nb):
            s_ent += tmp[s]
    return s_norm, s_ent


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _chunk(c, X, w, means, prec, log_bias, kind, bounds, nk_p, sx_p, sxx_p, sums_p,
           log_resp, log_norm, write_resp, write_norm, stats):
    """Chunk c: kind 0 full, 1 tied, 2 diag, 3 spherical (prec reshaped to 3-D)."""
    d = X.shape[1]
    K = means.shape[0]
    XT = np.empty((d, BLOCK))
    DT = np.empty((d, BLOCK))
    WD = np.empty((d, BLOCK))
    LR = np.empty((K, BLOCK))
    E = np.empty((K, BLOCK))
    q = np.empty(BLOCK)
    y0 = np.empty(BLOCK)
    y1 = np.empty(BLOCK)
    y2 = np.empty(BLOCK)
    y3 = np.empty(BLOCK)
    ibuf = np.empty(BLOCK, dtype=np.int64)
    s_norm = 0.0
    s_ent = 0.0
    for b0 in range(bounds[c], bounds[c + 1], BLOCK):
        nb = min(BLOCK, bounds[c + 1] - b0)
        _load_block(X, b0, nb, XT)
        for k in range(K):
            if kind == 0:
                _diff(XT, means[k], nb, DT)
                _maha_tri(DT, prec[k], nb, q, y0, y1, y2, y3)
            elif kind == 1:
                _diff(XT, means[k], nb, DT)
                _maha_tri(DT, prec[0], nb, q, y0, y1, y2, y3)
            else:
                for s in range(nb):
                    q[s] = 0.0
                for j in range(d):
                    m = np.float64(means[k, j])
                    u = np.float64(prec[k, 0, j]) if kind == 2 else np.float64(prec[k, 0, 0])
                    for s in range(nb):
                        t = (XT[j, s] - m) * u
                        q[s] += t * t
            bk = log_bias[k]
            for s in range(nb):
                LR[k, s] = bk - 0.5 * q[s]
        a, b = _normalise(LR, E, w, nb, b0, log_resp, log_norm, write_resp, write_norm,
                          q, y0, y1, ibuf)
        s_norm += a
        s_ent += b
        if not stats:
            continue
        # LR now holds w_i r_ik
        for k in range(K):
            acc = 0.0
            for s in range(nb):
                acc += LR[k, s]
            nk_p[c, k] += acc
            if kind == 0:
                _diff(XT, means[k], nb, DT)
                for j in range(d):
                    for s in range(nb):
                        WD[j, s] = LR[k, s] * DT[j, s]
                    acc = 0.0
                    for s in range(nb):
                        acc += WD[j, s]
                    sx_p[c, k, j] += acc
                _scatter_tri(WD, DT, nb, sxx_p[c, k])
            else:
                # diag, spherical, tied: first and (diagonal) second moments
                # of the difference in one sweep, never expanded
                acc2 = 0.0
                for j in range(d):
                    m = np.float64(means[k, j])
                    acc = 0.0
                    accj = 0.0
                    for s in range(nb):
                        t = XT[j, s] - m
                        wt = LR[k, s] * t
                        acc += wt
                        accj += wt * t
                    sx_p[c, k, j] += acc
                    if kind == 2:
                        sxx_p[c, k, 0, j] += accj
                    acc2 += accj
                if kind == 3:
                    sxx_p[c, k, 0, 0] += acc2
    sums_p[c, 0] = s_norm
    sums_p[c, 1] = s_ent


# one compiled parallel kernel per covariance type; ``kind`` is a constant in
# each, so the chunk body is specialised when LLVM inlines it
@numba.njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)
def _kernel_full(X, w, means, prec, log_bias, bounds, nk_p, sx_p, sxx_p, sums_p,
                 log_resp, log_norm, write_resp, write_norm, stats):
    for c in prange(bounds.shape[0] - 1):
        _chunk(c, X, w, means, prec, log_bias, 0, bounds, nk_p, sx_p, sxx_p, sums_p,
               log_resp, log_norm, write_resp, write_norm, stats)


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)
def _kernel_tied(X, w, means, prec, log_bias, bounds, nk_p, sx_p, sxx_p, sums_p,
                 log_resp, log_norm, write_resp, write_norm, stats):
    for c in prange(bounds.shape[0] - 1):
        _chunk(c, X, w, means, prec, log_bias, 1, bounds, nk_p, sx_p, sxx_p, sums_p,
               log_resp, log_norm, write_resp, write_norm, stats)


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)
def _kernel_diag(X, w, means, prec, log_bias, bounds, nk_p, sx_p, sxx_p, sums_p,
                 log_resp, log_norm, write_resp, write_norm, stats):
    for c in prange(bounds.shape[0] - 1):
        _chunk(c, X, w, means, prec, log_bias, 2, bounds, nk_p, sx_p, sxx_p, sums_p,
               log_resp, log_norm, write_resp, write_norm, stats)


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)
def _kernel_spherical(X, w, means, prec, log_bias, bounds, nk_p, sx_p, sxx_p, sums_p,
                      log_resp, log_norm, write_resp, write_norm, stats):
    for c in prange(bounds.shape[0] - 1):
        _chunk(c, X, w, means, prec, log_bias, 3, bounds, nk_p, sx_p, sxx_p, sums_p,
               log_resp, log_norm, write_resp, write_norm, stats)


@numba.njit(cache=True, nogil=True)
def _reduce(nk_p, sx_p, sxx_p, nk, sx, sxx_out, kind):
    """Sum the chunk partials in chunk order; mirror the "full" triangle."""
    n_chunks, K, d = sx_p.shape
    for k in range(K):
        acc = 0.0
        for c in range(n_chunks):
            acc += nk_p[c, k]
        nk[k] = acc
        for j in range(d):
            acc = 0.0
            for c in range(n_chunks):
                acc += sx_p[c, k, j]
            sx[k, j] = acc
    ra = sxx_p.shape[2]
    rb = sxx_p.shape[3]
    for k in range(K):
        for a in range(ra):
            for b in range(rb):
                if kind == 0 and b < a:
                    continue
                acc = 0.0
                for c in range(n_chunks):
                    acc += sxx_p[c, k, a, b]
                sxx_out[k, a, b] = acc
                if kind == 0:
                    sxx_out[k, b, a] = acc


_KINDS = {"full": 0, "tied": 1, "diag": 2, "spherical": 3}
_KERNELS = (_kernel_full, _kernel_tied, _kernel_diag, _kernel_spherical)


def gmm_e_step(X, sample_weight, means, prec_chol, log_bias, cov_type, nk, sx, sxx,
               log_resp, log_norm, compute_stats, n_threads=1):
    """Numba version of :func:`fastcavi.mixture.gmm_reference.gmm_e_step`.

    Same parameters, shapes, dtypes and return value; ``n_threads`` threads
    over a static partition of the samples (results do not depend on it).
    """
    kind = _KINDS[cov_type]
    n, d = X.shape
    K = means.shape[0]
    if kind == 0:
        prec = prec_chol
    elif kind == 1:
        prec = prec_chol.reshape(1, d, d)
    elif kind == 2:
        prec = prec_chol.reshape(K, 1, d)
    else:
        prec = prec_chol.reshape(K, 1, 1)
    bounds = chunk_bounds(n)
    n_chunks = bounds.shape[0] - 1
    stats = bool(compute_stats)
    if stats:
        nk_p = np.zeros((n_chunks, K))
        sx_p = np.zeros((n_chunks, K, d))
        shape = {0: (d, d), 1: (0, 0), 2: (1, d), 3: (1, 1)}[kind]
        sxx_p = np.zeros((n_chunks, K) + shape)
    else:
        nk_p = np.zeros((0, K))
        sx_p = np.zeros((0, K, d))
        sxx_p = np.zeros((0, K, 1, 1))
    sums_p = np.zeros((n_chunks, 2))
    write_resp = log_resp.shape[0] != 0
    write_norm = log_norm.shape[0] != 0
    if not write_resp:
        log_resp = np.empty((1, K), dtype=X.dtype)
    if not write_norm:
        log_norm = np.empty(1, dtype=X.dtype)
    with set_threads(n_threads):
        _KERNELS[kind](X, sample_weight, means, prec, np.asarray(log_bias, dtype=np.float64),
                       bounds, nk_p, sx_p, sxx_p, sums_p, log_resp, log_norm, write_resp,
                       write_norm, stats)
    if stats:
        if kind == 0:
            sxx_view = sxx
        elif kind == 1:
            sxx_view = np.zeros((K, 0, 0))
        else:
            sxx_view = sxx.reshape(K, 1, -1)
        _reduce(nk_p, sx_p, sxx_p, nk, sx, sxx_view, kind)
    s_norm = 0.0
    s_ent = 0.0
    for c in range(n_chunks):
        s_norm += float(sums_p[c, 0])
        s_ent += float(sums_p[c, 1])
    return s_norm, s_ent
