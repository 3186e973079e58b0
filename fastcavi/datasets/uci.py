"""The UCI "Bag of Words" format: ``docword.*.txt[.gz]`` plus ``vocab.*.txt``."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ._common import (CorpusError, _finalize, _first_malformed, _one_line, _open_text,
                      _read_vocabulary, _require_file)


#: the fields of a docword data line
UCI_FIELDS = ("docID", "wordID", "count")


def _scan_uci_body(path: Path):
    """Slow pass over the data lines to locate the first malformed one."""
    with _open_text(path) as f:
        for _ in range(3):
            f.readline()
        return _first_malformed(f, 4, UCI_FIELDS)


def _read_uci_header(f, p: Path):
    """The three header lines of an open docword file: [D, W, NNZ] (CorpusError if bad)."""
    header = []
    names = ("D (number of documents)", "W (vocabulary size)", "NNZ (number of entries)")
    for k, name in enumerate(names, start=1):
        line = f.readline()
        if line == "":
            raise CorpusError(f"docword file {p}: truncated header, line {k} ({name}) is missing")
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
    return header


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
    try:
        with _open_text(p) as f:
            header = _read_uci_header(f, p)
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
