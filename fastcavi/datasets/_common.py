"""What every loader shares: the :class:`Corpus` result, :class:`CorpusError`, and the
private helpers that open files, read vocabularies, vectorise texts and check the
final count matrix (:func:`_finalize`), so that every loader reports errors alike.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp


class CorpusError(ValueError):
    """A corpus file (or the corpus built from it) is malformed or empty.

    Subclass of :class:`ValueError`; the message is a single line that names
    the offending file and the problem.
    """


# --------------------------------------------------------------------------
# Result object
# --------------------------------------------------------------------------


@dataclass(eq=False, repr=False)
class Corpus:
    """A bag-of-words corpus.

    Attributes
    ----------
    X : scipy.sparse.csr_matrix of shape (n_documents, n_words), float64
        Document-term counts in canonical CSR form (sorted indices, no
        duplicate entries, no explicit zeros).
    vocabulary : ndarray of shape (n_words,), dtype object (str)
        ``vocabulary[j]`` is the term counted by column ``j`` of ``X``.
    documents : list of str of length n_documents, or None
        Document identifiers or titles, when the source has them.
    description : str
        Where the data come from, their licence and how they were processed.
    target : ndarray of shape (n_documents,), int64, or None
        Class label of each document (0-based), when the source has labels.
    target_names : ndarray of shape (n_classes,), dtype object (str), or None
        ``target_names[k]`` is the name of class ``k``.
    """

    X: sp.csr_matrix
    vocabulary: np.ndarray
    documents: list | None = None
    description: str = ""
    target: np.ndarray | None = None
    target_names: np.ndarray | None = None

    def __post_init__(self):
        n_docs, n_words = self.X.shape
        if len(self.vocabulary) != n_words:
            raise CorpusError(
                f"vocabulary has {len(self.vocabulary)} terms but X has {n_words} columns"
            )
        if self.documents is not None and len(self.documents) != n_docs:
            raise CorpusError(
                f"documents has {len(self.documents)} entries but X has {n_docs} rows"
            )
        if self.target is not None and len(self.target) != n_docs:
            raise CorpusError(f"target has {len(self.target)} entries but X has {n_docs} rows")

    @property
    def n_documents(self) -> int:
        """Number of documents (rows of ``X``)."""
        return self.X.shape[0]

    @property
    def n_words(self) -> int:
        """Vocabulary size (columns of ``X``)."""
        return self.X.shape[1]

    @property
    def n_tokens(self) -> float:
        """Total count, ``X.sum()``."""
        return float(self.X.data.sum())

    def __repr__(self) -> str:
        first = self.description.split(". ")[0][:80]
        return (
            f"Corpus(n_documents={self.n_documents}, n_words={self.n_words}, "
            f"nnz={self.X.nnz}, n_tokens={self.n_tokens:.0f}, description={first!r})"
        )


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _one_line(msg) -> str:
    return " ".join(str(msg).split())


def _require_file(path, what: str) -> Path:
    """Return ``Path(path)``; FileNotFoundError if missing, CorpusError if a directory."""
    p = Path(os.fspath(path))
    if not p.exists():
        raise FileNotFoundError(f"{what} not found: {p}")
    if p.is_dir():
        raise CorpusError(f"{what} {p} is a directory, expected a file")
    return p


def _open_text(path: Path):
    """Open a text file for reading, transparently gunzipping ``*.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline=None)
    return open(path, encoding="utf-8", newline=None)


def _first_malformed(lines, first_lineno: int, names, convert=int, comment=None):
    """The first malformed data line of ``lines``, described in one line (None if all are fine).

    A data line has ``len(names)`` whitespace-separated fields that ``convert``
    (``int`` or ``float``) accepts; blank lines, and lines starting with
    ``comment`` when given, are skipped. ``first_lineno`` is the line number
    of ``lines[0]`` in its file.
    """
    kind = "an integer" if convert is int else "a number"
    for lineno, line in enumerate(lines, start=first_lineno):
        fields = line.split()
        if not fields or (comment is not None and fields[0].startswith(comment)):
            continue
        if len(fields) != len(names):
            return (f"line {lineno} has {len(fields)} fields, expected {len(names)} "
                    f"({' '.join(names)}): {line.strip()[:60]!r}")
        for name, value in zip(names, fields):
            try:
                v = convert(value)
            except ValueError:
                return f"line {lineno}: {name} {value[:30]!r} is not {kind}"
            if convert is int and abs(v) >= 2**63:
                return f"line {lineno}: {name} {value[:30]!r} is too large"
    return None


def _read_vocabulary(path, n_expected: int | None = None) -> np.ndarray:
    """Read a one-term-per-line vocabulary file into an object array of str."""
    p = _require_file(path, "vocabulary file")
    try:
        with _open_text(p) as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"vocabulary file {p} is not valid UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    except (OSError, EOFError) as exc:
        raise CorpusError(f"could not read vocabulary file {p}: {_one_line(exc)}") from None
    terms = text.split("\n")
    if terms and terms[-1] == "":
        terms.pop()  # final newline
    if not terms:
        raise CorpusError(f"vocabulary file {p} is empty")
    vocab = np.empty(len(terms), dtype=object)
    vocab[:] = terms
    if n_expected is not None and len(vocab) != n_expected:
        raise CorpusError(
            f"vocabulary file {p} has {len(vocab)} terms but the count matrix has "
            f"{n_expected} columns"
        )
    return vocab


def _check_counts(X, source: str, first_row: int = 0) -> None:
    """CorpusError naming the entry unless every count of CSR ``X`` is finite and non-negative.

    ``first_row`` is the corpus row of ``X``'s first row (for a block of rows).
    """
    if not np.all(np.isfinite(X.data)):
        bad = np.flatnonzero(~np.isfinite(X.data))[0]
        row = np.searchsorted(X.indptr, bad, side="right") - 1 + first_row
        raise CorpusError(
            f"{source}: non-finite count {X.data[bad]} at document {row}, word {X.indices[bad]}"
        )
    if X.data.size and X.data.min() < 0:
        bad = int(np.argmin(X.data))
        row = np.searchsorted(X.indptr, bad, side="right") - 1 + first_row
        raise CorpusError(
            f"{source}: negative count {X.data[bad]:g} at document {row}, word {X.indices[bad]}"
        )


def _default_vocabulary(n_words: int) -> np.ndarray:
    """Terms ``"w0", "w1", ...`` for a count matrix without a vocabulary file."""
    vocab = np.empty(n_words, dtype=object)
    vocab[:] = [f"w{j}" for j in range(n_words)]
    return vocab


def _finalize(X, vocabulary, documents, description, source: str, **extra) -> Corpus:
    """Canonicalise ``X`` to CSR float64, check it, and build the Corpus."""
    X = sp.csr_matrix(X, dtype=np.float64)
    X.sum_duplicates()
    _check_counts(X, source)
    X.eliminate_zeros()
    X.sort_indices()
    n_docs, n_words = X.shape
    if n_docs == 0:
        raise CorpusError(f"{source}: empty corpus (no documents)")
    if n_words == 0:
        raise CorpusError(f"{source}: empty corpus (no words)")
    if X.nnz == 0:
        raise CorpusError(f"{source}: empty corpus (all counts are zero)")
    if len(vocabulary) != n_words:
        raise CorpusError(
            f"{source}: vocabulary has {len(vocabulary)} terms but the count matrix has "
            f"{n_words} columns"
        )
    return Corpus(
        X=X, vocabulary=vocabulary, documents=documents, description=description, **extra
    )


def _vectorize(texts, source: str, **vectorizer_kwargs):
    """Run CountVectorizer, turning its ValueErrors into one-line CorpusErrors."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer_kwargs.setdefault("dtype", np.float64)
    vec = CountVectorizer(**vectorizer_kwargs)
    if len(texts) == 0:
        raise CorpusError(f"{source}: empty corpus (no documents)")
    try:
        X = vec.fit_transform(texts)
    except ValueError as exc:
        raise CorpusError(f"{source}: {_one_line(exc)}") from None
    vocab = np.asarray(vec.get_feature_names_out(), dtype=object)
    return X, vocab
