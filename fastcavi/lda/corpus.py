"""The blocks LDA's steps run on: a CSR corpus, and a minibatch over its own words.

:class:`CsrCorpus` is a document-term matrix over the whole vocabulary (the one
block of batch learning). :class:`Minibatch` is a block of documents renumbered
over only the words they use (the blocks of online learning): its E-step needs
exp(E[log beta]) of those words only (:func:`fastcavi.lda.model.exp_topic_word_columns`),
which is what makes small minibatches fast.
"""

from dataclasses import dataclass

import numpy as np

from ..kernels import csc_structure

__all__ = ["CsrCorpus", "Minibatch"]


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
class Minibatch:
    """Documents over the words they use: a block of online learning.

    Attributes
    ----------
    words : ndarray of shape (n_used,), int64
        Sorted indices, in the whole vocabulary, of the words the documents use.
    corpus : CsrCorpus
        The documents with column ``words[j]`` renumbered ``j``.
    n_words : int
        Size of the whole vocabulary.
    """

    words: np.ndarray
    corpus: CsrCorpus
    n_words: int

    @classmethod
    def from_csr(cls, X):
        """The rows of a scipy.sparse CSR matrix over the words they use (counts not copied)."""
        words, local = CsrCorpus.from_csr(X).restrict_vocabulary()
        return cls(words, local, X.shape[1])

    @property
    def n_docs(self):
        return self.corpus.n_docs

    @property
    def n_tokens(self):
        return self.corpus.n_tokens
