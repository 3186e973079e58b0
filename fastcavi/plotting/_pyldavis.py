"""The arguments of pyLDAvis.prepare for a fitted LDA."""

import numpy as np
import scipy.sparse as sp

from ..lda import LatentDirichletAllocation
from ._checks import check_estimator, resolve_vocabulary


def pyldavis_data(estimator, X, vocabulary=None):
    """What ``pyLDAvis.prepare`` needs to show a fitted LDA, as a dict of its arguments.

    ``pyLDAvis.prepare(**pyldavis_data(lda, X, vocabulary))``. pyLDAvis is
    not a dependency of fastcavi; this function does not import it.

    Parameters
    ----------
    estimator : fitted fastcavi.LatentDirichletAllocation
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Word counts of the corpus (usually the training corpus).
    vocabulary : sequence of str of length n_features, fitted vectorizer or None
        The word of each column (None: the estimator's ``feature_names_in_``).

    Returns
    -------
    data : dict
        - ``topic_term_dists``: ndarray of shape (n_topics, n_features),
          E_q[beta] (rows of ``components_`` normalised; rows sum to 1).
        - ``doc_topic_dists``: ndarray of shape (n_samples, n_topics),
          ``estimator.transform(X)`` (rows sum to 1).
        - ``doc_lengths``: ndarray of shape (n_samples,), tokens per document.
        - ``vocab``: list of str of length n_features.
        - ``term_frequency``: ndarray of shape (n_features,), tokens of each
          word in X.

        All arrays are float64.

    Raises
    ------
    TypeError
        If ``estimator`` is not a LatentDirichletAllocation.
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    ValueError
        If the vocabulary does not have one word per feature, or X the
        estimator's features.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from fastcavi import LatentDirichletAllocation
    >>> from fastcavi.plotting import pyldavis_data
    >>> X, _ = make_multilabel_classification(n_features=20, random_state=0)
    >>> lda = LatentDirichletAllocation(n_components=3, random_state=0).fit(X)
    >>> data = pyldavis_data(lda, X, [f"w{j}" for j in range(20)])
    >>> sorted(data)
    ['doc_lengths', 'doc_topic_dists', 'term_frequency', 'topic_term_dists', 'vocab']
    >>> import pyLDAvis  # doctest: +SKIP
    >>> prepared = pyLDAvis.prepare(**data, n_jobs=1)  # doctest: +SKIP
    """
    whom = "pyldavis_data"
    check_estimator(estimator, (LatentDirichletAllocation,), whom, "components_")
    words = resolve_vocabulary(vocabulary, estimator, whom)
    doc_topic = np.asarray(estimator.transform(X), dtype=np.float64)  # validates X
    counts = sp.csr_matrix(X, dtype=np.float64) if not sp.issparse(X) else X.tocsr()
    lam = np.asarray(estimator.components_, dtype=np.float64)
    return {
        "topic_term_dists": lam / lam.sum(axis=1, keepdims=True),
        "doc_topic_dists": doc_topic,
        "doc_lengths": np.asarray(counts.sum(axis=1), dtype=np.float64).ravel(),
        "vocab": [str(w) for w in words],
        "term_frequency": np.asarray(counts.sum(axis=0), dtype=np.float64).ravel(),
    }
