"""The drivers: batch CAVI and stochastic VI, written once for every model.

Both iterate a *block source* (:mod:`fastcavi.engine.sources`): any
re-iterable sequence of blocks (for data in memory, one block holding
everything, so the kernels' own chunking keeps the results bit-identical
whatever the thread count), or a :class:`~fastcavi.engine.sources.Streamed`
source that opens each block (a shard on disk) only when the pass reaches it
and holds one at a time. Each block's local state between passes lives in a
*local-state store*: a list in memory by default, or one that keeps nothing
or spills to disk.

- :func:`run_cavi`: passes of ``local_step`` over every block (statistics summed
  in block order), one ``global_step`` with rho = 1 (the CAVI update; Bishop
  PRML 10.1.1), the ELBO, a stop rule. With ``svi=`` each pass is instead an
  epoch of stochastic steps (scikit-learn's ``learning_method="online"``).
- :func:`run_svi`: one epoch of stochastic VI (Hoffman, Blei, Wang & Paisley
  2013, Algorithm 1): per block, local step, then a Robbins-Monro step on the
  global parameters with the block's statistics scaled to the data set.
"""

import math
from dataclasses import dataclass, field
from typing import Any

from .schedules import robbins_monro_rate
from .sources import as_source
from .stopping import CONTINUE, STOP, STOP_UNCOUNTED, Never

__all__ = ["PassRecord", "FitResult", "RobbinsMonro", "Cancelled", "Resume", "stop_state",
           "run_cavi", "run_svi"]


class Cancelled(Exception):
    """A fit stopped before a pass because its ``cancel`` event was set.

    Raised by :func:`run_cavi` for a fit that another one's failure abandoned
    (:func:`fastcavi.engine.parallel.map_threads`); it never reaches the
    estimator's caller, who sees the failure that set the event.
    """


@dataclass
class PassRecord:
    """What a stop rule and a monitor see of one pass.

    Attributes
    ----------
    index : int
        0-based pass number.
    elbo : float
        The model's ELBO for the pass, in nats.
    g_prev, g : object
        Global state before and after the pass.
    stats : Stats
        The pass's statistics (summed over blocks).
    changed : bool
        The post-step changed the model's shape (e.g. pruned components).
    g_step : object
        Global state after the global step and before the post-step: the state
        ``elbo`` describes (``g`` itself when the post-step changed nothing).
        A rule that evaluates a bound of its own (the mixture's scikit-learn
        lower bound) reads this one, since ``g`` may have pruned components
        that ``stats`` still has.
    """

    index: int
    elbo: float
    g_prev: Any
    g: Any
    stats: Any
    changed: bool = False
    g_step: Any = None


@dataclass
class FitResult:
    """The outcome of :func:`run_cavi`.

    Attributes
    ----------
    g : object
        Global state after the last pass.
    g_prev : object
        Global state before the last pass's global step. (A model with
        ``elbo_before_step`` has ``g`` itself evaluated last: see
        :func:`_run_evaluate_first`.)
    n_iter : int
        Passes counted (a pass a rule stops with STOP_UNCOUNTED is not).
    converged : bool
        Whether the stop rule fired before ``max_iter``.
    elbo_history : list of float
        The ELBO of every pass run, in nats.
    locals : list or local-state store
        Each block's local state after the last pass: the ``locals_`` store
        :func:`run_cavi` was given (by default a list).
    """

    g: Any
    g_prev: Any
    n_iter: int
    converged: bool
    elbo_history: list = field(default_factory=list)
    locals: list = field(default_factory=list)


class RobbinsMonro:
    """Step sizes rho_t = (tau_0 + t) ** -kappa and the minibatch scale.

    Parameters
    ----------
    learning_offset : float
        tau_0.
    learning_decay : float
        kappa (in (0.5, 1] for convergence).
    total : float
        Size of the data set a minibatch stands for; a block of ``m`` items
        has its statistics scaled by ``total / m``.
    t : int, default=1
        Index of the next step (scikit-learn's ``n_batch_iter_``).
    """

    def __init__(self, learning_offset, learning_decay, total, t=1):
        self.learning_offset = learning_offset
        self.learning_decay = learning_decay
        self.total = float(total)
        self.t = int(t)

    def rho(self):
        """The step size of the next step (Hoffman et al. 2013, eq. 26)."""
        return robbins_monro_rate(self.learning_offset, self.t, self.learning_decay)


def _check_elbo(elbo, index):
    if not math.isfinite(elbo):
        raise FloatingPointError(
            f"the ELBO became {elbo} at pass {index + 1}: a kernel produced a non-finite "
            "value (check the data's scale and the priors)")


def _local_pass(model, source, g, locals_, **step_args):
    """Statistics of every block under ``g``, summed in block order.

    Each block (and its local state) is let go before the next is opened, so
    a streamed source holds one block at a time; the sum goes into the first
    block's statistics when the model returns fresh ones (``fresh_stats``),
    with the same numbers as ``+``.
    """
    total = None
    in_place = getattr(model, "fresh_stats", False)
    b = -1
    for block in source:  # (not enumerate(), whose reused tuple would keep the last block)
        b += 1
        local = model.init_local(block, g, locals_[b])
        stats, local = model.local_step(block, g, local, **step_args)
        locals_[b] = local
        block = local = None
        if total is None:
            total = stats
        elif in_place:
            total.add_into(stats)
        else:
            total = total + stats
        stats = None
    return total


def _run_evaluate_first(model, blocks, g, locals_, max_iter, stop, monitor, on_pass, cancel,
                        local_pass=_local_pass, resume=None, after_pass=None):
    """:func:`run_cavi` for a model whose ELBO is that of the state its local pass read.

    Such a model (``elbo_before_step = True``: VB logistic regression, whose
    local pass sets the Jaakkola-Jordan xi_n to their optimum for the current
    q(w), PRML eq. 10.163, and returns the data term there) is evaluated
    before each global step: pass i reads the state after i global steps, the
    stop rule decides, and only then does the global step run. So the state
    returned is always one whose complete ELBO was evaluated, ``n_iter``
    counts global steps (at most ``max_iter``, after which one more pass
    evaluates the last state, with ``local_step(..., for_step=False)`` so the
    model may skip what only a global step needs), and the monitor reports
    pass i >= 1 as the state after step i (pass 0 evaluates the initial state).
    A checkpoint (``after_pass``) is taken after each global step, so a
    resumed fit starts with the pass that evaluates the state it saved.
    """
    history = []
    g_prev = g
    n_iter = 0
    start = 0
    if resume is not None:
        start, g, g_prev = resume.index, resume.g, resume.g_prev
        history, n_iter = list(resume.elbo_history), resume.n_iter
    for i in range(start, max_iter + 1):
        _check_cancel(cancel)
        stats = local_pass(model, blocks, g, locals_, for_step=i < max_iter)
        elbo = float(model.elbo(g, g, stats))
        _check_elbo(elbo, i)
        history.append(elbo)
        if monitor is not None and i > 0:
            monitor.end_pass(i - 1, elbo)
        record = PassRecord(i, elbo, g_prev, g, stats, False, g)
        if on_pass is not None:
            on_pass(record)
        if stop(record) != CONTINUE or i == max_iter:
            break
        record = None
        g_prev = g
        g = model.global_step(g, stats)
        stats = None
        n_iter += 1
        if after_pass is not None:
            after_pass(Resume(i + 1, g, g_prev, list(history), n_iter, stop_state(stop)))
    return FitResult(g, g_prev, n_iter, stop.converged, history, locals_)


def run_svi(model, source, g, schedule, locals_=None):
    """One epoch of stochastic VI: a Robbins-Monro step after every block.

    Parameters
    ----------
    model : Model
        Must also have ``n_items(block) -> int`` (the block's size).
    source : sequence of blocks or Streamed
    g : object
        Global state to start from.
    schedule : RobbinsMonro
        Advanced by one per block.
    locals_ : list or local-state store, optional
        Per-block local state carried across epochs (modified in place);
        default a new list.

    Returns
    -------
    g : object
        Global state after the epoch.
    stats : Stats or None
        ``model.epoch_part(stats)`` summed over the blocks (the parts the ELBO
        needs; the whole statistics if the model has no ``epoch_part``).
    """
    blocks = as_source(source)
    if locals_ is None:
        locals_ = [None] * len(blocks)
    part = getattr(model, "epoch_part", None)
    total = None
    b = -1
    for block in blocks:  # (not enumerate(): see _local_pass)
        b += 1
        local = model.init_local(block, g, locals_[b])
        stats, local = model.local_step(block, g, local)
        locals_[b] = local
        g = model.global_step(g, stats, scale=schedule.total / model.n_items(block),
                              rho=schedule.rho())
        block = local = None  # (a streamed block goes before the next is opened)
        schedule.t += 1
        kept = stats if part is None else part(stats)
        total = kept if total is None else total + kept
    return g, total


def _check_cancel(cancel):
    if cancel is not None and cancel.is_set():
        raise Cancelled


@dataclass
class Resume:
    """Where a checkpointed :func:`run_cavi` fit stands after a completed pass.

    Attributes
    ----------
    index : int
        Passes completed (the next pass's 0-based number).
    g, g_prev : object
        Global state after the last completed pass, and before its global step.
    elbo_history : list of float
    n_iter : int
        Passes counted so far.
    stop_state : dict
        The stop rule's attributes after the pass (its non-callable ``vars``).
    """

    index: int
    g: Any
    g_prev: Any
    elbo_history: list
    n_iter: int
    stop_state: dict


def stop_state(stop):
    """A stop rule's state: its attributes that are not callables (what a checkpoint keeps)."""
    return {k: v for k, v in vars(stop).items() if not callable(v)}


def run_cavi(model, source, g, *, max_iter, stop=None, monitor=None, post_step=None,
             on_pass=None, svi=None, cancel=None, locals_=None, local_pass=None, resume=None,
             after_pass=None):
    """Passes of coordinate ascent until the stop rule or ``max_iter``.

    Parameters
    ----------
    model : Model
    source : sequence of blocks or Streamed
        Re-iterable; for data in memory, ``[block]``; for shards on disk, a
        :class:`~fastcavi.engine.sources.Streamed` source (one block opened
        at a time).
    g : object
        Initial global state (the estimator draws it: initialisation depends
        on the estimator's ``init_params`` and ``random_state``).
    max_iter : int
        At most this many passes.
    stop : StopRule, optional
        Default: :class:`~fastcavi.engine.stopping.Never`.
    monitor : PassMonitor, optional
        ``monitor.end_pass(index, elbo)`` after every pass.
    post_step : callable, optional
        ``post_step(g, stats) -> (g, changed)`` after every pass but the last
        (e.g. pruning empty mixture components).
    on_pass : callable, optional
        ``on_pass(record)`` after every pass, before the stop rule (e.g.
        scikit-learn's verbose lines).
    svi : RobbinsMonro, optional
        Make each pass an epoch of :func:`run_svi` instead of one CAVI step.
    cancel : threading.Event, optional
        Checked before every pass: once set, the fit raises :class:`Cancelled`.
    locals_ : list or local-state store, optional
        Where each block's local state is kept between passes (one entry per
        block, None until its first visit); default a new list in memory.
        :class:`~fastcavi.engine.sources.DiscardLocals` keeps none (a model
        that starts each pass afresh), :class:`~fastcavi.engine.sources.SpillLocals`
        keeps them on disk. Returned as ``FitResult.locals``.
    local_pass : callable, optional
        ``local_pass(model, blocks, g, locals_, **step_args) -> Stats``: one
        pass's statistics under ``g`` (default: every block in turn, summed in
        block order). :func:`fastcavi.engine.dask_driver.run_cavi_dask` maps
        the blocks over a Dask cluster this way.
    resume : Resume, optional
        Continue a fit from a completed pass (its checkpoint) instead of
        starting from ``g``: the stop rule gets the saved state instead of
        ``start()``.
    after_pass : callable, optional
        ``after_pass(Resume)`` after every completed pass that the fit goes on
        from (not after the last), e.g. to write a checkpoint; evaluate-first,
        after every global step. Local states are not part of a
        :class:`Resume`: a resumed fit starts each block from
        ``init_local(block, g, previous)`` with the store it is given.

    Returns
    -------
    FitResult

    Raises
    ------
    FloatingPointError
        The ELBO became NaN or infinite (the estimator's fit transaction then
        leaves the previous model in place).
    ValueError
        ``svi`` given for a model with ``elbo_before_step``, or with
        ``local_pass``.
    Cancelled
        ``cancel`` was set.

    Notes
    -----
    A model with ``elbo_before_step = True`` is run evaluate-first (see
    :func:`_run_evaluate_first`): its ELBO describes the state the pass read,
    and ``post_step`` is not used.
    """
    stop = Never() if stop is None else stop
    if resume is None:
        stop.start()
    else:
        vars(stop).update(resume.stop_state)
    if svi is not None and local_pass is not None:
        raise ValueError("svi and local_pass cannot be combined: a stochastic epoch steps after "
                         "every block")
    local_pass = _local_pass if local_pass is None else local_pass
    blocks = as_source(source)
    if locals_ is None:
        locals_ = [None] * len(blocks)
    elif len(locals_) != len(blocks):
        raise ValueError(f"locals_ has {len(locals_)} entries for {len(blocks)} blocks")
    if getattr(model, "elbo_before_step", False):
        if svi is not None:
            raise ValueError("a model that evaluates its ELBO before the global step has no "
                             "stochastic-VI driver (svi must be None)")
        return _run_evaluate_first(model, blocks, g, locals_, max_iter, stop, monitor, on_pass,
                                   cancel, local_pass, resume, after_pass)
    history = []
    n_iter = 0
    g_prev = g
    start = 0
    if resume is not None:
        start, g, g_prev = resume.index, resume.g, resume.g_prev
        history, n_iter = list(resume.elbo_history), resume.n_iter
    static = None
    for i in range(start, max_iter):
        _check_cancel(cancel)
        g_prev = g
        if svi is not None:
            g, stats = run_svi(model, blocks, g, svi, locals_)
        else:
            if static is not None:
                stats = static
            else:
                stats = local_pass(model, blocks, g, locals_)
                if getattr(model, "static_stats", False):
                    static = stats
            g = model.global_step(g, stats)
        elbo = float(model.elbo(g_prev, g, stats))
        _check_elbo(elbo, i)
        changed = False
        g_step = g
        if post_step is not None and i + 1 < max_iter:
            g, changed = post_step(g, stats)
        record = PassRecord(i, elbo, g_prev, g, stats, changed, g_step)
        history.append(elbo)
        if monitor is not None:
            monitor.end_pass(i, elbo)
        if on_pass is not None:
            on_pass(record)
        decision = stop(record)
        # let the pass's statistics and the state before it go before the next pass
        # (for LDA, three arrays of n_topics x n_words that a pass no longer needs)
        record = stats = None
        if decision == STOP_UNCOUNTED:
            break
        n_iter += 1
        if decision == STOP:
            break
        if after_pass is not None and i + 1 < max_iter:
            after_pass(Resume(i + 1, g, g_prev, list(history), n_iter, stop_state(stop)))
    return FitResult(g, g_prev, n_iter, stop.converged, history, locals_)
