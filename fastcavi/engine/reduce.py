"""One fixed summation tree over block ids, for every driver that sums block statistics.

Floating-point addition is not associative, so a sum over blocks is
reproducible only if its tree is fixed. The tree here depends on the number of
blocks alone: level by level, blocks ``(0, 1), (2, 3), ...`` are added in
pairs and an odd one out is carried to the next level unchanged
(:func:`pair_levels`). :func:`tree_sum` applies it to a list;
:class:`TreeSum` builds the same sums from blocks arriving in id order while
holding O(log n) partial sums (a binary counter), so a streamed pass on one
machine (:func:`tree_pass`) and the Dask driver
(:mod:`fastcavi.engine.dask_driver`, which builds the tree out of tasks) give
the same statistics, bit for bit, whatever the order in which blocks finish.
"""

__all__ = ["pair_levels", "tree_sum", "TreeSum", "tree_pass"]


def pair_levels(n):
    """The pairings of the tree over ``n`` leaves, level by level.

    Parameters
    ----------
    n : int
        Number of leaves (>= 1).

    Returns
    -------
    list of list of tuple
        One list per level; ``(i, j)`` adds nodes i and j of the level below
        (i + 1 == j), ``(i,)`` carries node i up unchanged. The last level has
        one node, the root.
    """
    if n < 1:
        raise ValueError(f"a tree needs at least one leaf, got {n}")
    levels = []
    while n > 1:
        level = [(i, i + 1) for i in range(0, n - 1, 2)]
        if n % 2:
            level.append((n - 1,))
        levels.append(level)
        n = len(level)
    return levels


def tree_sum(parts, add=None):
    """Sum ``parts`` (in id order) by the tree of :func:`pair_levels`.

    Parameters
    ----------
    parts : sequence
        Summands with ``+`` (e.g. :class:`fastcavi.engine.Stats`).
    add : callable, optional
        ``add(a, b)``; default ``a + b``.

    Returns
    -------
    object
        The root.
    """
    add = (lambda a, b: a + b) if add is None else add  # noqa: E731
    nodes = list(parts)
    for level in pair_levels(len(nodes)):
        nodes = [add(nodes[p[0]], nodes[p[1]]) if len(p) == 2 else nodes[p[0]] for p in level]
    return nodes[0]


class TreeSum:
    """The sum of :func:`tree_sum`, built from summands pushed in id order.

    A stack of (height, partial sum): a pushed leaf merges with the partial
    below it while the two have the same height; :meth:`result` then folds
    what is left from the right. This is the tree of :func:`pair_levels`
    (an odd node carried up a level is the one that merges with its left
    neighbour at the next height), with O(log n) partial sums held.
    """

    def __init__(self, add=None):
        self._add = (lambda a, b: a + b) if add is None else add  # noqa: E731
        self._stack = []

    def push(self, part):
        """Add the next summand (id order)."""
        height, node = 0, part
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            node = self._add(left, node)
            height += 1
        self._stack.append((height, node))

    def result(self):
        """The root (raises ValueError if nothing was pushed)."""
        if not self._stack:
            raise ValueError("no summands were pushed")
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = self._add(left, node)
        return node


def tree_pass(model, source, g, locals_, **step_args):
    """One pass's statistics summed by the fixed tree (a ``local_pass`` for ``run_cavi``).

    Every block in id order, as :func:`fastcavi.engine.run_cavi`'s default pass,
    but summed as the Dask driver sums them, so that ``run_cavi(...,
    local_pass=tree_pass)`` equals
    :func:`fastcavi.engine.dask_driver.run_cavi_dask` bit for bit.
    Holds one block and O(log n_blocks) partial sums at a time.

    Parameters
    ----------
    model : Model
    source : sequence of blocks or Streamed
    g : object
    locals_ : local-state store
    **step_args
        Passed to ``model.local_step`` (e.g. ``for_step``).

    Returns
    -------
    Stats
    """
    acc = TreeSum()
    b = -1
    for block in source:  # (not enumerate(): see drivers._local_pass)
        b += 1
        local = model.init_local(block, g, locals_[b])
        stats, local = model.local_step(block, g, local, **step_args)
        locals_[b] = local
        block = local = None
        acc.push(stats)
        stats = None
    return acc.result()
