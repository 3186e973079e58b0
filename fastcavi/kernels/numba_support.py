"""What every family's Numba kernels share: the fast-math flag set and the thread count.

- :data:`FASTMATH`, the LLVM flag set {"reassoc", "contract", "arcp", "nsz"}:
  it lets reductions (dot products) vectorise while keeping NaN/inf semantics
  (full ``fastmath=True`` would assume no NaN);
- :class:`set_threads`, the context manager every Numba backend runs its
  ``prange`` loops in.

Importing this module imports Numba; the registry (:mod:`fastcavi.kernels`)
does not, so fastcavi imports without Numba.
"""

import numba

__all__ = ["FASTMATH", "set_threads"]

#: LLVM fast-math flags of the kernels: no ``nnan``/``ninf``, so NaN and inf propagate
FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


class set_threads:
    """Context manager running Numba kernels on ``n`` threads, then restoring.

    Parameters
    ----------
    n : int
        Number of threads, clipped to ``[1, numba.config.NUMBA_NUM_THREADS]``
        (Numba can only lower its thread count below that launch value).
    """

    def __init__(self, n):
        self.n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))

    def __enter__(self):
        self._old = numba.get_num_threads()
        numba.set_num_threads(self.n)
        self._old_chunk = numba.set_parallel_chunksize(1)  # dynamic, chunk by chunk
        return self

    def __exit__(self, *exc):
        numba.set_parallel_chunksize(self._old_chunk)
        numba.set_num_threads(self._old)
        return False
