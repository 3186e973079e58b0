"""Independent fits on threads: a grid of hyperparameters, the first failure stops them all.

The compiled kernels release the GIL, so independent fits of the same data
(spike-and-slab's grid over the prior log-odds, as varbvs does; Carbonetto &
Stephens 2012, section 2.3) run side by side on threads. Each fit's driver
is handed a cancel event (:func:`fastcavi.engine.run_cavi`'s ``cancel``):
when one fit fails, or the calling thread is interrupted while it waits, the
fits not started are cancelled and the running ones stop before their next
pass, so no thread outlives the call and none writes after the error.
"""

import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from .drivers import Cancelled

__all__ = ["map_threads"]


def map_threads(fit, items, workers, on_done=None):
    """``[fit(item, cancel) for item in items]`` on ``workers`` threads, in item order.

    Parameters
    ----------
    fit : callable
        ``fit(item, cancel) -> result``; ``cancel`` is a
        :class:`threading.Event` to pass to the driver (``run_cavi(...,
        cancel=cancel)``), which raises :class:`~fastcavi.engine.drivers.Cancelled`
        before its next pass once the event is set.
    items : sequence
    workers : int
        Threads (>= 1); with 1 the fits run one after the other in the
        calling thread (each still given an event that nothing sets).
    on_done : callable, optional
        ``on_done(index, result)`` as each fit finishes, in the calling
        thread (e.g. a progress bar's step).

    Returns
    -------
    results : list
        One per item, in the order of ``items``.

    Raises
    ------
    BaseException
        The first failure in item order (a ``KeyboardInterrupt`` in a worker
        included), re-raised in the calling thread once every worker has
        stopped; an interrupt of the calling thread itself likewise.
    """
    items = list(items)
    cancel = threading.Event()
    if workers <= 1:
        results = []
        for i, item in enumerate(items):
            results.append(fit(item, cancel))
            if on_done is not None:
                on_done(i, results[-1])
        return results

    def run(item):
        try:
            return fit(item, cancel)
        except BaseException:
            cancel.set()
            raise

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(run, item) for item in items]
        index = {f: i for i, f in enumerate(futures)}
        pending = set(futures)
        while pending and not cancel.is_set():
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in sorted(done, key=index.get):
                if f.exception() is None and on_done is not None:
                    on_done(index[f], f.result())
        if cancel.is_set():
            for f in futures:
                f.cancel()
            wait(futures)
            for f in futures:
                exc = None if f.cancelled() else f.exception()
                if exc is not None and not isinstance(exc, Cancelled):
                    raise exc
        return [f.result() for f in futures]
    except BaseException:
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
