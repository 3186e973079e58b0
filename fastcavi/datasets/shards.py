"""Sharded on-disk corpora: a folder of CSR shards, opened memory-mapped one at a time.

A corpus folder holds

- ``manifest.json``: the format name and version, the corpus's shape
  (documents, words, non-zeros, tokens), the dtype of the counts, the
  vocabulary file and its checksum, and for each shard its document range,
  non-zeros, tokens and a checksum;
- ``vocabulary.txt``: one term per line (UTF-8, ``\\n``), line ``j`` naming column ``j``;
- ``documents.txt`` (optional): one document id per line;
- ``shard-NNNNN/``: per shard, the CSR arrays ``data.npy`` (the counts, in the
  manifest's dtype), ``indices.npy`` and ``indptr.npy`` (int32 or int64, the
  same for both; ``indptr`` starts at 0). Rows are documents in corpus order,
  each row's word ids sorted and distinct, no explicit zeros.

A shard's checksum is the SHA-256 of its three files, in that order. Opening a
:class:`ShardedCorpus` reads the manifest and the vocabulary only; a shard's
arrays are memory-mapped when it is opened (:meth:`Shard.arrays`), its checksum
verified the first time. A :class:`Shard` is small and picklable: any process
that can read the folder can open it, and the statistics of shards add up, so
shards can be visited in any process and summed in shard order.

The writers are in :mod:`fastcavi.datasets.shard_writer` (a CSR matrix),
:mod:`fastcavi.datasets.shard_coo` (UCI bag-of-words, Matrix Market, ``.npz``)
and :mod:`fastcavi.datasets.shard_text` (a folder of ``.txt`` files).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ._common import CorpusError, _one_line

__all__ = ["ShardedCorpus", "Shard", "FORMAT", "FORMAT_VERSION", "DEFAULT_SHARD_DOCS",
           "COUNT_DTYPES", "is_sharded_corpus", "vocabulary_sha256"]

#: the ``format`` field of every manifest
FORMAT = "fastcavi-sharded-corpus"
#: the manifest version this fastcavi writes and reads
FORMAT_VERSION = 1
#: documents per shard when the writer is not told
DEFAULT_SHARD_DOCS = 4096
#: the dtypes counts may be stored in (those the kernels compute in)
COUNT_DTYPES = ("float64", "float32")

MANIFEST = "manifest.json"
VOCABULARY = "vocabulary.txt"
DOCUMENTS = "documents.txt"
SHARD_FILES = ("data.npy", "indices.npy", "indptr.npy")

_HASH_CHUNK = 1 << 20


def sha256_files(paths) -> str:
    """SHA-256 of the files' bytes, one after the other, read 1 MiB at a time.

    Parameters
    ----------
    paths : iterable of path-like

    Returns
    -------
    str
        ``"sha256:"`` and 64 hexadecimal digits.
    """
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            while True:
                chunk = f.read(_HASH_CHUNK)
                if not chunk:
                    break
                h.update(chunk)
    return "sha256:" + h.hexdigest()


def vocabulary_sha256(terms) -> str:
    """The checksum of a vocabulary as the shard writers store it (one term a line).

    Parameters
    ----------
    terms : iterable of str

    Returns
    -------
    str
        ``"sha256:"`` and 64 hexadecimal digits: that of the UTF-8 file
        ``"".join(t + "\\n" for t in terms)``.
    """
    h = hashlib.sha256()
    for t in terms:
        h.update(str(t).encode("utf-8"))
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


def is_sharded_corpus(path) -> bool:
    """Whether ``path`` is a folder with a ``manifest.json`` (a sharded corpus, or meant as one).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    bool
        Only the file's presence is checked; :class:`ShardedCorpus` checks the rest.
    """
    p = Path(os.fspath(path))
    return p.is_dir() and (p / MANIFEST).is_file()


def _read_lines(path: Path, what: str, expected_sha: str):
    """The lines of a UTF-8 text file written by a shard writer, its checksum checked."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"{what} {path} is missing") from None
    except OSError as exc:
        raise CorpusError(f"could not read {what} {path}: {_one_line(exc)}") from None
    if "sha256:" + hashlib.sha256(raw).hexdigest() != expected_sha:
        raise CorpusError(f"{what} {path}: checksum mismatch (the file changed after the "
                          "corpus was written)")
    text = raw.decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


@dataclasses.dataclass(frozen=True, eq=False)
class Shard:
    """One shard of a :class:`ShardedCorpus`: documents ``start`` to ``stop`` of it, on disk.

    Small and picklable: it names its folder and carries its manifest entry,
    so any process that can read the folder opens it with :meth:`arrays` or
    :meth:`open`. A shard of a view (:meth:`ShardedCorpus.view`) opens only
    the view's rows of it, in the view's dtype.

    Attributes
    ----------
    folder : pathlib.Path
        The shard's folder (``<corpus>/shard-NNNNN``).
    index : int
        Position in the corpus's list of shards.
    start, stop : int
        The documents of the stored shard, as rows ``start:stop`` of the corpus.
    nnz : int
        Non-zeros of the documents this shard opens.
    n_tokens : float
        Sum of their counts.
    sha256 : str
        Checksum of the stored files (:func:`sha256_files` of data, indices, indptr).
    n_words : int
        Columns (the corpus's vocabulary size).
    stored_dtype : numpy.dtype
        dtype of ``data.npy``.
    dtype : numpy.dtype
        dtype of the counts :meth:`arrays` returns (a view may convert).
    rows : ndarray of int64 or None
        The stored rows this shard opens, relative to ``start`` (sorted,
        distinct); None for all of them.
    stored_nnz : int
        Non-zeros of the stored shard.
    """

    folder: Path
    index: int
    start: int
    stop: int
    nnz: int
    n_tokens: float
    sha256: str
    n_words: int
    stored_dtype: np.dtype
    dtype: np.dtype
    rows: np.ndarray = None
    stored_nnz: int = None
    # verification state, shared by a shard and its views (not by pickled copies)
    _check: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def n_documents(self) -> int:
        """Documents this shard opens."""
        return self.stop - self.start if self.rows is None else int(self.rows.shape[0])

    def verify(self):
        """Check the stored files against the manifest's checksum (done once per shard).

        Raises
        ------
        CorpusError
            A file is missing or its bytes changed since the corpus was written.
        """
        if self._check.get("verified"):
            return
        paths = [self.folder / name for name in SHARD_FILES]
        for p in paths:
            if not p.is_file():
                raise CorpusError(f"shard {self.folder}: {p.name} is missing")
        if sha256_files(paths) != self.sha256:
            raise CorpusError(
                f"shard {self.folder} (documents {self.start}..{self.stop - 1}): checksum "
                "mismatch, the files changed after the corpus was written")
        self._check["verified"] = True

    def _stored_arrays(self):
        self.verify()
        n_docs = self.stop - self.start
        out = []
        for name in SHARD_FILES:
            path = self.folder / name
            try:
                # an empty array cannot be mapped; it is read (a few bytes)
                a = np.load(path, mmap_mode="r" if self.stored_nnz or name == "indptr.npy"
                            else None, allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise CorpusError(f"shard {self.folder}: cannot read {name} "
                                  f"({_one_line(exc)})") from None
            out.append(a)
        data, indices, indptr = out
        problems = []
        if data.dtype != self.stored_dtype or data.shape != (self.stored_nnz,):
            problems.append(f"data.npy is {data.dtype} {data.shape}, the manifest says "
                            f"{self.stored_dtype} ({self.stored_nnz},)")
        if indices.dtype not in (np.int32, np.int64) or indices.shape != (self.stored_nnz,):
            problems.append(f"indices.npy is {indices.dtype} {indices.shape}")
        if indptr.dtype != indices.dtype or indptr.shape != (n_docs + 1,):
            problems.append(f"indptr.npy is {indptr.dtype} {indptr.shape}")
        elif indptr[0] != 0 or indptr[-1] != self.stored_nnz:
            problems.append("indptr.npy does not run from 0 to the non-zeros")
        if problems:
            raise CorpusError(f"shard {self.folder}: {problems[0]}")
        return data, indices, indptr

    def arrays(self):
        """The shard's CSR arrays: memory-mapped, or (for a view's rows) copied.

        Returns
        -------
        data : ndarray of shape (nnz,), ``dtype``
            Read-only when memory-mapped.
        indices : ndarray of shape (nnz,), int32 or int64
            Word ids, sorted and distinct within each document.
        indptr : ndarray of shape (n_documents + 1,), the dtype of ``indices``
            Starts at 0.

        Raises
        ------
        CorpusError
            A file is missing, changed since it was written (checksum), or
            disagrees with the manifest.
        """
        data, indices, indptr = self._stored_arrays()
        if self.rows is not None:
            X = sp.csr_matrix((data, indices, indptr), shape=(self.stop - self.start,
                                                              self.n_words))[self.rows]
            data, indices, indptr = X.data, X.indices, X.indptr
        if data.dtype != self.dtype:
            data = data.astype(self.dtype)
        return data, indices, indptr

    def open(self):
        """The shard as a CSR matrix (memory-mapped arrays where possible).

        Returns
        -------
        scipy.sparse.csr_matrix of shape (n_documents, n_words), ``dtype``

        Raises
        ------
        CorpusError
            As :meth:`arrays`.
        """
        data, indices, indptr = self.arrays()
        return sp.csr_matrix((data, indices, indptr), shape=(self.n_documents, self.n_words),
                             copy=False)

    def with_dtype(self, dtype):
        """This shard with its counts converted to ``dtype`` when opened.

        Parameters
        ----------
        dtype : {"float64", "float32"} or numpy.dtype

        Returns
        -------
        Shard
            ``self`` if it already opens in ``dtype``.
        """
        dtype = np.dtype(dtype)
        return self if dtype == self.dtype else self._select(None, dtype)

    def _select(self, rows, dtype):
        """A shard of a view: ``rows`` (relative to what this shard opens) in ``dtype``."""
        if rows is not None:
            stored = rows if self.rows is None else self.rows[rows]
        else:
            stored = self.rows
        if stored is not None:
            data, indices, indptr = self._stored_arrays()
            X = sp.csr_matrix((data, indices, indptr),
                              shape=(self.stop - self.start, self.n_words))[stored]
            nnz, n_tokens = int(X.nnz), float(X.data.sum(dtype=np.float64))
        else:
            nnz, n_tokens = self.nnz, self.n_tokens
        return dataclasses.replace(self, rows=stored, nnz=nnz, n_tokens=n_tokens,
                                   dtype=np.dtype(dtype) if dtype is not None else self.dtype,
                                   _check=self._check)


class ShardedCorpus:
    """A corpus stored as shards on disk (see the module's docstring for the format).

    Opening reads the manifest and the vocabulary; no count is read until a
    shard is opened. LDA (:class:`fastcavi.LatentDirichletAllocation`) takes
    one wherever it takes a matrix, visiting one shard at a time.

    Parameters
    ----------
    path : str or path-like
        The corpus folder, as written by :func:`fastcavi.datasets.shard_corpus`
        or another writer.

    Attributes
    ----------
    path : pathlib.Path
    shape : (int, int)
        (n_documents, n_words).
    n_documents, n_words, nnz : int
    n_tokens : float
        Sum of all counts.
    dtype : numpy.dtype
        dtype of the counts, float64 or float32.
    integer_counts : bool
        Every count is a whole number.
    vocabulary : ndarray of shape (n_words,), dtype object (str)
    vocabulary_sha256 : str
        Checksum of the vocabulary (:func:`vocabulary_sha256`).
    shards : tuple of Shard
        In document order; their documents make up the corpus.
    description : str
        Where the corpus came from.
    is_view : bool
        The corpus is a selection of another's rows or dtype (:meth:`view`).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    CorpusError
        ``path`` is not a folder or has no manifest; the manifest is not JSON,
        not a sharded corpus's, of another format version, or inconsistent
        (shard ranges, non-zeros); the vocabulary file is missing, changed
        since it was written (checksum) or has the wrong number of terms.
    """

    def __init__(self, path):
        p = Path(os.fspath(path))
        if not p.exists():
            raise FileNotFoundError(f"sharded corpus not found: {p}")
        if not p.is_dir():
            raise CorpusError(f"sharded corpus {p} is not a folder")
        mpath = p / MANIFEST
        if not mpath.is_file():
            raise CorpusError(f"{p} is not a sharded corpus: it has no {MANIFEST}")
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CorpusError(f"manifest {mpath}: not valid JSON ({exc.msg} at line {exc.lineno})"
                              ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CorpusError(f"could not read manifest {mpath}: {_one_line(exc)}") from None
        self.path = p
        self._documents = None
        self._parse(manifest, mpath)
        self.vocabulary = np.empty(self.n_words, dtype=object)
        terms = _read_lines(p / manifest["vocabulary"]["file"], "vocabulary file",
                            self.vocabulary_sha256)
        if len(terms) != self.n_words:
            raise CorpusError(f"vocabulary file {p / manifest['vocabulary']['file']} has "
                              f"{len(terms)} terms but the manifest says {self.n_words} words")
        self.vocabulary[:] = terms
        self.is_view = False
        self._rows = None

    def _parse(self, m, mpath):
        if not isinstance(m, dict) or m.get("format") != FORMAT:
            raise CorpusError(f"manifest {mpath}: not a fastcavi sharded corpus manifest "
                              f"(format is not {FORMAT!r})")
        version = m.get("version")
        if version != FORMAT_VERSION:
            raise CorpusError(f"manifest {mpath}: format version {version!r}, but this fastcavi "
                              f"reads version {FORMAT_VERSION} (rewrite the corpus with "
                              "`fastcavi shard`)")
        try:
            self.n_documents = _count(m["n_documents"])
            self.n_words = _count(m["n_words"])
            self.nnz = _count(m["nnz"])
            self.n_tokens = float(m["n_tokens"])
            if m["dtype"] not in COUNT_DTYPES:
                raise ValueError(f"dtype {m['dtype']!r} is not one of {COUNT_DTYPES}")
            self.dtype = np.dtype(m["dtype"])
            self.integer_counts = bool(m["integer_counts"])
            self.vocabulary_sha256 = str(m["vocabulary"]["sha256"])
            self._documents_entry = m.get("documents")
            self.description = str(m.get("description", ""))
            shards, start, nnz = [], 0, 0
            for i, e in enumerate(m["shards"]):
                s0, s1, k = _count(e["start"]), _count(e["stop"]), _count(e["nnz"])
                if s0 != start or s1 < s0:
                    raise ValueError(f"shard {i} covers documents {s0}..{s1 - 1}, expected "
                                     f"it to start at {start}")
                shards.append(Shard(mpath.parent / str(e["name"]), i, s0, s1, k,
                                    float(e["n_tokens"]), str(e["sha256"]), self.n_words,
                                    self.dtype, self.dtype, None, k))
                start, nnz = s1, nnz + k
            if start != self.n_documents or nnz != self.nnz:
                raise ValueError(f"the shards hold {start} documents and {nnz} non-zeros, the "
                                 f"corpus {self.n_documents} and {self.nnz}")
        except KeyError as exc:
            raise CorpusError(f"manifest {mpath}: missing field {exc}") from None
        except (TypeError, ValueError) as exc:
            raise CorpusError(f"manifest {mpath}: {_one_line(exc)}") from None
        self.shards = tuple(shards)

    # ------------------------------------------------------------------ properties
    @property
    def shape(self):
        """(n_documents, n_words)."""
        return (self.n_documents, self.n_words)

    @property
    def documents(self):
        """Document ids (list of str), or None when the corpus has none (read on first use).

        Raises
        ------
        CorpusError
            The documents file is missing or changed since it was written.
        """
        if self._documents is None and self._documents_entry is not None:
            e = self._documents_entry
            ids = _read_lines(self.path / e["file"], "documents file", e["sha256"])
            if self._rows is not None:
                ids = [ids[i] for i in self._rows]
            self._documents = ids
        return self._documents

    # ------------------------------------------------------------------ methods
    def view(self, rows=None, dtype=None):
        """The corpus restricted to some documents and/or with counts in another dtype.

        The view reads the same files; its shards open only its rows (copied
        out of the memory-mapped shard, one shard at a time).

        Parameters
        ----------
        rows : array-like of int, optional
            Documents to keep (0-based, in this corpus's numbering); they are
            sorted and duplicates dropped. Default: all.
        dtype : {"float64", "float32"} or numpy.dtype, optional
            dtype the shards' counts are converted to when opened.

        Returns
        -------
        ShardedCorpus
            ``is_view`` is True; ``n_tokens`` and ``nnz`` are those of the rows
            (computed here, reading the shards' counts once).

        Raises
        ------
        CorpusError
            A row is out of range, or ``dtype`` is not a count dtype.
        """
        if dtype is not None and np.dtype(dtype).name not in COUNT_DTYPES:
            raise CorpusError(f"{self.path}: dtype {np.dtype(dtype)} is not one of "
                              f"{COUNT_DTYPES}")
        shards = []
        if rows is None:
            shards = [s._select(None, dtype) for s in self.shards]
            kept = self._rows
        else:
            rows = np.unique(np.asarray(rows, dtype=np.int64))
            if rows.size and (rows[0] < 0 or rows[-1] >= self.n_documents):
                raise CorpusError(f"{self.path}: rows must lie in 0..{self.n_documents - 1}")
            offset = 0
            for s in self.shards:
                lo, hi = np.searchsorted(rows, [offset, offset + s.n_documents])
                if hi > lo:
                    shards.append(s._select(rows[lo:hi] - offset, dtype))
                offset += s.n_documents
            kept = rows if self._rows is None else self._rows[rows]
        new = object.__new__(ShardedCorpus)
        new.__dict__.update(self.__dict__)
        new.shards = tuple(shards)
        new.n_documents = sum(s.n_documents for s in shards)
        new.nnz = sum(s.nnz for s in shards)
        new.n_tokens = float(sum(s.n_tokens for s in shards))
        new.dtype = np.dtype(dtype) if dtype is not None else self.dtype
        new.is_view = True
        new._rows = kept
        new._documents = None
        return new

    def verify(self):
        """Check every shard's files against its checksum (reads the whole corpus once).

        Returns
        -------
        ShardedCorpus
            ``self``.

        Raises
        ------
        CorpusError
            As :meth:`Shard.verify`.
        """
        for s in self.shards:
            s.verify()
        return self

    def to_csr(self):
        """The whole corpus as one CSR matrix in memory.

        Returns
        -------
        scipy.sparse.csr_matrix of shape (n_documents, n_words), ``dtype``
        """
        if not self.shards:
            return sp.csr_matrix(self.shape, dtype=self.dtype)
        return sp.vstack([s.open() for s in self.shards], format="csr")

    def check_vocabulary(self, vocabulary, whom):
        """Raise unless ``vocabulary`` is this corpus's (a model's words against the corpus's).

        Parameters
        ----------
        vocabulary : sequence of str or None
            None: nothing to check.
        whom : str
            Who checks, for the message (e.g. ``"LatentDirichletAllocation.transform"``).

        Raises
        ------
        CorpusError
            The vocabularies differ; the message names the first word that does.
        """
        if vocabulary is None:
            return
        terms = [str(t) for t in vocabulary]
        if vocabulary_sha256(terms) == self.vocabulary_sha256:
            return
        if len(terms) != self.n_words:
            raise CorpusError(f"{whom}: the vocabulary of {self.path} has {self.n_words} words, "
                              f"the model's {len(terms)}")
        j = next(i for i, (a, b) in enumerate(zip(self.vocabulary, terms)) if a != b)
        raise CorpusError(f"{whom}: the vocabulary of {self.path} does not match the model's: "
                          f"word {j} is {self.vocabulary[j]!r} in the corpus, {terms[j]!r} in "
                          "the model")

    def __repr__(self):
        kind = "view of " if self.is_view else ""
        return (f"ShardedCorpus({kind}{str(self.path)!r}, n_documents={self.n_documents}, "
                f"n_words={self.n_words}, nnz={self.nnz}, shards={len(self.shards)}, "
                f"dtype={self.dtype.name})")


def _count(value):
    """A non-negative int from a manifest field (bool and float refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a non-negative integer")
    return value
