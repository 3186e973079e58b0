"""The project's shared 20 Newsgroups counts (``../shared/data/20newsgroups``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ._common import CorpusError, _finalize, _require_file
from .matrix import load_count_matrix


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
