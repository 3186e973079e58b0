"""``load_corpus``: choose the loader from a path (none, a folder, ``.npz``/``.mtx``,
UCI ``docword``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ._common import CorpusError
from .matrix import _is_mtx, load_count_matrix
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
