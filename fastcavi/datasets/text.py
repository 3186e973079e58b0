"""A folder of ``*.txt`` files, one document per file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._common import CorpusError, _finalize, _one_line, _vectorize


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
    folder, files, kwargs, encoding, decode_error = _text_folder_options(
        path, vectorizer_kwargs, "load_text_folder")
    kwargs["dtype"] = np.float64
    texts = [_read_text_file(f, encoding, decode_error) for f in files]
    X, vocab = _vectorize(texts, f"text folder {folder}", **kwargs)
    description = (
        f"{len(files)} text files from folder {folder}, one document per file, vectorised "
        "with scikit-learn CountVectorizer. Licence: see the source of these files."
    )
    return _finalize(X, vocab, [f.name[:-4] for f in files], description, f"text folder {folder}")


def _text_folder_options(path, vectorizer_kwargs, whom):
    """The folder, its ``*.txt`` files (sorted by name), the vectorizer's options, the decoding.

    Raises FileNotFoundError / CorpusError for a missing or empty folder or a
    bad ``decode_error``, TypeError if ``input`` is given.
    """
    folder = Path(os.fspath(path))
    if not folder.exists():
        raise FileNotFoundError(f"text folder not found: {folder}")
    if not folder.is_dir():
        raise CorpusError(f"text folder {folder} is not a directory")
    if "input" in vectorizer_kwargs:
        raise TypeError(f"{whom} reads the files itself; do not pass 'input'")
    kwargs = dict(vectorizer_kwargs)
    encoding = kwargs.pop("encoding", "utf-8")
    decode_error = kwargs.pop("decode_error", "strict")
    if decode_error not in ("strict", "ignore", "replace"):
        raise CorpusError(
            f"decode_error must be 'strict', 'ignore' or 'replace', got {decode_error!r}"
        )
    files = sorted(
        (f for f in folder.iterdir() if f.suffix.lower() == ".txt" and f.is_file()),
        key=lambda f: f.name,
    )
    if not files:
        raise CorpusError(f"text folder {folder} contains no *.txt files")
    return folder, files, kwargs, encoding, decode_error


def _read_text_file(f, encoding, decode_error):
    """The text of one file, or a one-line CorpusError naming it."""
    try:
        return f.read_text(encoding=encoding, errors=decode_error)
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"text file {f} is not valid {encoding} ({exc.reason} at byte {exc.start}); "
            "pass encoding=... or decode_error='replace'"
        ) from None
    except LookupError:
        raise CorpusError(f"unknown encoding {encoding!r}") from None
    except OSError as exc:
        raise CorpusError(f"could not read text file {f}: {_one_line(exc)}") from None
