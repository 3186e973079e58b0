"""Numba backend of the LDA kernels (``@njit(parallel=True, cache=True)``).

Same contracts as :mod:`fastcavi.lda.lda_reference`. Documents are split into
contiguous chunks of about equal work (:func:`fastcavi.kernels.doc_chunks`);
``prange`` runs over chunks, each chunk allocates its scratch once and loops
over its documents with no allocation and no Python. Every document writes
only its own rows of ``gamma``, ``exp_doc_topic``, ``doc_bound`` and its own
slice of ``ratio``, and word statistics are gathered column by column in a
fixed order, so results do not depend on the thread count or on scheduling.

``FASTMATH`` (:mod:`fastcavi.kernels.numba_support`) lets the K-long dot
products vectorise while keeping NaN/inf semantics.
"""

import math

import numba
import numpy as np
from numba import prange

from ..kernels.numba_support import FASTMATH, set_threads
from ..kernels.partition import doc_chunks
from ..kernels.special import digamma, exp_digamma

__all__ = ["exp_dirichlet_expectation_T", "lda_e_step", "lda_suff_stats", "set_threads"]

_CHUNKS_PER_THREAD = 8


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _exp_dirichlet_row(g, out):
    """out[k] = exp(psi(g[k]) - psi(sum(g)))."""
    total = 0.0
    for k in range(g.shape[0]):
        total += g[k]
    if total >= 1.0:
        # fast path: exp(psi(g_k)) / exp(psi(total)), one exp per topic, no log
        scale = 1.0 / exp_digamma(total)
        for k in range(g.shape[0]):
            out[k] = exp_digamma(g[k]) * scale
    else:
        # tiny total (an empty document with a small prior): exp(psi(g_k)) could
        # underflow where exp(psi(g_k) - psi(total)) does not
        psi_total = digamma(total)
        for k in range(g.shape[0]):
            out[k] = math.exp(digamma(g[k]) - psi_total)


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)
def _e_step_chunks(
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
    bounds,
    alpha_bound,
):
    n_topics = gamma.shape[1]
    n_chunks = bounds.shape[0] - 1
    updates = np.zeros(n_chunks, dtype=np.int64)
    epsv = eps[0]
    zero = epsv - epsv
    for c in prange(n_chunks):
        first = bounds[c]
        last = bounds[c + 1]
        etheta = np.empty(n_topics, dtype=gamma.dtype)
        acc = np.empty(n_topics, dtype=gamma.dtype)
        n_up = 0
        for d in range(first, last):
            start = indptr[d]
            n_ids = indptr[d + 1] - start
            g = gamma[d]
            _exp_dirichlet_row(g, etheta)
            for _ in range(max_iter):
                # one fused pass over the document's words: phinorm_w, then its
                # contribution to the new gamma while the row is in L1
                acc[:] = 0.0
                # words four at a time: four independent dot products (more
                # instruction-level parallelism than one), then the four rows'
                # contributions while they are in L1
                j = 0
                while j + 4 <= n_ids:
                    r0 = exp_topic_word[indices[start + j]]
                    r1 = exp_topic_word[indices[start + j + 1]]
                    r2 = exp_topic_word[indices[start + j + 2]]
                    r3 = exp_topic_word[indices[start + j + 3]]
                    s0 = zero
                    s1 = zero
                    s2 = zero
                    s3 = zero
                    for k in range(n_topics):
                        e = etheta[k]
                        s0 += e * r0[k]
                        s1 += e * r1[k]
                        s2 += e * r2[k]
                        s3 += e * r3[k]
                    c0 = data[start + j] / (s0 + epsv)
                    c1 = data[start + j + 1] / (s1 + epsv)
                    c2 = data[start + j + 2] / (s2 + epsv)
                    c3 = data[start + j + 3] / (s3 + epsv)
                    for k in range(n_topics):
                        acc[k] += ((c0 * r0[k] + c1 * r1[k]) + (c2 * r2[k] + c3 * r3[k]))
                    j += 4
                for j in range(j, n_ids):
                    row = exp_topic_word[indices[start + j]]
                    s = zero
                    for k in range(n_topics):
                        s += etheta[k] * row[k]
                    coef = data[start + j] / (s + epsv)
                    for k in range(n_topics):
                        acc[k] += coef * row[k]
                change = 0.0
                for k in range(n_topics):
                    new = alpha[k] + etheta[k] * acc[k]
                    change += abs(new - g[k])
                    g[k] = new
                change /= n_topics
                _exp_dirichlet_row(g, etheta)
                n_up += 1
                if change < mean_change_tol:
                    break
            loglik = 0.0
            for j in range(n_ids):
                row = exp_topic_word[indices[start + j]]
                s = zero
                for k in range(n_topics):
                    s += etheta[k] * row[k]
                s += epsv
                ratio[start + j] = data[start + j] / s
                loglik += np.float64(data[start + j]) * math.log(s)
            total = 0.0
            for k in range(n_topics):
                total += np.float64(g[k])
            psi_total = digamma(total)
            b = loglik + alpha_bound - math.lgamma(total)
            for k in range(n_topics):
                gk = np.float64(g[k])
                b += (alpha[k] - gk) * (digamma(gk) - psi_total) + math.lgamma(gk)
                exp_doc_topic[d, k] = etheta[k]
            doc_bound[d] = b
        updates[c] = n_up
    return updates.sum()


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
    """Numba version of :func:`fastcavi.lda.lda_reference.lda_e_step`.

    Same parameters, shapes, dtypes and return value; ``n_threads`` threads.
    """
    n_threads = max(1, int(n_threads))
    bounds = doc_chunks(indptr, n_threads * _CHUNKS_PER_THREAD)
    alpha = np.ascontiguousarray(alpha, dtype=gamma.dtype)
    alpha64 = alpha.astype(np.float64)
    alpha_bound = math.lgamma(alpha64.sum()) - sum(math.lgamma(a) for a in alpha64)
    with set_threads(n_threads):
        return int(
            _e_step_chunks(
                data,
                indices,
                indptr,
                exp_topic_word,
                alpha,
                gamma,
                int(max_iter),
                float(mean_change_tol),
                np.array([eps], dtype=gamma.dtype),
                exp_doc_topic,
                ratio,
                doc_bound,
                bounds,
                alpha_bound,
            )
        )


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)
def _suff_stats(csc_indptr, csc_docs, csc_perm, ratio, exp_doc_topic, exp_topic_word, out):
    n_words, n_topics = exp_topic_word.shape
    for w in prange(n_words):
        row = out[w]
        row[:] = 0.0
        for j in range(csc_indptr[w], csc_indptr[w + 1]):
            r = ratio[csc_perm[j]]
            et = exp_doc_topic[csc_docs[j]]
            for k in range(n_topics):
                row[k] += r * et[k]
        for k in range(n_topics):
            row[k] *= exp_topic_word[w, k]


def lda_suff_stats(
    csc_indptr, csc_docs, csc_perm, ratio, exp_doc_topic, exp_topic_word, out, n_threads=1
):
    """Numba version of :func:`fastcavi.lda.lda_reference.lda_suff_stats`.

    Same parameters and shapes; parallel over words, ``n_threads`` threads.
    """
    with set_threads(n_threads):
        _suff_stats(csc_indptr, csc_docs, csc_perm, ratio, exp_doc_topic, exp_topic_word, out)


_WORD_BLOCK = 512


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)
def _exp_dirichlet_T(lam, eta, out, compute_bound):
    # topics' totals first, then word blocks in parallel, so every write to the
    # word-major output is contiguous (a topic-major loop would write one cache
    # line per entry); the bound is summed per block, then over blocks in order
    n_topics, n_words = lam.shape
    psi_total = np.empty(n_topics, dtype=np.float64)
    lg_total = np.empty(n_topics, dtype=np.float64)
    for k in prange(n_topics):
        total = 0.0
        for w in range(n_words):
            total += np.float64(lam[k, w])
        psi_total[k] = digamma(total)
        lg_total[k] = math.lgamma(total)
    n_blocks = (n_words + _WORD_BLOCK - 1) // _WORD_BLOCK
    partial = np.zeros(n_blocks, dtype=np.float64)
    lg_eta = math.lgamma(eta)
    for b in prange(n_blocks):
        acc = 0.0
        for w in range(b * _WORD_BLOCK, min(n_words, (b + 1) * _WORD_BLOCK)):
            for k in range(n_topics):
                lkw = np.float64(lam[k, w])
                elog = digamma(lkw) - psi_total[k]
                out[w, k] = math.exp(elog)
                if compute_bound:
                    acc += (eta - lkw) * elog + math.lgamma(lkw) - lg_eta
        partial[b] = acc
    if not compute_bound:
        return 0.0
    bound = 0.0
    for b in range(n_blocks):
        bound += partial[b]
    for k in range(n_topics):
        bound += math.lgamma(eta * n_words) - lg_total[k]
    return bound


def exp_dirichlet_expectation_T(lam, eta, out, compute_bound=True, n_threads=1):
    """Numba version of :func:`fastcavi.lda.lda_reference.exp_dirichlet_expectation_T`.

    Same parameters, shapes and return value; parallel over topics.
    """
    with set_threads(n_threads):
        return float(_exp_dirichlet_T(lam, float(eta), out, bool(compute_bound)))
