"""Block sources and local-state stores: what the drivers iterate, and where local states live.

A *block source* is what :func:`~fastcavi.engine.run_cavi` and
:func:`~fastcavi.engine.run_svi` iterate once per pass. Any re-iterable
sequence of blocks is one (the drivers take a list of it, as before); a
:class:`Streamed` source instead holds *items* (e.g. the shards of an on-disk
corpus, :class:`fastcavi.datasets.Shard`) and opens the block of an item only
when the pass reaches it, so that a pass holds one block at a time. Block ``b``
is always ``open_block(items[b])``: a distributed driver can ship the items
(small and picklable) to workers, open each there and sum the statistics in
block order.

A *local-state store* is where a driver keeps each block's local state from
one pass to the next (LDA: the documents' gamma). It is anything with
``len(store)``, ``store[b]`` (None before the block's first visit) and
``store[b] = local``: a plain list (the drivers' default, all in memory),
:class:`DiscardLocals` (keep nothing: for a model that starts every pass
afresh) or :class:`SpillLocals` (one ``.npy`` file per block in a folder).
"""

import os
from pathlib import Path

import numpy as np

__all__ = ["Streamed", "as_source", "DiscardLocals", "SpillLocals"]


class Streamed:
    """Blocks opened one at a time, each time a pass reaches them.

    Parameters
    ----------
    items : iterable
        One item per block, in block order (kept as a tuple).
    open_block : callable
        ``open_block(item) -> block``; called on every visit, so that nothing
        of a block outlives the step that used it.

    Notes
    -----
    Iterating yields ``open_block(item)`` for each item in order and keeps no
    reference to a block it yielded, so a driver that drops its own before
    asking for the next holds one block at a time.
    """

    def __init__(self, items, open_block):
        self.items = tuple(items)
        self.open_block = open_block

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        for item in self.items:
            yield self.open_block(item)

    def __getitem__(self, b):
        """Block ``b``, opened (``open_block(items[b])``)."""
        return self.open_block(self.items[b])

    def __repr__(self):
        return f"Streamed({len(self.items)} blocks)"


def as_source(source):
    """The blocks a driver iterates: a :class:`Streamed` source itself, anything else as a list.

    Parameters
    ----------
    source : Streamed or iterable of blocks

    Returns
    -------
    Streamed or list
        Re-iterable, with ``len``.
    """
    return source if isinstance(source, Streamed) else list(source)


class DiscardLocals:
    """A local-state store that keeps nothing: every read gives None.

    For a model whose local step starts afresh each pass (LDA with gamma
    redrawn from its random state, scikit-learn's default), so that no
    per-item state of the whole data set is held between passes.

    Parameters
    ----------
    n_blocks : int
    """

    def __init__(self, n_blocks):
        self.n_blocks = int(n_blocks)

    def __len__(self):
        return self.n_blocks

    def __getitem__(self, b):
        _check_index(b, self.n_blocks)
        return None

    def __setitem__(self, b, local):
        _check_index(b, self.n_blocks)


class SpillLocals:
    """A local-state store on disk: block ``b``'s state in ``folder/local-<b>.npy``.

    Each write replaces the file atomically (written beside it, then renamed);
    a read loads it into memory (the local step updates it in place). So a
    pass holds the local state of one block, whatever the number of blocks.

    Parameters
    ----------
    folder : str or path-like
        An existing folder the store may write into (e.g. a
        :class:`tempfile.TemporaryDirectory`); the caller removes it.
    n_blocks : int

    Notes
    -----
    Local states must be ndarrays (or None, which removes the file); they are
    stored with :func:`numpy.save`, so dtype and shape come back unchanged.
    """

    def __init__(self, folder, n_blocks):
        self.folder = Path(folder)
        self.n_blocks = int(n_blocks)

    def __len__(self):
        return self.n_blocks

    def path(self, b):
        """The file of block ``b``.

        Parameters
        ----------
        b : int
            Block index, ``0 <= b < n_blocks``.

        Returns
        -------
        pathlib.Path
            ``folder / "local-<b>.npy"`` (6 digits), which may not exist yet.

        Raises
        ------
        IndexError
            ``b`` out of range.
        """
        _check_index(b, self.n_blocks)
        return self.folder / f"local-{b:06d}.npy"

    def __getitem__(self, b):
        path = self.path(b)
        if not path.exists():
            return None
        return np.load(path)

    def __setitem__(self, b, local):
        path = self.path(b)
        if local is None:
            path.unlink(missing_ok=True)
            return
        if not isinstance(local, np.ndarray):
            raise TypeError(f"SpillLocals stores ndarrays, not {type(local).__name__}")
        partial = path.with_name(path.name + ".partial")
        with open(partial, "wb") as f:
            np.save(f, local, allow_pickle=False)
        os.replace(partial, path)


def _check_index(b, n):
    if not 0 <= b < n:
        raise IndexError(f"block {b} out of range 0..{n - 1}")
