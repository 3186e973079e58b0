"""The model protocol the drivers run, and additive statistics.

Every fastcavi model is conditionally conjugate (Hoffman, Blei, Wang & Paisley
2013, JMLR 14, section 2): global variational parameters ``g``, local ones per
data item, and expected sufficient statistics that add up over blocks of data.
A model is therefore a small object with the steps below; the loops that call
them live once, in :mod:`fastcavi.engine.drivers`.

A model knows arrays and kernels, not scikit-learn: estimators validate input,
build a model, call a driver and publish attributes.
"""

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Model", "Stats"]


class Stats:
    """Additive expected sufficient statistics: named arrays and floats.

    The property the drivers rely on is additivity: the statistics of the union
    of two blocks are the sum of theirs (to rounding), so blocks can be visited
    in any partition and summed in a fixed order (by block id), and a minibatch
    stands for the whole data set once multiplied by ``n_total / n_batch``
    (Hoffman et al. 2013, eq. 23).

    Parameters
    ----------
    **parts : ndarray or float
        The statistics, by name (e.g. ``sstats`` of shape (K, V) and
        ``doc_bound`` for LDA). A part may also be any object with ``+`` (the
        statistic of the union of two blocks), ``* c`` (of the weights scaled
        by ``c``) and ``__array__`` (for :meth:`allclose`), such as a moment
        summary merged exactly by a pairwise update
        (:class:`fastcavi.mixture.steps.Scatter`).

    Raises
    ------
    TypeError
        Adding statistics with different names.
    """

    __slots__ = ("_parts",)

    def __init__(self, **parts):
        self._parts = parts

    def __getitem__(self, name):
        return self._parts[name]

    def __contains__(self, name):
        return name in self._parts

    def keys(self):
        """Names of the statistics."""
        return self._parts.keys()

    def __add__(self, other):
        if not isinstance(other, Stats):
            return NotImplemented
        if self._parts.keys() != other._parts.keys():
            raise TypeError(
                f"cannot add statistics with names {sorted(self._parts)} and {sorted(other._parts)}")
        return Stats(**{k: v + other._parts[k] for k, v in self._parts.items()})

    def add_into(self, other):
        """Add ``other`` to these statistics, in place where a part allows it.

        An ndarray part that is writable and of the sum's shape and dtype is
        updated in place (``np.add(a, b, out=a)``: the same numbers as
        ``a + b``, bit for bit); any other part is replaced by the sum. A
        driver sums a pass's statistics this way, block after block, without
        a new (n_topics, n_words) array per block, for a model whose
        ``local_step`` returns arrays that nothing else holds
        (``Model.fresh_stats``).

        Parameters
        ----------
        other : Stats

        Returns
        -------
        Stats
            ``self``.

        Raises
        ------
        TypeError
            Adding statistics with different names.
        """
        if not isinstance(other, Stats):
            raise TypeError(f"cannot add {type(other).__name__} to Stats")
        if self._parts.keys() != other._parts.keys():
            raise TypeError(
                f"cannot add statistics with names {sorted(self._parts)} and {sorted(other._parts)}")
        for k, v in self._parts.items():
            o = other._parts[k]
            if (isinstance(v, np.ndarray) and isinstance(o, np.ndarray) and v.flags.writeable
                    and v.shape == np.broadcast_shapes(v.shape, o.shape)
                    and v.dtype == np.result_type(v, o)):
                np.add(v, o, out=v)
            else:
                self._parts[k] = v + o
        return self

    def scaled(self, c):
        """The statistics multiplied by ``c`` (a minibatch standing for the data set).

        Parameters
        ----------
        c : float

        Returns
        -------
        Stats
        """
        return Stats(**{k: v * c for k, v in self._parts.items()})

    def allclose(self, other, rtol=1e-12, atol=0.0):
        """Whether every statistic equals ``other``'s to the given tolerance.

        Parameters
        ----------
        other : Stats
        rtol, atol : float
            As :func:`numpy.allclose`.

        Returns
        -------
        bool
        """
        return (self._parts.keys() == other._parts.keys()
                and all(np.allclose(v, other._parts[k], rtol=rtol, atol=atol)
                        for k, v in self._parts.items()))

    def __repr__(self):
        shapes = {k: getattr(v, "shape", "scalar") for k, v in self._parts.items()}
        return f"Stats({shapes})"


@runtime_checkable
class Model(Protocol):
    """What a driver needs of a model (structural: no base class to inherit).

    ``G`` is the model's global state (an immutable-by-convention object: a
    step returns a new one), ``L`` a block's local state, ``S`` its
    :class:`Stats`.

    Attributes
    ----------
    static_stats : bool
        True when the statistics do not depend on the global state (VB linear
        regression's X^T X): the batch driver then computes them once.
    fresh_stats : bool, optional
        True when ``local_step`` returns statistics whose arrays nothing else
        holds, so that the batch driver may sum a pass's blocks into the
        first one's (:meth:`Stats.add_into`) instead of allocating a sum per
        block; False if absent.
    elbo_before_step : bool, optional
        True when ``elbo`` describes the state the local pass read, not the
        state after the global step (VB logistic regression: its local pass
        optimises the Jaakkola-Jordan variational parameters for the current
        q(w)). The batch driver then evaluates before stepping and calls
        ``local_step(block, g, local, for_step=...)``; False if absent.

    Methods
    -------
    init_local(block, g, previous) -> L or None
        The local state a pass starts from; ``previous`` is the block's local
        state after the last pass (None on the first), e.g. LDA's gamma drawn
        afresh in scikit-learn's order, or kept for a warm start.
    local_step(block, g, local) -> (S, L)
        The hot loop (the kernels do it): the block's expected statistics
        under q with global state ``g``, and its updated local state.
    global_step(g, stats, scale=1.0, rho=1.0) -> G
        The global update from statistics scaled by ``scale``; ``rho = 1`` is
        the CAVI update, ``rho < 1`` a Robbins-Monro step on the natural
        parameters (Hoffman et al. 2013, eq. 26).
    elbo(g_prev, g, stats) -> float
        The ELBO in nats, every constant included, of the state the pass
        reports (a model says whether that is before or after its global step).
    """

    static_stats: bool

    def init_local(self, block: Any, g: Any, previous: Any) -> Any: ...

    def local_step(self, block: Any, g: Any, local: Any) -> tuple: ...

    def global_step(self, g: Any, stats: Stats, scale: float = 1.0, rho: float = 1.0) -> Any: ...

    def elbo(self, g_prev: Any, g: Any, stats: Stats) -> float: ...
