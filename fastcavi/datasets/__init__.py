"""Loaders for bag-of-words corpora.

Every loader returns a :class:`Corpus`: a document-term count matrix ``X``
(``scipy.sparse.csr_matrix`` of ``float64``, shape ``(n_documents, n_words)``)
together with its ``vocabulary`` (column ``j`` of ``X`` counts the term
``vocabulary[j]``), optional document identifiers and a one-paragraph
``description`` of the source and its licence.

Loaders
-------
load_sotu
    US State of the Union addresses (the bundled default real corpus), split
    into paragraphs, sentences or whole speeches.
load_uci_bow
    The UCI "Bag of Words" format (``docword.*.txt[.gz]`` + ``vocab.*.txt``).
load_count_matrix
    A count matrix saved with :func:`scipy.sparse.save_npz` (``.npz``) or in
    Matrix Market format (``.mtx``), with an optional vocabulary file.
load_text_folder
    A folder of ``*.txt`` files, one document per file.
load_20newsgroups_counts
    The project's shared 20 Newsgroups counts (``../shared/data/20newsgroups``).
load_corpus
    Chooses one of the above from a path.

Sharded corpora (larger than memory)
------------------------------------
ShardedCorpus
    A corpus on disk as shards of CSR arrays (``.npy``, memory-mapped) with a
    JSON manifest (:mod:`fastcavi.datasets.shards`); ``ShardedCorpus(path)``
    opens one, reading no count until a shard is opened.
shard_corpus
    Writes any input :func:`load_corpus` reads as shards, streaming UCI and
    Matrix Market bodies in chunks and text folders in two passes:
    :func:`shard_uci_bow`, :func:`shard_count_matrix`, :func:`shard_text_folder`,
    and :func:`shard_csr` for a matrix in memory. A writer holds one chunk and
    one shard, and never leaves a half-written corpus.

Errors
------
A missing file raises :class:`FileNotFoundError` (a writer's existing
destination :class:`FileExistsError`); anything wrong with the
content of a file (bad header, non-integer fields, ids out of range, wrong
number of columns, negative or non-finite counts, a vocabulary whose length
does not match the number of columns, an empty corpus) raises
:class:`CorpusError`, a subclass of :class:`ValueError`. Messages are one line
and name the file, so a command-line tool can catch
``(CorpusError, FileNotFoundError)`` and print ``str(err)``.
"""

from ._common import Corpus, CorpusError
from .dispatch import load_corpus, shard_corpus
from .matrix import load_count_matrix
from .newsgroups import load_20newsgroups_counts
from .shard_coo import shard_count_matrix, shard_uci_bow
from .shard_text import shard_text_folder
from .shard_writer import ShardWriter, shard_csr
from .shards import DEFAULT_SHARD_DOCS, Shard, ShardedCorpus, is_sharded_corpus
# the SOTU_* constants that load_sotu documents stay importable from here (not in __all__)
from .sotu import (SOTU_MIN_PARAGRAPH_WORDS, SOTU_MIN_SENTENCE_WORDS,  # noqa: F401
                   SOTU_TOKEN_PATTERN, load_sotu)
from .text import load_text_folder
from .uci import load_uci_bow

__all__ = [
    "Corpus",
    "CorpusError",
    "load_sotu",
    "load_uci_bow",
    "load_count_matrix",
    "load_text_folder",
    "load_corpus",
    "load_20newsgroups_counts",
    "ShardedCorpus",
    "Shard",
    "ShardWriter",
    "shard_corpus",
    "shard_csr",
    "shard_uci_bow",
    "shard_count_matrix",
    "shard_text_folder",
    "is_sharded_corpus",
    "DEFAULT_SHARD_DOCS",
]

