"""The Dask driver: :func:`fastcavi.engine.run_cavi` with the local step mapped over a cluster.

Dask is an optional extra (``pip install "fastcavi[dask]"``): this is the only
module of fastcavi that imports it, and only when a function here is called;
nothing imports this module at module level.

One iteration (issue 11):

1. the global state is scattered to the cluster once (``client.scatter``; the
   model, which does not change during a fit, once per fit);
2. one task per block reads the block on the worker, ``open_block(item)``
   (the item, e.g. a shard's path, is all that is shipped from the client),
   and runs the model's local step there;
3. the blocks' statistics are summed by tasks on the workers in the fixed
   tree of :func:`fastcavi.engine.reduce.pair_levels`, keyed by block id, so
   only the root (one set of statistics) comes back to the client, and the
   sum does not depend on which worker ran what or in which order blocks
   finished;
4. the global step, the ELBO and the stop rule run on the client.

So a fit depends on the data, the blocks, the initial state and the settings,
not on the number of workers or threads or on timing: it equals, bit for bit,
``run_cavi(..., local_pass=tree_pass)`` on one machine
(:func:`fastcavi.engine.reduce.tree_pass`).

A lost worker costs time, never the result: the scheduler reruns its tasks
elsewhere (``distributed.scheduler.allowed-failures`` times, then
``KilledWorker``), and when the global state or the model was lost with it
(scattered data has no lineage to recompute it from) the driver scatters it
again and resubmits the pass. A checkpoint path receives the state after each
completed pass (written to a temporary file, then renamed), from which a fit
whose client died resumes with the same result.

Threads: run workers as processes with one thread each
(``LocalCluster(processes=True, threads_per_worker=1)``, ``dask worker
--nthreads 1``) and give the kernels the worker's cores through the model's
thread count (the estimators' ``n_jobs``). Numba's default "workqueue"
threading layer is not thread-safe (numba #8563): two tasks running parallel
Numba kernels in one process can crash it. Tasks here therefore take a
process-wide lock around the local step, so a worker with more threads is
safe but runs one local step at a time.
"""

import os
import pickle
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from .drivers import Resume, run_cavi
from .reduce import pair_levels
from .sources import DiscardLocals

__all__ = ["run_cavi_dask", "run_svi_dask", "current_client", "Checkpoint", "load_checkpoint",
           "save_checkpoint", "NO_CLIENT_MESSAGE"]

NO_CLIENT_MESSAGE = (
    "scheduler='dask' runs the fit on the current dask.distributed Client, and there is none. "
    "Start one first, e.g. `from dask.distributed import Client; client = Client()` for a "
    "LocalCluster on this machine, or `Client('tcp://scheduler-address:8786')` for a running "
    "cluster; see the README's 'On a Dask cluster'.")

#: one local step at a time per worker process (Numba's workqueue layer, numba #8563)
_KERNEL_LOCK = threading.Lock()


def current_client(client=None):
    """The Dask client a fit runs on: ``client`` if given, else ``distributed.get_client()``.

    Parameters
    ----------
    client : distributed.Client, optional

    Returns
    -------
    distributed.Client

    Raises
    ------
    ImportError
        dask.distributed is not installed (``pip install "fastcavi[dask]"``).
    RuntimeError
        No client was given and none is running (:data:`NO_CLIENT_MESSAGE`).
    """
    if client is not None:
        return client
    try:
        import distributed
    except ImportError as e:  # pragma: no cover - CI installs the extra
        raise ImportError('scheduler="dask" needs dask.distributed: '
                          'pip install "fastcavi[dask]"') from e
    try:
        return distributed.get_client()
    except ValueError as e:
        raise RuntimeError(NO_CLIENT_MESSAGE) from e


@dataclass
class Checkpoint:
    """What a checkpoint file holds.

    Attributes
    ----------
    resume : Resume
        The fit after its last completed pass.
    extra : object
        Whatever the caller asked to keep beside it (an estimator's random
        state, for instance).
    """

    resume: Resume
    extra: Any = None


def save_checkpoint(path, checkpoint):
    """Write ``checkpoint`` to ``path`` atomically (a temporary file beside it, then a rename).

    A reader sees the previous checkpoint or this one, never part of one.
    """
    path = os.fspath(path)
    partial = f"{path}.partial-{os.getpid()}"
    with open(partial, "wb") as f:
        pickle.dump(checkpoint, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def load_checkpoint(path):
    """The :class:`Checkpoint` in ``path`` (a pickle: load only files you wrote)."""
    with open(os.fspath(path), "rb") as f:
        checkpoint = pickle.load(f)
    if not isinstance(checkpoint, Checkpoint):
        raise ValueError(f"{path} is not a fastcavi checkpoint")
    return checkpoint


# ---- the tasks (module-level functions, pickled by reference) -----------------------------


def _local_task(model, open_block, item, g, previous, step_args, started=False, keep=True):
    block = open_block(item)
    with _KERNEL_LOCK:
        local = previous if started else model.init_local(block, g, previous)
        stats, local = model.local_step(block, g, local, **step_args)
    size = model.n_items(block) if hasattr(model, "n_items") else None
    # a local state nobody keeps is dropped here, not carried into the tree's sums
    return stats, local if keep else None, size


def _stats(node):
    return node[0] if isinstance(node, tuple) else node


def _add(a, b):
    return _stats(a) + _stats(b)


def _local(leaf):
    return leaf[1]


def _lost_errors():
    from concurrent.futures import CancelledError as FuturesCancelled
    from asyncio import CancelledError as AsyncCancelled

    import distributed
    errors = [FuturesCancelled, AsyncCancelled]
    for name in ("FutureCancelledError", "FuturesCancelledError"):
        cls = getattr(distributed.client, name, None)
        if isinstance(cls, type):
            errors.append(cls)
    return tuple(errors)


class _DaskPass:
    """A ``local_pass`` for :func:`run_cavi` that maps the blocks over a Dask cluster."""

    def __init__(self, client, items, open_block, retries, max_resends):
        self.client = client
        self.items = tuple(items)
        self.open_block = open_block
        self.retries = retries
        self.max_resends = max_resends
        self.token = uuid.uuid4().hex
        self.n_pass = 0
        self.resends = 0
        self._model = None
        self._lost = _lost_errors()

    def __call__(self, model, blocks, g, locals_, ids=None, leaf=False, **step_args):
        """The statistics of blocks ``ids`` (default: all) under ``g``, tree-summed.

        With ``leaf`` (one block id), the block's ``(stats, local, n_items)``.
        """
        ids = range(len(self.items)) if ids is None else ids
        keep = not isinstance(locals_, DiscardLocals)
        self.n_pass += 1
        starts = {b: locals_[b] if keep else None for b in ids}
        started = hasattr(model, "start_local")
        if started:  # drawn once a pass, here, in block order, as a one-machine pass draws them
            starts = {b: model.start_local(self.items[b], g, starts[b]) for b in ids}
        last = None
        for attempt in range(self.max_resends + 1):
            try:
                return self._once(model, g, locals_, keep, attempt, step_args, starts, started,
                                  leaf)
            except self._lost as e:  # scattered data lost with a worker: send it again
                last = e
                self._model = None
                self.resends += 1
        raise RuntimeError(f"pass {self.n_pass}: the cluster lost the scattered global state "
                           f"{self.max_resends + 1} times") from last

    def _once(self, model, g, locals_, keep, attempt, step_args, starts, started, leaf):
        client = self.client
        # (in a list: a tuple or list scattered alone would be scattered element-wise)
        if self._model is None:
            self._model = client.scatter([model], hash=False)[0]
        g_f = client.scatter([g], hash=False)[0]
        prefix = f"fastcavi-{self.token}-{self.n_pass}-{attempt}"
        ids = list(starts)
        nodes = [client.submit(_local_task, self._model, self.open_block, self.items[b], g_f,
                               starts[b], step_args, started, keep,
                               key=f"{prefix}-local-{b}", retries=self.retries, pure=False)
                 for b in ids]
        if leaf:
            stats, local, size = nodes[0].result()
            if keep:
                locals_[ids[0]] = local
            return stats, size
        leaves = nodes
        for h, level in enumerate(pair_levels(len(nodes))):
            nodes = [client.submit(_add, nodes[p[0]], nodes[p[1]], key=f"{prefix}-sum-{h}-{k}",
                                   retries=self.retries, pure=False)
                     if len(p) == 2 else nodes[p[0]] for k, p in enumerate(level)]
        root = nodes[0] if len(leaves) > 1 else client.submit(
            _stats, nodes[0], key=f"{prefix}-sum", retries=self.retries, pure=False)
        stats = root.result()
        if keep:
            got = client.gather([client.submit(_local, node, key=f"{prefix}-keep-{b}",
                                               pure=False)
                                 for b, node in zip(ids, leaves)])
            for b, local in zip(ids, got):
                locals_[b] = local
        return stats


def run_cavi_dask(model, items, open_block, g, *, client=None, max_iter, stop=None,
                  monitor=None, post_step=None, on_pass=None, cancel=None, locals_=None,
                  checkpoint=None, resume=False, extra=None, retries=2, max_resends=5):
    """:func:`fastcavi.engine.run_cavi` with each pass's local steps run as Dask tasks.

    Parameters
    ----------
    model : Model
        Must pickle (it is scattered to the workers once per fit). A model
        with ``start_local(item, g, previous) -> local`` has each block's
        starting local state made on the client, from the block's item, in
        block order, and sent with its task (LDA: gamma drawn from one random
        state across blocks, as on one machine); otherwise ``init_local`` runs
        on the worker.
    items : sequence
        One item per block, in block order (e.g. :class:`fastcavi.datasets.Shard`
        or a path): small and picklable, shipped to the worker that opens it.
    open_block : callable
        ``open_block(item) -> block``, run on the worker; a module-level
        function (or a :func:`functools.partial` of one) so that it pickles.
    g : object
        Initial global state.
    client : distributed.Client, optional
        Default: the current client (``distributed.get_client()``).
    max_iter, stop, monitor, post_step, on_pass, cancel
        As :func:`fastcavi.engine.run_cavi`.
    locals_ : local-state store, optional
        Default :class:`~fastcavi.engine.sources.DiscardLocals`: nothing is
        shipped back, and each block's local step starts from
        ``init_local(block, g, None)`` (right for the linear models and LDA
        with redrawn gamma). A list (or other store) keeps each block's local
        state on the client: it is sent with the block's task and gathered
        after each pass.
    checkpoint : str or path-like, optional
        After each completed pass the fit goes on from, the state to resume
        from (:class:`Checkpoint`) is written here atomically.
    resume : bool, default=False
        Start from ``checkpoint`` if that file exists (``g`` is then unused),
        with the same result as the fit that wrote it would have had, for a
        model whose local states restart each pass (the default store; the
        checkpoint holds the global state, not the local ones). A random state
        the model draws from is the caller's to keep in ``extra`` and restore.
    extra : object, optional
        Kept in every checkpoint beside the state (e.g. a random state).
    retries : int, default=2
        Retries of a task that raised (``client.submit(..., retries=...)``).
        A task whose worker died is rerun by the scheduler whatever this is.
    max_resends : int, default=5
        How many times a pass is resubmitted with the global state scattered
        again after the cluster lost it.

    Returns
    -------
    FitResult
        As :func:`run_cavi`'s; the sum over blocks is the tree of
        :func:`fastcavi.engine.reduce.pair_levels`.

    Raises
    ------
    RuntimeError
        No client given or running (the message says how to start one); the
        global state lost more than ``max_resends`` times in one pass.
    ImportError
        dask.distributed is not installed.
    ValueError
        ``resume`` without ``checkpoint``; a checkpoint file that is not one.
    Exception
        Whatever a local step raised (after ``retries``), and
        ``distributed.KilledWorker`` if a task killed its workers
        ``allowed-failures`` times; as :func:`run_cavi` otherwise.
    """
    client = current_client(client)
    items = tuple(items)
    if locals_ is None:
        locals_ = DiscardLocals(len(items))
    if resume and checkpoint is None:
        raise ValueError("resume=True needs the checkpoint path to resume from")
    start = None
    if resume and os.path.exists(checkpoint):
        start = load_checkpoint(checkpoint).resume
    after = None
    if checkpoint is not None:
        def after(state):
            save_checkpoint(checkpoint, Checkpoint(state, extra))
    local_pass = _DaskPass(client, items, open_block, retries, max_resends)
    # run_cavi iterates the source only through local_pass; a range keeps its length
    return run_cavi(model, range(len(items)), g, max_iter=max_iter, stop=stop, monitor=monitor,
                    post_step=post_step, on_pass=on_pass, cancel=cancel, locals_=locals_,
                    local_pass=local_pass, resume=start, after_pass=after)


def run_svi_dask(model, items, open_block, g, schedule, *, client=None, order=None,
                 locals_=None, retries=2, max_resends=5):
    """One epoch of stochastic VI with each block as a minibatch whose local step runs on the cluster.

    :func:`fastcavi.engine.run_svi` over the blocks in ``order``: per block,
    the global state is scattered, the block is opened and its local step run
    on a worker, and the Robbins-Monro step runs on the client. The result is
    that of ``run_svi`` over the same blocks in the same order, bit for bit.

    Parameters
    ----------
    model : Model
        With ``n_items(block)`` (evaluated on the worker).
    items, open_block
        As :func:`run_cavi_dask`.
    g : object
        Global state to start from.
    schedule : RobbinsMonro
        Advanced by one per block.
    client : distributed.Client, optional
    order : sequence of int, optional
        The blocks' order in this epoch (default: block order), e.g. shards as
        minibatches in an order drawn from a random state,
        ``check_random_state(random_state).permutation(len(items))``.
    locals_ : local-state store, optional
        As :func:`run_cavi_dask` (default: none kept).
    retries, max_resends : int
        As :func:`run_cavi_dask`.

    Returns
    -------
    g : object
        Global state after the epoch.
    stats : Stats
        ``model.epoch_part(stats)`` (or the whole statistics) summed over the
        blocks in the order visited, as :func:`run_svi`.

    Raises
    ------
    RuntimeError, ImportError
        As :func:`run_cavi_dask`.
    """
    client = current_client(client)
    items = tuple(items)
    order = range(len(items)) if order is None else [int(b) for b in order]
    if locals_ is None:
        locals_ = DiscardLocals(len(items))
    local_pass = _DaskPass(client, items, open_block, retries, max_resends)
    part = getattr(model, "epoch_part", None)
    total = None
    for b in order:
        stats, size = local_pass(model, None, g, locals_, ids=[b], leaf=True)
        g = model.global_step(g, stats, scale=schedule.total / size, rho=schedule.rho())
        schedule.t += 1
        kept = stats if part is None else part(stats)
        total = kept if total is None else total + kept
    return g, total
