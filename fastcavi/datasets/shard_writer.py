"""Writing sharded corpora: the all-or-nothing folder, the shard writer, and a CSR matrix's shards.

Every writer builds the corpus in a temporary folder beside its destination
(``.<name>.tmp-<pid>-<token>``, on the same file system) and renames it into
place once the manifest is written; whatever stops it before (bad input, an
``OSError``, a ``KeyboardInterrupt``) removes the temporary folder, so the
destination either holds a complete corpus or does not exist. A writer holds
at most one shard and the chunk of input it is reading.

See :mod:`fastcavi.datasets.shards` for the format.
"""

from __future__ import annotations

import json
import numbers
import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ._common import CorpusError, _check_counts, _default_vocabulary
from .shards import (COUNT_DTYPES, DEFAULT_SHARD_DOCS, DOCUMENTS, FORMAT, FORMAT_VERSION,
                     MANIFEST, SHARD_FILES, VOCABULARY, ShardedCorpus, sha256_files)

__all__ = ["ShardWriter", "shard_csr", "staged_folder"]


# --------------------------------------------------------------------------
# The all-or-nothing folder
# --------------------------------------------------------------------------


def _stage(out):
    """The absolute destination and a new temporary folder beside it.

    Raises FileExistsError if ``out`` exists, FileNotFoundError if its parent does not.
    """
    out = Path(os.fspath(out)).absolute()
    if out.exists():
        raise FileExistsError(f"{out} already exists; choose a new folder or remove it")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"the folder {out.parent} (where {out.name} would go) "
                                "does not exist")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    tmp.mkdir()
    return out, tmp


def _discard(tmp):
    """Remove a temporary folder; if interrupted, finish removing it, then re-raise."""
    try:
        shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _commit(tmp, out):
    if out.exists():
        raise FileExistsError(f"{out} appeared while it was being written; the new one is "
                              "discarded")
    os.rename(tmp, out)


@contextmanager
def staged_folder(out):
    """Write a folder all or nothing: yield a temporary folder, rename it to ``out`` at the end.

    Parameters
    ----------
    out : str or path-like
        The folder to create; it must not exist, its parent must.

    Yields
    ------
    pathlib.Path
        The temporary folder to write into (beside ``out``).

    Raises
    ------
    FileExistsError
        ``out`` exists.
    FileNotFoundError
        The parent of ``out`` does not exist.
    BaseException
        Whatever the body raised (``KeyboardInterrupt`` included), after
        removing the temporary folder: ``out`` is then not created.
    """
    out, tmp = _stage(out)
    try:
        yield tmp
        _commit(tmp, out)
    except BaseException:
        _discard(tmp)
        raise


# --------------------------------------------------------------------------
# The shard writer
# --------------------------------------------------------------------------


def _check_options(shard_docs, dtype):
    if (isinstance(shard_docs, bool) or not isinstance(shard_docs, numbers.Integral)
            or shard_docs < 1):
        raise ValueError(f"shard_docs must be a positive integer; got {shard_docs!r}")
    if np.dtype(dtype).name not in COUNT_DTYPES:
        raise ValueError(f"dtype must be one of {COUNT_DTYPES}; got {dtype!r}")
    return int(shard_docs), np.dtype(dtype)


class ShardWriter:
    """Build a sharded corpus from rows of counts, all or nothing.

    Use it as a context manager: rows go in with :meth:`add_rows` (documents
    in order), the vocabulary with :meth:`write_vocabulary`, and
    :meth:`finish` writes the manifest and renames the folder into place. An
    exception (or interrupt) inside the ``with`` block, or leaving it without
    :meth:`finish`, removes everything written.

    Parameters
    ----------
    out : str or path-like
        The corpus folder to create (must not exist; its parent must).
    n_words : int
        Vocabulary size.
    shard_docs : int, default=DEFAULT_SHARD_DOCS
        Documents per shard (the last may have fewer).
    dtype : {"float64", "float32"}, default="float64"
        dtype the counts are stored in.
    source : str, default="rows"
        What the rows come from, for error messages.
    description : str, default=""
        Stored in the manifest.

    Raises
    ------
    ValueError
        ``shard_docs`` is not a positive integer or ``dtype`` not a count dtype.
    FileExistsError, FileNotFoundError
        From :meth:`__enter__`, as :func:`staged_folder`.
    """

    def __init__(self, out, n_words, *, shard_docs=DEFAULT_SHARD_DOCS, dtype="float64",
                 source="rows", description=""):
        self.shard_docs, self.dtype = _check_options(shard_docs, dtype)
        self.out = Path(os.fspath(out))
        self.n_words = int(n_words)
        self.source = source
        self.description = description
        self.index_dtype = np.int32 if self.n_words < 2**31 else np.int64
        self._pieces = []          # buffered (data, indices, lengths) arrays
        self._buffered = 0         # documents buffered
        self.n_documents = 0       # documents added
        self._shards = []
        self._integer = True
        self._vocabulary = None
        self._documents = None
        self.tmp = None

    # ------------------------------------------------------------ context manager
    def __enter__(self):
        self.out, self.tmp = _stage(self.out)
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.tmp is not None:  # not finished: an error, or finish() never called
            _discard(self.tmp)
            self.tmp = None
        return False

    # ------------------------------------------------------------------ input
    def add_rows(self, data, indices, lengths):
        """Append documents: ``lengths[i]`` entries each, in the order of ``data`` / ``indices``.

        Parameters
        ----------
        data : ndarray of shape (nnz,)
            Positive finite counts (converted to the writer's dtype).
        indices : ndarray of shape (nnz,), int
            Word ids in ``[0, n_words)``, sorted and distinct within each document.
        lengths : ndarray of shape (n_docs,), int
            Entries of each document; zeros are empty documents.
        """
        lengths = np.asarray(lengths, dtype=np.int64)
        if lengths.size == 0:
            return
        self._pieces.append((np.asarray(data), np.asarray(indices), lengths))
        self._buffered += int(lengths.shape[0])
        self.n_documents += int(lengths.shape[0])
        while self._buffered >= self.shard_docs:
            self._flush(self.shard_docs)

    def add_empty(self, n_docs):
        """Append documents without words.

        Parameters
        ----------
        n_docs : int
            How many (none if 0 or less).
        """
        if n_docs > 0:
            self.add_rows(np.zeros(0, self.dtype), np.zeros(0, self.index_dtype),
                          np.zeros(int(n_docs), np.int64))

    def _text_file(self, name, terms, what, source):
        """Write ``terms`` one a line; their number and the file's checksum."""
        path = self.tmp / name
        n = 0
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for t in terms:
                if not isinstance(t, str):
                    raise CorpusError(f"{source}: {what} {n} is not a string: {t!r}")
                if "\n" in t or "\r" in t:
                    raise CorpusError(f"{source}: {what} {n} contains a line break: "
                                      f"{t[:40]!r}")
                f.write(t)
                f.write("\n")
                n += 1
        return n, sha256_files([path])

    def write_vocabulary(self, terms, source=None):
        """Write the vocabulary (one term a line; ``terms`` may be a generator).

        Parameters
        ----------
        terms : iterable of str
        source : str, optional
            Where the terms come from, for messages (default: the writer's source).

        Raises
        ------
        CorpusError
            A term is not a string or contains a line break, or there are not
            ``n_words`` terms.
        """
        source = self.source if source is None else source
        n, sha = self._text_file(VOCABULARY, terms, "vocabulary term", source)
        if n != self.n_words:
            raise CorpusError(f"{source} has {n} terms but the counts have {self.n_words} "
                              "words")
        self._vocabulary = {"file": VOCABULARY, "sha256": sha}

    def write_documents(self, ids):
        """Write document ids, one a line, in ``documents.txt``.

        Parameters
        ----------
        ids : iterable of str
            One per document, in order (their number is checked at :meth:`finish`).

        Raises
        ------
        CorpusError
            An id is not a string or contains a line break.
        """
        n, sha = self._text_file(DOCUMENTS, ids, "document id", self.source)
        self._documents = {"file": DOCUMENTS, "sha256": sha, "n": n}

    # ------------------------------------------------------------------ shards
    def _flush(self, n_docs):
        """Write the first ``n_docs`` buffered documents as the next shard."""
        data = np.concatenate([p[0] for p in self._pieces])
        indices = np.concatenate([p[1] for p in self._pieces])
        lengths = np.concatenate([p[2] for p in self._pieces])
        self._pieces = []
        nnz = int(lengths[:n_docs].sum())
        rest = (data[nnz:], indices[nnz:], lengths[n_docs:])
        data = data[:nnz].astype(self.dtype, copy=False)
        index_dtype = self.index_dtype if nnz < 2**31 else np.int64
        indptr = np.zeros(n_docs + 1, dtype=index_dtype)
        np.cumsum(lengths[:n_docs], out=indptr[1:])
        name = f"shard-{len(self._shards):05d}"
        folder = self.tmp / name
        folder.mkdir()
        paths = [folder / f for f in SHARD_FILES]
        for path, a in zip(paths, (data, indices[:nnz].astype(index_dtype, copy=False), indptr)):
            np.save(path, a, allow_pickle=False)
        start = self._shards[-1]["stop"] if self._shards else 0
        self._shards.append({"name": name, "start": start, "stop": start + n_docs, "nnz": nnz,
                             "n_tokens": float(data.sum(dtype=np.float64)),
                             "sha256": sha256_files(paths)})
        self._integer = self._integer and bool(np.all(data == np.floor(data)))
        self._buffered -= n_docs
        if self._buffered:
            self._pieces.append(rest)

    def finish(self, n_documents=None):
        """Write the last shard and the manifest, rename the folder into place, open it.

        Parameters
        ----------
        n_documents : int, optional
            The corpus's number of documents, when the input says it (a UCI
            header): documents after the last one added are empty.

        Returns
        -------
        ShardedCorpus
            The corpus just written.

        Raises
        ------
        CorpusError
            No vocabulary was written, the document ids do not match the
            documents, or the corpus is empty (no documents, no words, or
            all counts zero).
        """
        if n_documents is not None and n_documents > self.n_documents:
            self.add_empty(n_documents - self.n_documents)
        if self._buffered:
            self._flush(self._buffered)
        nnz = sum(s["nnz"] for s in self._shards)
        if self.n_documents == 0:
            raise CorpusError(f"{self.source}: empty corpus (no documents)")
        if self.n_words == 0:
            raise CorpusError(f"{self.source}: empty corpus (no words)")
        if nnz == 0:
            raise CorpusError(f"{self.source}: empty corpus (all counts are zero)")
        if self._vocabulary is None:
            raise CorpusError(f"{self.source}: no vocabulary was written")
        documents = None
        if self._documents is not None:
            documents = dict(self._documents)
            if documents.pop("n") != self.n_documents:
                raise CorpusError(f"{self.source}: there are {self.n_documents} documents but "
                                  "a different number of document ids")
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "n_documents": self.n_documents,
            "n_words": self.n_words,
            "nnz": nnz,
            "n_tokens": float(sum(s["n_tokens"] for s in self._shards)),
            "dtype": self.dtype.name,
            "integer_counts": self._integer,
            "vocabulary": self._vocabulary,
            "documents": documents,
            "description": self.description,
            "shards": self._shards,
        }
        with open(self.tmp / MANIFEST, "w", encoding="utf-8", newline="\n") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
        _commit(self.tmp, self.out)
        self.tmp = None
        return ShardedCorpus(self.out)


# --------------------------------------------------------------------------
# A CSR matrix
# --------------------------------------------------------------------------


def shard_csr(X, out, *, vocabulary=None, documents=None, shard_docs=DEFAULT_SHARD_DOCS,
              dtype=None, description=None, source="X"):
    """Write a document-term count matrix as a sharded corpus.

    Rows are copied out one shard at a time (for a CSR matrix, nothing else
    of it is copied), checked and made canonical (duplicates summed, zeros
    dropped, word ids sorted) as :func:`fastcavi.datasets.load_count_matrix`
    does.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_documents, n_words)
        Finite, non-negative counts (whole numbers or not).
    out : str or path-like
        The corpus folder to create (must not exist; its parent must).
    vocabulary : sequence of str of length n_words, optional
        Default ``"w0", "w1", ...``.
    documents : sequence of str of length n_documents, optional
        Document ids, stored in ``documents.txt``.
    shard_docs : int, default=DEFAULT_SHARD_DOCS (4096)
        Documents per shard.
    dtype : {"float64", "float32"}, optional
        dtype of the stored counts; default X's if it is one of those, else float64.
    description : str, optional
        Stored in the manifest.
    source : str, default="X"
        What X is, for error messages.

    Returns
    -------
    ShardedCorpus

    Raises
    ------
    CorpusError
        A negative or non-finite count (the message gives the document and
        word), a vocabulary of the wrong length or with a line break in a
        term, or an empty corpus. Nothing is written.
    FileExistsError, FileNotFoundError
        ``out`` exists, or its parent does not.
    ValueError
        ``shard_docs`` or ``dtype`` invalid; X not 2-D.
    """
    if not sp.issparse(X):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"{source} must be 2-D; got {X.ndim}-D")
    elif X.format != "csr":
        X = X.tocsr()
    if dtype is None:
        dtype = X.dtype if X.dtype.name in COUNT_DTYPES else np.float64
    n_docs, n_words = X.shape
    vocabulary = _default_vocabulary(n_words) if vocabulary is None else vocabulary
    if len(vocabulary) != n_words:
        raise CorpusError(f"{source}: the vocabulary has {len(vocabulary)} terms but the "
                          f"matrix has {n_words} columns")
    if documents is not None and len(documents) != n_docs:
        raise CorpusError(f"{source}: {len(documents)} document ids for {n_docs} documents")
    if description is None:
        description = f"Count matrix {source} ({n_docs} x {n_words}), written as shards."
    with ShardWriter(out, n_words, shard_docs=shard_docs, dtype=dtype, source=source,
                     description=description) as w:
        w.write_vocabulary(str(t) for t in vocabulary)
        if documents is not None:
            w.write_documents(str(d) for d in documents)
        for start in range(0, n_docs, w.shard_docs):
            block = sp.csr_matrix(X[start:start + w.shard_docs], dtype=np.float64)
            block.sum_duplicates()
            _check_counts(block, source, start)
            block.eliminate_zeros()
            block.sort_indices()
            w.add_rows(block.data, block.indices, np.diff(block.indptr))
        return w.finish()
