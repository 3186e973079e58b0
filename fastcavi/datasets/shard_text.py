"""Sharding a folder of ``*.txt`` files: the vocabulary from a first streaming pass, then the counts.

The first pass reads one file at a time and counts, for every term the
analyzer of :class:`~sklearn.feature_extraction.text.CountVectorizer` gives,
the documents it occurs in; ``min_df`` and ``max_df`` then keep the terms as
CountVectorizer does (sorted). The second pass counts each file's terms into
the shard writer. In memory: the document frequencies (one entry a distinct
term), one file's text and one shard.
"""

from __future__ import annotations

import numbers
from collections import Counter

import numpy as np

from ._common import CorpusError, _one_line
from .shard_writer import ShardWriter
from .shards import DEFAULT_SHARD_DOCS
from .text import _read_text_file, _text_folder_options

__all__ = ["shard_text_folder"]

#: CountVectorizer options a streaming pass cannot honour (or that fastcavi sets)
_REFUSED = ("max_features", "dtype")


def _kept_terms(df, n_docs, min_df, max_df, where):
    """The terms CountVectorizer keeps for these document frequencies, sorted."""
    if not df:
        raise CorpusError(f"{where}: empty vocabulary; perhaps the documents only contain "
                          "stop words")
    high = max_df if isinstance(max_df, numbers.Integral) else max_df * n_docs
    low = min_df if isinstance(min_df, numbers.Integral) else min_df * n_docs
    if high < low:
        raise CorpusError(f"{where}: max_df corresponds to < documents than min_df")
    terms = sorted(t for t, c in df.items() if low <= c <= high)
    if not terms:
        raise CorpusError(f"{where}: After pruning, no terms remain. Try a lower min_df or a "
                          "higher max_df.")
    return terms


def shard_text_folder(path, out, *, shard_docs=DEFAULT_SHARD_DOCS, dtype="float64", min_df=1,
                      max_df=1.0, **vectorizer_kwargs):
    """Write a folder of ``*.txt`` files (one document each) as shards, in two streaming passes.

    The corpus is the one :func:`fastcavi.datasets.load_text_folder` gives
    with the same options (files sorted by name; terms, counts and the
    vocabulary's order as CountVectorizer's), document ids the file names
    without ``.txt``.

    Parameters
    ----------
    path : str or path-like
        The folder.
    out : str or path-like
        The corpus folder to create (must not exist; its parent must).
    shard_docs : int, default=DEFAULT_SHARD_DOCS (4096)
        Documents per shard.
    dtype : {"float64", "float32"}, default="float64"
        dtype of the stored counts.
    min_df, max_df : int or float, default=1 and 1.0
        As CountVectorizer: keep terms in at least ``min_df`` and at most
        ``max_df`` documents (a float is a fraction of the documents).
    **vectorizer_kwargs
        Other CountVectorizer options: ``stop_words``, ``lowercase``,
        ``token_pattern``, ``ngram_range``, ``analyzer``, ``binary``,
        ``vocabulary`` (fixed: no first pass, ``min_df`` / ``max_df``
        unused), ...; and ``encoding`` / ``decode_error`` as
        :func:`~fastcavi.datasets.load_text_folder`. Not ``input``,
        ``max_features`` or ``dtype``.

    Returns
    -------
    ShardedCorpus

    Raises
    ------
    FileNotFoundError
        The folder is missing, or the parent of ``out``.
    FileExistsError
        ``out`` exists.
    CorpusError
        The folder has no ``*.txt`` file, a file cannot be decoded, an
        option is invalid, or no term is left. Nothing is written.
    TypeError
        ``input``, ``max_features``, ``dtype`` or an unknown option given.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    folder, files, kwargs, encoding, decode_error = _text_folder_options(
        path, vectorizer_kwargs, "shard_text_folder")
    refused = sorted(k for k in _REFUSED if k in kwargs)
    if refused:
        raise TypeError(f"shard_text_folder does not take {', '.join(refused)}")
    where = f"text folder {folder}"
    vec = CountVectorizer(min_df=min_df, max_df=max_df, **kwargs)
    try:
        vec._validate_params()
        vec._validate_ngram_range()
        analyze = vec.build_analyzer()
        fixed = vec.vocabulary is not None
        if fixed:
            vec._validate_vocabulary()
    except ValueError as exc:
        raise CorpusError(f"{where}: {_one_line(exc)}") from None

    def texts():
        for f in files:
            yield analyze(_read_text_file(f, encoding, decode_error))

    if fixed:
        index = vec.vocabulary_
        terms = sorted(index, key=index.get)
    else:
        df = Counter()
        for tokens in texts():
            df.update(set(tokens))
        terms = _kept_terms(df, len(files), min_df, max_df, where)
        del df
        index = {t: j for j, t in enumerate(terms)}
    description = (f"{len(files)} text files from folder {folder}, one document per file, "
                   "vectorised with scikit-learn CountVectorizer's analyzer in two streaming "
                   "passes, written as shards. Licence: see the source of these files.")
    with ShardWriter(out, len(terms), shard_docs=shard_docs, dtype=dtype, source=where,
                     description=description) as w:
        w.write_vocabulary(terms)
        w.write_documents(f.name[:-4] for f in files)
        for tokens in texts():
            ids = np.fromiter((index[t] for t in tokens if t in index), dtype=np.int64)
            words, counts = np.unique(ids, return_counts=True)
            if vec.binary:
                counts = np.ones_like(counts)
            w.add_rows(counts.astype(np.float64), words, [words.shape[0]])
        return w.finish()
