"""NumPy reference of the LDA kernels (the "lda" model family).

These functions are the readable oracle that the Numba backend
(:mod:`fastcavi.lda.lda_numba`) and the Cython one (``fastcavi._ext._lda``) are
tested against. They favour clarity over speed: a Python loop over documents,
NumPy inside. Each function documents the exact contract every backend obeys;
:func:`fastcavi.kernels.get_backend` dispatches to the backend chosen with
``backend=``.

Notation follows Hoffman, Blei & Bach (2010), "Online learning for latent
Dirichlet allocation", NIPS, Algorithm 1/2: ``gamma`` is the variational
Dirichlet parameter of a document's topic proportions theta_d, ``lambda`` the
variational Dirichlet parameter of the topics beta_k, ``phi`` the per-word
topic responsibilities, ``Elogtheta = E_q[log theta]`` and
``expElogbeta = exp(E_q[log beta])``.
"""

import numpy as np
from scipy.special import digamma, gammaln

#: the kernel functions every backend of the "lda" family defines
KERNELS = ("exp_dirichlet_expectation_T", "lda_e_step", "lda_suff_stats")

__all__ = [
    "exp_dirichlet_expectation_T",
    "lda_e_step",
    "lda_suff_stats",
]


def exp_dirichlet_expectation_T(lam, eta, out, compute_bound=True, n_threads=1):
    """exp(E[log beta]) of a Dirichlet, transposed, and the topic ELBO terms.

    Equivalent to ``out[:] = exp(digamma(lam) - digamma(lam.sum(1))[:, None]).T``.

    Parameters
    ----------
    lam : ndarray of shape (n_topics, n_words), float32 or float64
        Variational Dirichlet parameters lambda of the topics (``components_``).
        Every entry must be positive.
    eta : float
        Symmetric Dirichlet prior on the topics (``topic_word_prior_``), > 0.
    out : ndarray of shape (n_words, n_topics), same dtype as ``lam``, C-contiguous
        Receives ``exp(E_q[log beta_kw])`` in word-major layout, so that a word's
        K topic weights are contiguous (the E-step's inner loop).
    compute_bound : bool, default=True
        If False, skip the lgamma terms and return 0.0.
    n_threads : int, default=1
        Ignored by the reference; the fast backends parallelise over topics.

    Returns
    -------
    bound : float
        ``E_q[log p(beta | eta) - log q(beta | lambda)]`` in nats, i.e.
        ``sum((eta - lam) * Elogbeta) + sum(gammaln(lam) - gammaln(eta))
        + sum(gammaln(eta * n_words) - gammaln(lam.sum(1)))``
        (Blei et al. 2003, eq. 15 terms for beta; Hoffman et al. 2010, eq. 4),
        computed in float64.
    """
    lam64 = np.asarray(lam, dtype=np.float64)
    Elogbeta = digamma(lam64) - digamma(lam64.sum(axis=1))[:, np.newaxis]
    out[...] = np.exp(Elogbeta).T
    if not compute_bound:
        return 0.0
    n_words = lam64.shape[1]
    bound = np.sum((eta - lam64) * Elogbeta)
    bound += np.sum(gammaln(lam64) - gammaln(eta))
    bound += np.sum(gammaln(eta * n_words) - gammaln(lam64.sum(axis=1)))
    return float(bound)


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
    """Local CAVI step of LDA for every document of a CSR matrix.

    For each document d, starting from the given ``gamma[d]``, alternate the
    optimal phi and gamma updates (Blei et al. 2003, eqs. 16-17; Hoffman et al.
    2010, Algorithm 1)::

        expElogtheta = exp(digamma(gamma_d) - digamma(sum(gamma_d)))
        phinorm_w    = expElogtheta @ expElogbeta[w] + eps          # for w in doc
        gamma_d      = alpha + expElogtheta * sum_w (n_dw / phinorm_w) expElogbeta[w]

    until ``mean(|gamma_d_new - gamma_d_old|) < mean_change_tol`` or
    ``max_iter`` updates. This is the update order of scikit-learn's
    ``_update_doc_distribution``, so the same starting ``gamma`` gives the same
    iterates.

    Parameters
    ----------
    data : ndarray of shape (nnz,), float32 or float64
        Word counts n_dw of the CSR matrix (``X.data``); non-negative.
    indices : ndarray of shape (nnz,), int32 or int64
        Word ids (``X.indices``).
    indptr : ndarray of shape (n_docs + 1,), int32 or int64
        Row pointers (``X.indptr``).
    exp_topic_word : ndarray of shape (n_words, n_topics), dtype of ``data``
        ``exp(E_q[log beta])`` in word-major layout, from
        :func:`exp_dirichlet_expectation_T`.
    alpha : ndarray of shape (n_topics,), dtype of ``data``
        Dirichlet prior on theta (``doc_topic_prior_``), positive.
    gamma : ndarray of shape (n_docs, n_topics), dtype of ``data``, C-contiguous
        In: the starting point of each document's gamma (positive). Out: the
        updated gamma.
    max_iter : int
        Maximum number of gamma updates per document (``max_doc_update_iter``).
    mean_change_tol : float
        Stop a document when the mean absolute change of gamma is below this.
    eps : float
        Added to every phinorm (scikit-learn adds ``np.finfo(dtype).eps``).
    exp_doc_topic : ndarray of shape (n_docs, n_topics), dtype of ``data``
        Out: ``exp(E_q[log theta_d])`` at the final gamma.
    ratio : ndarray of shape (nnz,), dtype of ``data``
        Out: ``n_dw / phinorm_dw`` at the final gamma (input to
        :func:`lda_suff_stats`).
    doc_bound : ndarray of shape (n_docs,), float64
        Out: each document's ELBO terms in nats, with phi at its optimum::

            sum_w n_dw log(phinorm_dw)
            + sum_k (alpha_k - gamma_dk) Elogtheta_dk + gammaln(gamma_dk) - gammaln(alpha_k)
            + gammaln(sum alpha) - gammaln(sum gamma_d)

    n_threads : int, default=1
        Ignored by the reference.

    Returns
    -------
    n_updates : int
        Total number of gamma updates over all documents.
    """
    n_docs = indptr.shape[0] - 1
    dtype = gamma.dtype
    alpha = np.asarray(alpha, dtype=dtype)
    alpha_bound = gammaln(np.sum(alpha, dtype=np.float64)) - np.sum(
        gammaln(alpha.astype(np.float64))
    )
    n_updates = 0
    for d in range(n_docs):
        start, stop = indptr[d], indptr[d + 1]
        ids = indices[start:stop]
        cnts = data[start:stop]
        ebeta_d = exp_topic_word[ids, :]  # (n_ids, K)
        gamma_d = gamma[d].copy()
        etheta_d = np.exp(digamma(gamma_d) - digamma(gamma_d.sum())).astype(dtype)
        for _ in range(max_iter):
            phinorm = ebeta_d @ etheta_d + dtype.type(eps)
            new_gamma = alpha + etheta_d * ((cnts / phinorm) @ ebeta_d)
            change = np.mean(np.abs(new_gamma - gamma_d))
            gamma_d = new_gamma.astype(dtype)
            etheta_d = np.exp(digamma(gamma_d) - digamma(gamma_d.sum())).astype(dtype)
            n_updates += 1
            if change < mean_change_tol:
                break
        phinorm = ebeta_d @ etheta_d + dtype.type(eps)
        ratio[start:stop] = cnts / phinorm
        gamma[d] = gamma_d
        exp_doc_topic[d] = etheta_d
        g64 = gamma_d.astype(np.float64)
        Elogtheta = digamma(g64) - digamma(g64.sum())
        doc_bound[d] = (
            np.dot(cnts.astype(np.float64), np.log(phinorm.astype(np.float64)))
            + np.sum((alpha - g64) * Elogtheta + gammaln(g64))
            - gammaln(g64.sum())
            + alpha_bound
        )
    return n_updates


def lda_suff_stats(
    csc_indptr, csc_docs, csc_perm, ratio, exp_doc_topic, exp_topic_word, out, n_threads=1
):
    """Expected sufficient statistics of the topics, in word-major layout.

    Equivalent to ``out[:] = (R.T @ exp_doc_topic) * exp_topic_word`` where R is
    the CSR matrix X with its data replaced by ``ratio`` (Hoffman et al. 2010,
    Algorithm 1: ``sstats = expElogbeta * (expElogtheta.T @ (X / phinorm))``).
    The fast backends gather over the columns of X in a fixed order, so the
    result does not depend on the number of threads.

    Parameters
    ----------
    csc_indptr : ndarray of shape (n_words + 1,), int64
        Column pointers of X in CSC form.
    csc_docs : ndarray of shape (nnz,), int32 or int64
        Document (row) id of each CSC entry.
    csc_perm : ndarray of shape (nnz,), int64
        Position of each CSC entry in the CSR arrays, so ``ratio[csc_perm[j]]``
        is the ratio of CSC entry j.
    ratio : ndarray of shape (nnz,), float32 or float64
        From :func:`lda_e_step`.
    exp_doc_topic : ndarray of shape (n_docs, n_topics), dtype of ``ratio``
        From :func:`lda_e_step`.
    exp_topic_word : ndarray of shape (n_words, n_topics), dtype of ``ratio``
    out : ndarray of shape (n_words, n_topics), dtype of ``ratio``
        Receives the statistics (overwritten).
    n_threads : int, default=1
        Ignored by the reference.
    """
    n_words, n_topics = exp_topic_word.shape
    out[...] = 0
    for w in range(n_words):
        acc = np.zeros(n_topics, dtype=out.dtype)
        for j in range(csc_indptr[w], csc_indptr[w + 1]):
            acc += ratio[csc_perm[j]] * exp_doc_topic[csc_docs[j]]
        out[w] = acc * exp_topic_word[w]
