"""``load_corpus`` and ``shard_corpus``: choose the loader or the shard writer from a path
(none, a folder, ``.npz``/``.mtx``, UCI ``docword``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ._common import CorpusError
from .matrix import _is_mtx, load_count_matrix
from .shard_coo import shard_count_matrix, shard_uci_bow
from .shard_text import shard_text_folder
from .shards import DEFAULT_SHARD_DOCS
from .sotu import load_sotu
from .text import load_text_folder
from .uci import load_uci_bow


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
    return _by_kind(p, vocab_path, kw, load_count_matrix, load_uci_bow)


def _by_kind(p, vocab_path, kw, matrix, uci):
    """``matrix(p, vocab_path)`` for a .npz/.mtx, ``uci(p, vocab)`` for a docword file."""
    if kw:
        raise TypeError(f"unexpected options for {p.name}: {', '.join(sorted(kw))}")
    name = p.name
    if name.lower().endswith(".npz") or _is_mtx(p):
        return matrix(p, vocab_path)
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
        return uci(p, vocab_path)
    raise CorpusError(
        f"cannot tell the format of {p}: expected a folder of .txt files, a .npz or .mtx "
        "count matrix, or a UCI docword*.txt[.gz] file"
    )


def shard_corpus(path, out, vocab_path=None, *, shard_docs=DEFAULT_SHARD_DOCS,
                 dtype="float64", **kw):
    """Write a corpus as shards, choosing the writer from ``path`` as :func:`load_corpus` does.

    ================================  =====================================
    ``path``                          writer
    ================================  =====================================
    a directory                       :func:`shard_text_folder` (``**kw``)
    ``*.npz``, ``*.mtx[.gz|.bz2]``    :func:`shard_count_matrix`
    ``docword*.txt[.gz]``             :func:`shard_uci_bow`
    ================================  =====================================

    The corpus written is the one :func:`load_corpus` loads from the same
    path and options (a UCI vocabulary is found beside the docword file the
    same way), but for what streaming needs: coordinate entries sorted by
    document, no entry twice.

    Parameters
    ----------
    path : str or path-like
        What to read.
    out : str or path-like
        The corpus folder to create (must not exist; its parent must).
    vocab_path : str, path-like or None, default=None
        Vocabulary file for ``.npz`` / ``.mtx`` / UCI inputs.
    shard_docs : int, default=DEFAULT_SHARD_DOCS (4096)
        Documents per shard.
    dtype : {"float64", "float32"}, default="float64"
        dtype of the stored counts.
    **kw
        Options of :func:`shard_text_folder` (CountVectorizer's, e.g.
        ``stop_words="english"``, ``min_df``, ``max_df``).

    Returns
    -------
    ShardedCorpus

    Raises
    ------
    FileNotFoundError
        ``path``, ``vocab_path``, the inferred UCI vocabulary or the parent
        of ``out`` does not exist.
    FileExistsError
        ``out`` exists.
    CorpusError
        As the chosen writer (one line naming the file and the line);
        nothing is written.
    TypeError
        ``**kw`` given for a file, or an option the text writer does not take.
    """
    p = Path(os.fspath(path))
    if not p.exists():
        raise FileNotFoundError(f"corpus not found: {p}")
    opts = dict(shard_docs=shard_docs, dtype=dtype)
    if p.is_dir():
        if vocab_path is not None:
            raise CorpusError(f"vocab_path does not apply to the text folder {p}")
        return shard_text_folder(p, out, **opts, **kw)
    return _by_kind(p, vocab_path, kw,
                    lambda q, v: shard_count_matrix(q, out, v, **opts),
                    lambda q, v: shard_uci_bow(q, v, out, **opts))
