"""Latent Dirichlet allocation as a conditionally conjugate model: pure array code.

Local step (per document: gamma, phi), global step (topics: lambda; optionally
the Dirichlet prior alpha) and ELBO terms, written against the kernel API of
:mod:`fastcavi.kernels`. The estimator in :mod:`fastcavi.lda` drives these.

References
----------
Blei, Ng & Jordan (2003), "Latent Dirichlet allocation", JMLR 3 (CAVI, eqs. 6-7,
16-17). Hoffman, Blei & Bach (2010), "Online learning for latent Dirichlet
allocation", NIPS (notation, Algorithm 2). Minka (2000), "Estimating a Dirichlet
distribution" (Newton step for alpha with a diagonal-plus-rank-one Hessian).
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln, polygamma

from ..kernels import csc_structure

__all__ = ["CsrCorpus", "LocalResult", "e_step", "exp_topic_word_columns", "sum_elogtheta",
           "update_dirichlet_prior"]


@dataclass
class CsrCorpus:
    """A CSR document-term matrix prepared for the kernels.

    Attributes
    ----------
    data, indices, indptr : ndarray
        The CSR arrays; ``data`` has the working dtype.
    n_words : int
    csc : tuple of ndarray or None
        (csc_indptr, csc_docs, csc_perm) from :func:`fastcavi.kernels.csc_structure`,
        built on first use by :meth:`column_structure`.
    n_tokens : float
        Sum of all counts.
    """

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    n_words: int
    csc: tuple = None

    @classmethod
    def from_csr(cls, X):
        """Wrap a scipy.sparse CSR matrix (no copy)."""
        return cls(X.data, X.indices, X.indptr, X.shape[1])

    @property
    def n_docs(self):
        return self.indptr.shape[0] - 1

    @property
    def n_tokens(self):
        return float(self.data.sum(dtype=np.float64))

    def column_structure(self):
        if self.csc is None:
            self.csc = csc_structure(self.indices, self.indptr, self.n_words)
        return self.csc

    def restrict_vocabulary(self):
        """The same documents over only the words they use.

        Returns
        -------
        words : ndarray of shape (n_used,), int64
            Sorted vocabulary indices that occur in the corpus.
        local : CsrCorpus
            The corpus with column ``words[j]`` renumbered ``j`` (``n_words = n_used``);
            ``data`` and ``indptr`` are shared, not copied.
        """
        words, local = np.unique(self.indices, return_inverse=True)
        local = local.astype(self.indices.dtype, copy=False)
        return words.astype(np.int64, copy=False), CsrCorpus(self.data, local, self.indptr,
                                                              int(words.shape[0]))


@dataclass
class LocalResult:
    """Output of :func:`e_step`.

    Attributes
    ----------
    doc_bound : ndarray of shape (n_docs,), float64
        Per-document ELBO terms (nats), see ``reference.lda_e_step``.
    sstats : ndarray of shape (n_topics, n_words) or None
        Expected sufficient statistics of lambda (without the prior).
    n_updates : int
        Total gamma updates over all documents.
    """

    doc_bound: np.ndarray
    sstats: np.ndarray
    n_updates: int


def e_step(kernels, corpus, exp_topic_word, alpha, gamma, max_iter, mean_change_tol,
           n_threads, cal_sstats, eps=None):
    """Local CAVI step over a corpus; ``gamma`` is updated in place.

    Parameters
    ----------
    kernels : namespace from :func:`fastcavi.kernels.get_backend`
    corpus : CsrCorpus
    exp_topic_word : ndarray of shape (n_words, n_topics)
        exp(E[log beta]) in word-major layout.
    alpha : ndarray of shape (n_topics,)
    gamma : ndarray of shape (n_docs, n_topics), C-contiguous, working dtype
    max_iter, mean_change_tol : int, float
        As ``max_doc_update_iter`` and ``mean_change_tol`` of the estimator.
    n_threads : int
    cal_sstats : bool
        Also compute the sufficient statistics for the global step.
    eps : float or None
        Added to phinorm; None means ``np.finfo(dtype).eps`` (as scikit-learn).

    Returns
    -------
    LocalResult
    """
    dtype = gamma.dtype
    n_docs, n_topics = gamma.shape
    if eps is None:
        eps = float(np.finfo(dtype).eps)
    exp_doc_topic = np.empty((n_docs, n_topics), dtype=dtype)
    ratio = np.empty(corpus.data.shape[0], dtype=dtype)
    doc_bound = np.empty(n_docs, dtype=np.float64)
    n_updates = kernels.lda_e_step(
        corpus.data, corpus.indices, corpus.indptr, exp_topic_word,
        np.ascontiguousarray(alpha, dtype=dtype), gamma, max_iter, mean_change_tol, eps,
        exp_doc_topic, ratio, doc_bound, n_threads,
    )
    sstats = None
    if cal_sstats:
        csc_indptr, csc_docs, csc_perm = corpus.column_structure()
        sstats_T = np.empty_like(exp_topic_word)
        kernels.lda_suff_stats(csc_indptr, csc_docs, csc_perm, ratio, exp_doc_topic,
                               exp_topic_word, sstats_T, n_threads)
        sstats = sstats_T.T
    return LocalResult(doc_bound, sstats, n_updates)


def exp_topic_word_columns(kernels, lam, words, n_threads):
    """exp(E_q[log beta_kw]) for a subset of the words, in word-major layout.

    Uses the aggregation property of the Dirichlet: if beta_k ~ Dir(lambda_k),
    then (beta_kS, sum of beta_kw over the words w not in S) ~ Dir(lambda_kS,
    sum of lambda_kw over those words), so E[log beta_kw] for w in S only needs
    lambda_kS and the topic totals. Online learning uses it to compute the
    expectations of a minibatch's words only (Hoffman et al. 2010, Alg. 2
    needs no others), instead of all n_words of them after every step.

    Parameters
    ----------
    kernels : namespace from :func:`fastcavi.kernels.get_backend`
    lam : ndarray of shape (n_topics, n_words), float32 or float64
        lambda, positive.
    words : ndarray of shape (n_used,), int
        Distinct word indices, sorted.
    n_threads : int

    Returns
    -------
    ebeta : ndarray of shape (n_used, n_topics), dtype of ``lam``, C-contiguous
        Row j is exp(E[log beta_{., words[j]}]), equal to the rows ``words`` of
        the full ``exp_dirichlet_expectation_T`` up to rounding of the totals.
    """
    n_topics, n_words = lam.shape
    n_used = words.shape[0]
    if n_used == n_words:
        out = np.empty((n_words, n_topics), dtype=lam.dtype)
        kernels.exp_dirichlet_expectation_T(lam, 1.0, out, False, n_threads)
        return out
    aggregated = np.empty((n_topics, n_used + 1), dtype=lam.dtype)
    np.take(lam, words, axis=1, out=aggregated[:, :n_used])
    rest = lam.sum(axis=1, dtype=np.float64) - aggregated[:, :n_used].sum(axis=1,
                                                                          dtype=np.float64)
    # the untouched words hold at least their share of a positive lambda; guard rounding
    aggregated[:, n_used] = np.maximum(rest, np.finfo(lam.dtype).tiny)
    out = np.empty((n_used + 1, n_topics), dtype=lam.dtype)
    kernels.exp_dirichlet_expectation_T(aggregated, 1.0, out, False, n_threads)
    return out[:n_used]


def _dirichlet_objective(alpha, n_docs, sum_elog):
    return n_docs * (gammaln(alpha.sum()) - gammaln(alpha).sum()) + np.dot(alpha - 1.0, sum_elog)


def update_dirichlet_prior(alpha, sum_elogtheta, n_docs, symmetric, max_iter=100, tol=1e-10):
    """Maximise the ELBO's alpha terms: the Dirichlet prior of theta by Newton.

    Maximises ``f(alpha) = N [lgamma(sum alpha) - sum lgamma(alpha_k)]
    + sum_k (alpha_k - 1) S_k`` with ``S_k = sum_d E_q[log theta_dk]``, the
    terms of the ELBO that depend on alpha. f is concave, so the maximiser
    never lowers the ELBO. Asymmetric: Minka's (2000, sec. 1) Newton step with
    the diagonal-plus-rank-one Hessian, as gensim's ``alpha="auto"``, but
    iterated to convergence with step halving to stay positive and increasing.
    Symmetric: the one-dimensional Newton iteration on alpha_k = a.

    Parameters
    ----------
    alpha : ndarray of shape (n_topics,), float64
        Current prior, positive.
    sum_elogtheta : ndarray of shape (n_topics,), float64
        S_k above.
    n_docs : float
        N above (> 0).
    symmetric : bool
        Keep all alpha_k equal.
    max_iter : int, default=100
    tol : float, default=1e-10
        Stop when the relative change of alpha is below this.

    Returns
    -------
    alpha : ndarray of shape (n_topics,), float64
        The maximiser (never lower in f than the input).
    """
    alpha = np.asarray(alpha, dtype=np.float64).copy()
    S = np.asarray(sum_elogtheta, dtype=np.float64)
    K = alpha.shape[0]
    f_old = _dirichlet_objective(alpha, n_docs, S)
    for _ in range(max_iter):
        if symmetric:
            a = alpha[0]
            g = n_docs * K * (digamma(K * a) - digamma(a)) + S.sum()
            h = n_docs * K * (K * polygamma(1, K * a) - polygamma(1, a))
            step = np.full(K, g / h)
        else:
            g = n_docs * (digamma(alpha.sum()) - digamma(alpha)) + S
            q = -n_docs * polygamma(1, alpha)
            z = n_docs * polygamma(1, alpha.sum())
            b = np.sum(g / q) / (1.0 / z + np.sum(1.0 / q))
            step = (g - b) / q
        t = 1.0
        while True:
            new = alpha - t * step
            if np.all(new > 0):
                f_new = _dirichlet_objective(new, n_docs, S)
                if f_new >= f_old:
                    break
            t *= 0.5
            if t < 1e-12:
                return alpha
        change = np.max(np.abs(new - alpha) / alpha)
        alpha, f_old = new, f_new
        if change < tol:
            break
    return alpha


def sum_elogtheta(gamma):
    """Sum over documents of E_q[log theta_d] (Blei et al. 2003, eq. 8 terms).

    Parameters
    ----------
    gamma : ndarray of shape (n_docs, n_topics), float32 or float64
        Variational Dirichlet parameters, positive.

    Returns
    -------
    S : ndarray of shape (n_topics,), float64
        ``sum_d (digamma(gamma_dk) - digamma(sum_k gamma_dk))``.
    """
    g = np.asarray(gamma, dtype=np.float64)
    return (digamma(g) - digamma(g.sum(axis=1))[:, np.newaxis]).sum(axis=0)
