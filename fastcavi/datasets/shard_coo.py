"""Sharding coordinate text files, streamed: UCI bag-of-words and Matrix Market; and ``.npz``.

Both text formats list entries ``document word count`` (1-based). The body is
read in chunks of about ``chunk_bytes`` (never whole) and parsed with
:func:`numpy.loadtxt`; a document's entries may span chunks (the last, perhaps
incomplete, document of a chunk waits for the next). The entries must be
sorted by document, each document's lines together (as the UCI files and
:func:`scipy.io.mmwrite` of a CSR matrix have them); within a document any
word order is fine. Every error names the file and the line, and nothing is
written (:class:`~fastcavi.datasets.shard_writer.ShardWriter`).
"""

from __future__ import annotations

import bz2
import gzip
import warnings
import zlib
from pathlib import Path

import numpy as np

from ._common import (CorpusError, _default_vocabulary, _first_malformed, _one_line, _open_text,
                      _require_file)
from .matrix import _is_mtx, load_count_matrix
from .shard_writer import ShardWriter, shard_csr
from .shards import DEFAULT_SHARD_DOCS
from .uci import UCI_FIELDS, _read_uci_header

__all__ = ["shard_uci_bow", "shard_count_matrix"]

#: bytes of text parsed at a time
CHUNK_BYTES = 16 << 20


class _LineNumbers:
    """Line numbers of a chunk's data rows, worked out only when needed (errors, the tail)."""

    def __init__(self, lines, first_lineno, comment):
        self.lines, self.first, self.comment = lines, first_lineno, comment
        self._all = None

    def _is_data(self, line):
        s = line.split(None, 1)
        return bool(s) and not (self.comment is not None and s[0].startswith(self.comment))

    def all(self):
        if self._all is None:
            self._all = np.array([self.first + i for i, line in enumerate(self.lines)
                                  if self._is_data(line)], dtype=np.int64)
        return self._all

    def tail(self, m):
        """Line numbers of the last ``m`` data rows."""
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        if self._all is not None:
            return self._all[len(self._all) - m:]
        out = []
        for i in range(len(self.lines) - 1, -1, -1):
            if len(out) == m:
                break
            if self._is_data(self.lines[i]):
                out.append(self.first + i)
        return np.array(out[::-1], dtype=np.int64)


class _CooStream:
    """Entries of one file, in chunks, into a ShardWriter, checked as they come.

    Parameters
    ----------
    writer : ShardWriter
    where : str
        The file, for messages (``"docword file <path>"``).
    shape : (int, int, int)
        Documents, words and entries the header announces.
    names : tuple of str
        The fields of a data line (two for a pattern matrix: counts are 1).
    integer : bool
        Fields are integers (else real numbers; ids must still be whole).
    comment : str or None
        Lines starting with it are skipped.
    """

    def __init__(self, writer, where, shape, names, integer, comment=None):
        self.writer, self.where = writer, where
        self.n_docs, self.n_words, self.nnz = shape
        self.names, self.integer, self.comment = names, integer, comment
        self.seen = 0            # entries read
        self.done = 0            # documents 1..done are written
        self.carry = None        # (docs, words, counts, line numbers) of the last document

    def fail(self, lineno, problem):
        raise CorpusError(f"{self.where}: line {lineno}: {problem}")

    def _parse(self, lines, first_lineno):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            try:
                rows = np.loadtxt(lines, dtype=np.int64 if self.integer else np.float64,
                                  ndmin=2, comments=self.comment)
            except ValueError:
                rows = None
        if rows is None or (rows.size and rows.shape[1] != len(self.names)):
            problem = _first_malformed(lines, first_lineno, self.names,
                                       int if self.integer else float, self.comment)
            raise CorpusError(f"{self.where}: {problem or 'malformed data lines'}")
        return rows.reshape(-1, len(self.names))

    def feed(self, lines, first_lineno):
        """Parse and check one chunk of lines; write the documents it completes."""
        rows = self._parse(lines, first_lineno)
        n = rows.shape[0]
        if n == 0:
            return
        numbers = _LineNumbers(lines, first_lineno, self.comment)
        if self.seen + n > self.nnz:
            extra = self.nnz - self.seen
            self.fail(numbers.all()[extra], f"the header says there are {self.nnz} entries, "
                      f"and this is entry {self.nnz + 1}")
        self.seen += n
        docs, words = rows[:, 0], rows[:, 1]
        counts = rows[:, 2] if rows.shape[1] == 3 else np.ones(n)
        if not self.integer:
            for name, ids in zip(self.names, (docs, words)):
                bad = np.flatnonzero(ids != np.floor(ids))
                if bad.size:
                    self.fail(numbers.all()[bad[0]], f"{name} {ids[bad[0]]:g} is not an integer")
            docs, words = docs.astype(np.int64), words.astype(np.int64)
        for name, ids, upper in ((self.names[0], docs, self.n_docs),
                                 (self.names[1], words, self.n_words)):
            bad = np.flatnonzero((ids < 1) | (ids > upper))
            if bad.size:
                self.fail(numbers.all()[bad[0]], f"{name} {ids[bad[0]]} is out of range "
                          f"1..{upper} (the header's)")
        bad = np.flatnonzero(~np.isfinite(counts) | (counts < 0))
        if bad.size:
            kind = "negative" if counts[bad[0]] < 0 else "non-finite"
            self.fail(numbers.all()[bad[0]], f"{kind} count {counts[bad[0]]:g}")
        counts = counts.astype(np.float64, copy=False)
        if self.carry is not None:
            cd, cw, cc, cl = self.carry
            docs, words, counts = (np.concatenate((cd, docs)), np.concatenate((cw, words)),
                                   np.concatenate((cc, counts)))
        else:
            cl = np.zeros(0, dtype=np.int64)
        self.carry = None

        def line_at(i):
            return int(cl[i]) if i < cl.shape[0] else int(numbers.all()[i - cl.shape[0]])

        self._check_order(docs, line_at)
        k = int(np.searchsorted(docs, docs[-1], side="left"))
        tail = np.concatenate((cl[k:], numbers.tail(docs.shape[0] - max(k, cl.shape[0]))))
        self.carry = (docs[k:], words[k:], counts[k:], tail)
        if k:
            self._write(docs[:k], words[:k], counts[:k], line_at)

    def _check_order(self, docs, line_at):
        before = np.concatenate(([self.done + 1], docs[:-1]))
        bad = np.flatnonzero(docs < before)
        if bad.size:
            i, name = int(bad[0]), self.names[0]
            after = (f"{name} {docs[i - 1]} (line {line_at(i - 1)})" if i else
                     f"{name} {self.done}, which is complete")
            self.fail(line_at(i), f"{name} {docs[i]} comes after {after}: the entries must be "
                      f"sorted by {name}, each document's lines together")

    def _write(self, docs, words, counts, line_at):
        order = np.lexsort((words, docs))
        d, w, c = docs[order], words[order], counts[order]
        dup = np.flatnonzero((d[1:] == d[:-1]) & (w[1:] == w[:-1]))
        if dup.size:
            a, b = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
            self.fail(line_at(b), f"{self.names[1]} {w[dup[0]]} appears twice in "
                      f"{self.names[0]} {d[dup[0]]} (lines {line_at(a)} and {line_at(b)})")
        keep = c != 0
        last = int(d[-1])
        lengths = np.bincount(d[keep] - (self.done + 1), minlength=last - self.done)
        self.writer.add_rows(c[keep], w[keep] - 1, lengths)
        self.done = last

    def close(self):
        """Write the last document; check the number of entries; the corpus."""
        if self.carry is not None:
            d, w, c, lines = self.carry
            self.carry = None
            self._write(d, w, c, lambda i: int(lines[i]))
        if self.seen != self.nnz:
            raise CorpusError(f"{self.where}: the header says there are {self.nnz} entries but "
                              f"the file has {self.seen} (is it truncated?)")
        return self.writer.finish(n_documents=self.n_docs)


def _stream_body(f, stream, first_lineno, chunk_bytes):
    lineno = first_lineno
    while True:
        lines = f.readlines(chunk_bytes)
        if not lines:
            return stream.close()
        stream.feed(lines, lineno)
        lineno += len(lines)


def _read_errors(where, run):
    """``run()``, with decoding and I/O errors turned into one-line CorpusErrors."""
    try:
        return run()
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{where} is not a text file ({exc.reason} at byte {exc.start})"
                          ) from None
    except EOFError:
        raise CorpusError(f"{where}: truncated (the compressed stream ends early)") from None
    except (OSError, zlib.error) as exc:
        if isinstance(exc, (FileExistsError, FileNotFoundError)):
            raise
        raise CorpusError(f"could not read {where}: {_one_line(exc)}") from None


def _terms(path: Path):
    """The terms of a vocabulary file, one a line, read as they are needed."""
    with _open_text(path) as f:
        for line in f:
            yield line[:-1] if line.endswith("\n") else line


def _write_vocabulary(writer, vocab_p):
    where = f"vocabulary file {vocab_p}"
    _read_errors(where, lambda: writer.write_vocabulary(_terms(vocab_p), source=where))


def shard_uci_bow(docword_path, vocab_path, out, *, shard_docs=DEFAULT_SHARD_DOCS,
                  dtype="float64", chunk_bytes=CHUNK_BYTES):
    """Write a UCI bag-of-words corpus as shards, reading the body in chunks.

    The files are those of :func:`fastcavi.datasets.load_uci_bow` (the same
    corpus comes out, row for row), with one more rule: the entries must be
    sorted by docID, each document's lines together.

    Parameters
    ----------
    docword_path : str or path-like
        ``docword.<name>.txt`` or ``docword.<name>.txt.gz``.
    vocab_path : str or path-like
        ``vocab.<name>.txt`` (UTF-8, may be ``.gz``), W terms.
    out : str or path-like
        The corpus folder to create (must not exist; its parent must).
    shard_docs : int, default=DEFAULT_SHARD_DOCS (4096)
        Documents per shard.
    dtype : {"float64", "float32"}, default="float64"
        dtype of the stored counts.
    chunk_bytes : int, default=CHUNK_BYTES (16 MiB)
        About how much text is parsed at a time.

    Returns
    -------
    ShardedCorpus

    Raises
    ------
    FileNotFoundError
        A file is missing, or the parent of ``out``.
    FileExistsError
        ``out`` exists.
    CorpusError
        One line naming the file and, where it applies, the line: a bad or
        truncated header; a malformed or truncated data line; a non-integer
        or negative count; a docID or wordID out of the header's range;
        docIDs out of order; a word twice in a document; more or fewer
        entries than the header says; a compressed file that ends early; a
        vocabulary without W terms; an empty corpus. Nothing is written.
    """
    p = _require_file(docword_path, "docword file")
    vocab_p = _require_file(vocab_path, "vocabulary file")
    where = f"docword file {p}"

    def run():
        with _open_text(p) as f:
            n_docs, n_words, nnz = _read_uci_header(f, p)
            if n_docs == 0 or n_words == 0:
                raise CorpusError(f"{where}: empty corpus (D={n_docs}, W={n_words})")
            description = (f"Bag-of-words corpus read from {p} (UCI bag-of-words format) with "
                           f"vocabulary {vocab_p}, written as shards. Licence: see the source "
                           "of these files.")
            with ShardWriter(out, n_words, shard_docs=shard_docs, dtype=dtype, source=where,
                             description=description) as w:
                _write_vocabulary(w, vocab_p)
                stream = _CooStream(w, where, (n_docs, n_words, nnz), UCI_FIELDS, True)
                return _stream_body(f, stream, 4, chunk_bytes)

    return _read_errors(where, run)


def _open_matrix(p: Path):
    name = p.name.lower()
    if name.endswith(".gz"):
        return gzip.open(p, "rt", encoding="utf-8")
    if name.endswith(".bz2"):
        return bz2.open(p, "rt", encoding="utf-8")
    return open(p, encoding="utf-8")


def _mtx_banner(f, where):
    """The Matrix Market banner's (format, field, symmetry), lower case."""
    tokens = f.readline().split()
    if (len(tokens) != 5 or tokens[0].lower() != "%%matrixmarket"
            or tokens[1].lower() != "matrix"):
        raise CorpusError(f"{where}: line 1 is not a Matrix Market banner "
                          "('%%MatrixMarket matrix coordinate real general')")
    return tuple(t.lower() for t in tokens[2:])


def _mtx_size(f, where):
    """A coordinate file's size line after the banner: [rows, columns, entries] and its line."""
    lineno = 1
    for line in f:
        lineno += 1
        fields = line.split()
        if fields and not fields[0].startswith("%"):
            break
    else:
        raise CorpusError(f"{where}: truncated, no size line after the banner")
    try:
        size = [int(v) for v in fields]
        if len(size) != 3 or min(size) < 0:
            raise ValueError
    except ValueError:
        raise CorpusError(f"{where}: line {lineno}: the size line should be 'rows columns "
                          f"entries', got {line.strip()[:60]!r}") from None
    return size, lineno


def shard_count_matrix(path, out, vocab_path=None, *, shard_docs=DEFAULT_SHARD_DOCS,
                       dtype="float64", chunk_bytes=CHUNK_BYTES):
    """Write a ``.npz`` or Matrix Market count matrix as shards.

    A Matrix Market file in coordinate format, general symmetry (what
    :func:`scipy.io.mmwrite` writes for a sparse matrix) is streamed: its
    body is read in chunks, and its entries must be sorted by row, each
    row's lines together. Other Matrix Market files (dense ``array`` format,
    symmetric) and ``.npz`` files are loaded whole with
    :func:`fastcavi.datasets.load_count_matrix`, then written with
    :func:`~fastcavi.datasets.shard_writer.shard_csr`. Either way the corpus
    is the one :func:`~fastcavi.datasets.load_count_matrix` gives.

    Parameters
    ----------
    path : str or path-like
        ``.npz`` (:func:`scipy.sparse.save_npz`), ``.mtx``, ``.mtx.gz`` or ``.mtx.bz2``.
    out : str or path-like
        The corpus folder to create (must not exist; its parent must).
    vocab_path : str or path-like, optional
        One term per line; default ``"w0", "w1", ...``.
    shard_docs : int, default=DEFAULT_SHARD_DOCS (4096)
    dtype : {"float64", "float32"}, default="float64"
    chunk_bytes : int, default=CHUNK_BYTES (16 MiB)

    Returns
    -------
    ShardedCorpus

    Raises
    ------
    FileNotFoundError, FileExistsError
        As :func:`shard_uci_bow`.
    CorpusError
        One line naming the file and, where it applies, the line: a bad
        banner or size line, a complex field, a malformed or truncated data
        line, a non-integer count in an integer matrix, a negative or
        non-finite count, a row or column out of the size line's range, rows
        out of order, an entry twice, more or fewer entries than the size
        line says, a vocabulary of the wrong length, an empty matrix.
        Nothing is written.
    """
    p = _require_file(path, "count matrix file")
    where = f"count matrix file {p}"
    if not _is_mtx(p):
        corpus = load_count_matrix(p, vocab_path)  # .npz (or a CorpusError naming the file)
        return shard_csr(corpus.X, out, vocabulary=corpus.vocabulary, shard_docs=shard_docs,
                         dtype=dtype, description=corpus.description, source=where)
    vocab_p = None if vocab_path is None else _require_file(vocab_path, "vocabulary file")

    def run():
        with _open_matrix(p) as f:
            fmt, field, symmetry = _mtx_banner(f, where)
            if field not in ("real", "double", "integer", "pattern"):
                raise CorpusError(f"{where}: counts must be real numbers, the file's are {field}")
            if fmt != "coordinate" or symmetry != "general":
                return None  # not streamable: loaded whole below
            (n_docs, n_words, nnz), lineno = _mtx_size(f, where)
            if n_docs == 0 or n_words == 0:
                raise CorpusError(f"{where}: empty corpus ({n_docs} x {n_words})")
            description = (f"Count matrix read from {p} (Matrix Market), "
                           + (f"vocabulary {vocab_p}" if vocab_p else "no vocabulary file "
                              "(terms named w0, w1, ...)")
                           + ", written as shards. Licence: see the source of these files.")
            names = ("row", "column") + (() if field == "pattern" else ("value",))
            with ShardWriter(out, n_words, shard_docs=shard_docs, dtype=dtype, source=where,
                             description=description) as w:
                if vocab_p is None:
                    w.write_vocabulary(_default_vocabulary(n_words))
                else:
                    _write_vocabulary(w, vocab_p)
                stream = _CooStream(w, where, (n_docs, n_words, nnz), names,
                                    field in ("integer", "pattern"), comment="%")
                return _stream_body(f, stream, lineno + 1, chunk_bytes)

    corpus = _read_errors(where, run)
    if corpus is None:
        whole = load_count_matrix(p, vocab_path)
        corpus = shard_csr(whole.X, out, vocabulary=whole.vocabulary, shard_docs=shard_docs,
                           dtype=dtype, description=whole.description, source=where)
    return corpus
