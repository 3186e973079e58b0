"""Count matrices saved as scipy.sparse ``.npz`` or in Matrix Market (``.mtx``) format."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp

from ._common import (CorpusError, _default_vocabulary, _finalize, _one_line, _read_vocabulary,
                      _require_file)


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
        vocab = _default_vocabulary(n_words)
        vocab_note = "no vocabulary file (terms named w0, w1, ...)"
    else:
        vocab = _read_vocabulary(vocab_path, n_expected=n_words)
        vocab_note = f"vocabulary {vocab_path}"
    description = (
        f"Count matrix read from {p} ({kind}), {vocab_note}. "
        "Licence: see the source of these files."
    )
    return _finalize(X, vocab, None, description, f"count matrix file {p}")
