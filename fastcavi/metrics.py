"""Held-out evaluation of topic models.

Document completion (Wallach, Murray, Salakhutdinov & Mimno 2009, "Evaluation
methods for topic models", ICML, sec. 4; also Hoffman et al. 2010, sec. 3.1):
each test document's tokens are split at random into an observed part and a
held-out part; theta_d is estimated from the observed part only, and the
held-out tokens are scored under ``theta_d @ beta``. Unlike scikit-learn's
``perplexity`` (which scores the same words it fitted gamma on), this never
lets the model see the words it is scored on.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

__all__ = ["split_document_tokens", "completion_perplexity", "document_completion_perplexity"]


def _as_count_csr(X, name):
    if not sp.issparse(X):
        X = sp.csr_matrix(np.asarray(X))
    X = sp.csr_matrix(X, dtype=np.float64)
    X.sum_duplicates()
    if X.nnz and (not np.all(np.isfinite(X.data)) or np.any(X.data < 0)):
        raise ValueError(f"{name} must contain non-negative finite counts")
    if X.nnz and np.any(X.data != np.round(X.data)):
        raise ValueError(f"{name} must contain whole-number counts to split tokens")
    return X


def split_document_tokens(X, held_out_fraction=0.5, random_state=None):
    """Split every document's tokens at random into observed and held-out parts.

    Each document's tokens (word occurrences, not distinct words) are shuffled
    and the first ``floor(held_out_fraction * n_tokens_d)`` are held out.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_documents, n_words)
        Whole-number, non-negative counts.
    held_out_fraction : float, default=0.5
        In (0, 1).
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X_observed : scipy.sparse.csr_matrix of shape (n_documents, n_words), float64
    X_held_out : scipy.sparse.csr_matrix of shape (n_documents, n_words), float64
        ``X_observed + X_held_out == X``.

    Raises
    ------
    ValueError
        If ``held_out_fraction`` is not in (0, 1) or counts are negative,
        non-finite or fractional.
    """
    if not (0.0 < float(held_out_fraction) < 1.0):
        raise ValueError(f"held_out_fraction must be in (0, 1); got {held_out_fraction!r}")
    X = _as_count_csr(X, "X")
    rs = check_random_state(random_state)
    n_docs, n_words = X.shape
    counts = X.data.astype(np.int64)
    doc_of_entry = np.repeat(np.arange(n_docs), np.diff(X.indptr))
    token_word = np.repeat(X.indices, counts)
    token_doc = np.repeat(doc_of_entry, counts)
    # shuffle tokens within each document: sort by (document, random key)
    order = np.lexsort((rs.random_sample(token_doc.shape[0]), token_doc))
    token_word = token_word[order]
    doc_len = np.bincount(token_doc, minlength=n_docs)
    n_held = np.floor(held_out_fraction * doc_len).astype(np.int64)
    doc_start = np.concatenate(([0], np.cumsum(doc_len)[:-1]))
    position = np.arange(token_doc.shape[0]) - np.repeat(doc_start, doc_len)
    held = position < np.repeat(n_held, doc_len)

    def build(mask):
        M = sp.csr_matrix(
            (np.ones(int(mask.sum())), (token_doc[mask], token_word[mask])),
            shape=(n_docs, n_words),
        )
        M.sum_duplicates()
        return M

    # token_doc is sorted already (lexsort's primary key), so masks keep alignment
    return build(~held), build(held)


def completion_perplexity(doc_topic, topic_word, X_held_out):
    """Perplexity of held-out tokens under point estimates of theta and beta.

    ``exp(-sum_dw n_dw log(sum_k theta_dk beta_kw) / sum_dw n_dw)``, natural log.

    Parameters
    ----------
    doc_topic : ndarray of shape (n_documents, n_topics)
        theta_d estimated from each document's observed tokens; rows are
        normalised here (E_q[theta] = gamma / sum(gamma) if gamma is given).
    topic_word : ndarray of shape (n_topics, n_words)
        beta; rows are normalised here (E_q[beta] = lambda / sum(lambda) for
        ``components_``).
    X_held_out : {array-like, sparse matrix} of shape (n_documents, n_words)
        Held-out counts.

    Returns
    -------
    perplexity : float
        Per held-out token; lower is better.

    Raises
    ------
    ValueError
        Shape mismatch, no held-out tokens, or non-positive/non-finite rows.
    """
    theta = np.asarray(doc_topic, dtype=np.float64)
    beta = np.asarray(topic_word, dtype=np.float64)
    Xh = _as_count_csr(X_held_out, "X_held_out")
    if theta.ndim != 2 or beta.ndim != 2 or theta.shape[1] != beta.shape[0]:
        raise ValueError(
            f"doc_topic {theta.shape} and topic_word {beta.shape} must be 2-D with matching "
            "numbers of topics"
        )
    if Xh.shape != (theta.shape[0], beta.shape[1]):
        raise ValueError(
            f"X_held_out has shape {Xh.shape}; expected {(theta.shape[0], beta.shape[1])}"
        )
    for name, M in (("doc_topic", theta), ("topic_word", beta)):
        if not np.all(np.isfinite(M)) or np.any(M < 0) or np.any(M.sum(axis=1) <= 0):
            raise ValueError(f"{name} must be non-negative and finite with positive row sums")
    loglik, n_tokens = _held_out_loglik(theta, beta, Xh)
    if n_tokens <= 0:
        raise ValueError("X_held_out contains no tokens")
    return float(np.exp(-loglik / n_tokens))


def _held_out_loglik(theta, beta, Xh):
    """sum_dw n_dw log(sum_k theta_dk beta_kw) and sum_dw n_dw, rows of theta and beta normalised."""
    theta = theta / theta.sum(axis=1, keepdims=True)
    beta = beta / beta.sum(axis=1, keepdims=True)
    n_tokens = Xh.data.sum()
    rows = np.repeat(np.arange(Xh.shape[0]), np.diff(Xh.indptr))
    # log p(w | d) for each held-out (d, w) pair, in blocks (never n x V, nor nnz x K at once)
    loglik = 0.0
    block = 65536
    for start in range(0, rows.shape[0], block):
        r = rows[start:start + block]
        w = Xh.indices[start:start + block]
        p = np.einsum("ik,ki->i", theta[r], beta[:, w])
        loglik += np.dot(Xh.data[start:start + block], np.log(p))
    return loglik, n_tokens


def document_completion_perplexity(estimator, X, held_out_fraction=0.5, random_state=0):
    """Document-completion perplexity of a fitted LDA estimator on test documents.

    Splits X's tokens with :func:`split_document_tokens`, infers theta from
    the observed part with ``estimator.transform`` and scores the held-out
    part with :func:`completion_perplexity`, using E_q[beta] from
    ``estimator.components_``. Works for fastcavi's and scikit-learn's
    ``LatentDirichletAllocation``.

    A :class:`fastcavi.datasets.ShardedCorpus` is split, inferred and scored
    shard by shard (one shard in memory), with the random draws of the split
    taken shard after shard from one random state: the same split as of the
    whole matrix, so the same value to rounding.

    Parameters
    ----------
    estimator : fitted estimator with ``transform`` and ``components_``
    X : {array-like, sparse matrix} of shape (n_documents, n_words), or ShardedCorpus
        Test documents (whole-number counts), not used in fitting.
    held_out_fraction : float, default=0.5
    random_state : int, RandomState instance or None, default=0
        Seeds the split, so two models are scored on the same tokens.

    Returns
    -------
    perplexity : float
        Per held-out token, natural log; lower is better.

    Raises
    ------
    ValueError
        As :func:`split_document_tokens` and :func:`completion_perplexity`;
        a sharded corpus whose vocabulary is not the estimator's
        (``vocabulary_``), or whose files changed since they were written
        (:class:`fastcavi.datasets.CorpusError`).
    """
    from .datasets import ShardedCorpus

    dtype = getattr(estimator, "components_", np.empty(0)).dtype
    if not isinstance(X, ShardedCorpus):
        X_obs, X_held = split_document_tokens(X, held_out_fraction, random_state)
        theta = estimator.transform(X_obs.astype(dtype))
        return completion_perplexity(theta, estimator.components_, X_held)
    X.check_vocabulary(getattr(estimator, "vocabulary_",
                               getattr(estimator, "feature_names_in_", None)),
                       "document_completion_perplexity")
    rs = check_random_state(random_state)
    beta = np.asarray(estimator.components_, dtype=np.float64)
    if X.n_words != beta.shape[1]:
        raise ValueError(f"X has {X.n_words} words, the estimator {beta.shape[1]}")
    loglik, n_tokens = 0.0, 0.0
    for shard in X.shards:
        X_obs, X_held = split_document_tokens(shard.open(), held_out_fraction, rs)
        theta = np.asarray(estimator.transform(X_obs.astype(dtype)), dtype=np.float64)
        ll, n = _held_out_loglik(theta, beta, X_held)
        loglik, n_tokens = loglik + ll, n_tokens + n
    if n_tokens <= 0:
        raise ValueError("X_held_out contains no tokens")
    return float(np.exp(-loglik / n_tokens))
