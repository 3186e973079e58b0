"""LDA's input, in memory or sharded on disk: the blocks its fits and evaluations visit.

:class:`Documents` is what :class:`~fastcavi.lda.LatentDirichletAllocation`
reads of its input. A matrix in memory is one block (the whole corpus, as the
kernels want it) and its minibatches; a :class:`fastcavi.datasets.ShardedCorpus`
is one block per shard and each shard's minibatches, as
:class:`fastcavi.engine.Streamed` sources: a shard is opened (memory-mapped)
when a pass reaches it and let go before the next, so a pass holds one shard.
The evaluations here (inference, the exact bound) visit the same blocks in the
same order, summing per-block terms in block order.
"""

import json
from pathlib import Path

import numpy as np
from sklearn.utils import gen_batches

from ..datasets import CorpusError
from ..datasets.shard_writer import staged_folder
from ..engine import DiscardLocals, SpillLocals, Streamed
from .corpus import CsrCorpus, Minibatch

__all__ = ["Documents", "open_shard", "open_minibatch", "inferred_gammas", "inferred_bound",
           "warm_bound", "write_doc_topic", "read_doc_topic", "DOC_TOPIC_FORMAT"]

#: the ``format`` field of a ``doc_topic.json`` (:func:`write_doc_topic`), and its version
DOC_TOPIC_FORMAT, DOC_TOPIC_VERSION = "fastcavi-doc-topic", 1
DOC_TOPIC_MANIFEST = "doc_topic.json"


def open_shard(shard):
    """A shard's block over the whole vocabulary (its arrays memory-mapped).

    Parameters
    ----------
    shard : fastcavi.datasets.Shard

    Returns
    -------
    CsrCorpus
    """
    data, indices, indptr = shard.arrays()
    return CsrCorpus(data, indices, indptr, shard.n_words)


def open_minibatch(item):
    """Rows ``start:stop`` of a shard over the words they use (an online-learning block).

    Parameters
    ----------
    item : (fastcavi.datasets.Shard, int, int)

    Returns
    -------
    Minibatch
    """
    shard, start, stop = item
    return Minibatch.from_csr(shard.open()[start:stop])


class Documents:
    """LDA's input: its blocks, sizes and vocabulary, whether in memory or on disk.

    Build one with :meth:`from_matrix` or :meth:`from_shards`.

    Attributes
    ----------
    n_docs, n_words : int
    dtype : numpy.dtype
        The working dtype of the counts (float32 or float64).
    n_tokens : float
        Sum of the counts.
    sharded : bool
        The blocks are shards, opened one at a time.
    vocabulary : ndarray of str or None
        A sharded corpus's vocabulary (None for a matrix).
    X : scipy.sparse.csr_matrix or None
        The matrix (None when sharded).
    shards : tuple of fastcavi.datasets.Shard
        The shards (empty for a matrix).
    """

    def __init__(self, n_docs, n_words, dtype, n_tokens, *, X=None, corpus=None, shards=(),
                 vocabulary=None):
        self.n_docs, self.n_words = int(n_docs), int(n_words)
        self.dtype = np.dtype(dtype)
        self.n_tokens = n_tokens
        self.X = X
        self._corpus = corpus
        self.shards = tuple(shards)
        self.vocabulary = vocabulary

    @classmethod
    def from_matrix(cls, X):
        """A validated CSR matrix (canonical, non-negative) as one block.

        Parameters
        ----------
        X : scipy.sparse.csr_matrix of shape (n_docs, n_words), float32 or float64

        Returns
        -------
        Documents
        """
        corpus = CsrCorpus.from_csr(X)
        return cls(X.shape[0], X.shape[1], X.dtype, corpus.n_tokens, X=X, corpus=corpus)

    @classmethod
    def from_shards(cls, shards, n_words, dtype, vocabulary=None):
        """Shards of a corpus (whose counts come in ``dtype``), one block each.

        Parameters
        ----------
        shards : sequence of fastcavi.datasets.Shard
            In document order; their ``dtype`` is the working dtype.
        n_words : int
        dtype : numpy.dtype
        vocabulary : ndarray of str, optional

        Returns
        -------
        Documents
        """
        shards = tuple(shards)
        return cls(sum(s.n_documents for s in shards), n_words, dtype,
                   float(sum(s.n_tokens for s in shards)), shards=shards,
                   vocabulary=vocabulary)

    @property
    def sharded(self):
        """True for shards on disk, False for a matrix in memory."""
        return self.X is None

    # ------------------------------------------------------------------ blocks
    def blocks(self):
        """The blocks over the whole vocabulary, in document order.

        Returns
        -------
        list of CsrCorpus or Streamed
            ``[corpus]`` for a matrix (the same object each call, so its column
            structure is built once); a Streamed source opening one shard's
            :class:`CsrCorpus` (:func:`open_shard`) at a time.
        """
        if self.sharded:
            return Streamed(self.shards, open_shard)
        return [self._corpus]

    def minibatches(self, batch_size):
        """Blocks of at most ``batch_size`` documents over their own words, in order.

        Parameters
        ----------
        batch_size : int

        Returns
        -------
        list of Minibatch or Streamed
            In memory, the rows of the matrix cut every ``batch_size``;
            sharded, each shard's rows cut every ``batch_size`` (a minibatch
            never spans two shards, so with ``shard_docs <= batch_size`` a
            shard is one minibatch), as a Streamed source
            (:func:`open_minibatch`).
        """
        if not self.sharded:
            return [Minibatch.from_csr(self.X[sl]) for sl in gen_batches(self.n_docs, batch_size)]
        return Streamed(self._minibatch_items(batch_size), open_minibatch)

    def _minibatch_items(self, batch_size):
        return [(s, sl.start, sl.stop) for s in self.shards
                for sl in gen_batches(s.n_documents, batch_size)]

    def n_blocks(self, online, batch_size):
        """Blocks a fit visits per pass.

        Parameters
        ----------
        online : bool
            The fit's blocks are minibatches (:meth:`minibatches`), else :meth:`blocks`.
        batch_size : int

        Returns
        -------
        int
        """
        if online:
            sizes = [s.n_documents for s in self.shards] if self.sharded else [self.n_docs]
            return sum(_n_batches(n, batch_size) for n in sizes)
        return len(self.shards) if self.sharded else 1

    def local_store(self, n_blocks, warm, folder):
        """Where a fit keeps its blocks' gamma between passes.

        Parameters
        ----------
        n_blocks : int
            From :meth:`n_blocks`.
        warm : bool
            The E-step starts from the last pass's gamma.
        folder : path-like or None
            A folder the store may write into (needed when sharded and warm).

        Returns
        -------
        None, SpillLocals or DiscardLocals
            In memory: None (the driver's list). Sharded: on disk in
            ``folder`` when warm, else nowhere (gamma is redrawn every pass).
        """
        if not self.sharded:
            return None
        return SpillLocals(folder, n_blocks) if warm else DiscardLocals(n_blocks)

    def warm_gamma(self, store, b, online, batch_size):
        """The gamma a warm fit left for block ``b`` of :meth:`blocks` (None if it left none).

        Parameters
        ----------
        store : list or local-state store
            The fit's ``FitResult.locals``.
        b : int
        online : bool
            The fit's blocks were minibatches: block ``b``'s gamma is that of
            its minibatches, stacked.
        batch_size : int

        Returns
        -------
        ndarray of shape (documents of block ``b``, n_topics) or None
        """
        if not online:
            return store[b]
        if not self.sharded:
            ids = range(len(store))
        else:
            first = sum(_n_batches(s.n_documents, batch_size) for s in self.shards[:b])
            ids = range(first, first + _n_batches(self.shards[b].n_documents, batch_size))
        parts = [store[j] for j in ids]
        if any(p is None for p in parts):
            return None
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _n_batches(n, batch_size):
    return -(-n // batch_size)


def inferred_gammas(model, docs, g, n_topics, start=None):
    """Per block in order: the block and its gamma inferred under ``g`` (the E-step, no statistics).

    Parameters
    ----------
    model : LDAModel
    docs : Documents
    g : Topics
        Only ``g.ebeta`` and ``g.alpha`` are read.
    n_topics : int
    start : callable, optional
        ``start(b)`` -> the gamma block ``b`` starts from (updated in place);
        default ones, as ``transform`` (scikit-learn's start).

    Yields
    ------
    block : CsrCorpus
    gamma : ndarray of shape (block.n_docs, n_topics), ``docs.dtype``
    result : LocalResult
        The E-step's, with the documents' ELBO terms.
    """
    b = -1
    for block in docs.blocks():  # (not enumerate(), whose reused tuple keeps the last shard)
        b += 1
        gamma = (np.ones((block.n_docs, n_topics), dtype=g.lam.dtype) if start is None
                 else start(b))
        res = model.infer(block, g, gamma)
        yield block, gamma, res
        block = gamma = res = None


def inferred_bound(model, docs, g, n_topics, doc_scale=None):
    """scikit-learn's bound of ``docs`` under ``g``, gamma inferred from 1, block by block.

    Parameters
    ----------
    model : LDAModel
    docs : Documents
    g : Topics
    n_topics : int
    doc_scale : float, optional
        Multiplies the document terms (``perplexity(sub_sampling=True)``).

    Returns
    -------
    float
        The documents' terms (:meth:`LDAModel.exact_doc_bound`, float64, no
        eps) summed in block order, then the topic terms: for one block,
        :meth:`LDAModel.exact_bound` of the inferred gamma.
    """
    ebeta64, topic_bound = model.bound_topics(g)
    doc = None
    for block, gamma, _ in inferred_gammas(model, docs, g, n_topics):
        part = model.exact_doc_bound(block, g, gamma, ebeta64)
        doc = part if doc is None else doc + part
    if doc_scale is not None:
        doc *= doc_scale
    return doc + float(topic_bound)


def warm_bound(model, docs, g, n_topics, start):
    """The ELBO of ``docs`` with each block's gamma inferred from where a warm fit left it.

    Parameters
    ----------
    model, docs, g, n_topics
        As :func:`inferred_bound`.
    start : callable
        ``start(b)`` -> block ``b``'s gamma after the fit (updated in place).

    Returns
    -------
    float
        The E-step's document terms summed in block order plus ``g``'s topic terms.
    """
    doc = None
    for _, _, res in inferred_gammas(model, docs, g, n_topics, start):
        part = res.doc_bound.sum()
        doc = part if doc is None else doc + part
    return float(doc + model.topics(g).topic_bound)


def write_doc_topic(out, docs, gammas, normalized):
    """Write document-topic arrays block by block to a new folder, all or nothing.

    Parameters
    ----------
    out : str or path-like
        The folder to create (must not exist; its parent must).
    docs : Documents
        The documents the arrays are of.
    gammas : iterable of ndarray
        One (block documents, n_components) array per block of
        ``docs.blocks()``, in order; each is written as it comes.
    normalized : bool
        The rows are proportions (E_q[theta]) rather than gamma.

    Returns
    -------
    pathlib.Path
        ``out``, holding ``part-NNNNN.npy`` per block and ``doc_topic.json``:
        the format and version, ``n_documents``, ``n_components``, ``dtype``,
        ``normalized`` and ``parts`` (per block its ``file`` and its rows
        ``start:stop`` of the result). :func:`read_doc_topic` reads it.

    Raises
    ------
    FileExistsError, FileNotFoundError
        ``out`` exists, or its parent does not.
    """
    parts = []
    n_components, dtype = None, None
    with staged_folder(out) as tmp:
        start = 0
        for b, gamma in enumerate(gammas):
            name = f"part-{b:05d}.npy"
            np.save(tmp / name, gamma, allow_pickle=False)
            parts.append({"file": name, "start": start, "stop": start + gamma.shape[0]})
            start += gamma.shape[0]
            n_components, dtype = gamma.shape[1], gamma.dtype.name
        manifest = {"format": DOC_TOPIC_FORMAT, "version": DOC_TOPIC_VERSION,
                    "n_documents": start, "n_components": n_components, "dtype": dtype,
                    "normalized": bool(normalized), "parts": parts}
        with open(tmp / DOC_TOPIC_MANIFEST, "w", encoding="utf-8", newline="\n") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
    return Path(out)


def read_doc_topic(folder, mmap_mode=None):
    """The arrays :func:`write_doc_topic` wrote, one per block, in order.

    Parameters
    ----------
    folder : str or path-like
    mmap_mode : {None, "r"}, default=None
        Memory-map the parts instead of reading them.

    Returns
    -------
    parts : list of ndarray
        ``np.concatenate(parts)`` is the whole (n_documents, n_components) result.

    Raises
    ------
    CorpusError
        ``folder`` has no ``doc_topic.json`` of this format and version, or
        a part is missing or of the wrong shape.
    """
    folder = Path(folder)
    path = folder / DOC_TOPIC_MANIFEST
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(f"cannot read {path}: {' '.join(str(exc).split())}") from None
    if m.get("format") != DOC_TOPIC_FORMAT or m.get("version") != DOC_TOPIC_VERSION:
        raise CorpusError(f"{path} is not a {DOC_TOPIC_FORMAT} version {DOC_TOPIC_VERSION} "
                          "manifest")
    parts = []
    for e in m["parts"]:
        try:
            a = np.load(folder / e["file"], mmap_mode=mmap_mode, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CorpusError(f"cannot read {folder / e['file']}: "
                              f"{' '.join(str(exc).split())}") from None
        if a.shape != (e["stop"] - e["start"], m["n_components"]):
            raise CorpusError(f"{folder / e['file']} has shape {a.shape}, the manifest says "
                              f"({e['stop'] - e['start']}, {m['n_components']})")
        parts.append(a)
    return parts
