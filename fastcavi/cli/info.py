"""``fastcavi info``: version, kernel backends, OpenMP and Numba threading, CPU count."""

from __future__ import annotations

import os
import platform

from ._common import EXIT_OK, _versions

__all__ = ["add_parser", "run_info"]


def add_parser(sub):
    """Add the ``info`` command to the sub-command parsers of ``fastcavi``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        As returned by ``parser.add_subparsers``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The ``info`` parser; its ``handler`` default is :func:`run_info`.
    """
    info = sub.add_parser(
        "info", help="show version, kernel backends and threading",
        description="Show the fastcavi version, the available kernel backends, whether the "
        "Cython extension was built with OpenMP, the Numba threading layer and the CPU count.",
    )
    info.set_defaults(handler=run_info)
    return info


def _openmp_status():
    try:
        from .._ext import _lda
    except ImportError:
        return "Cython extension not built"
    enabled = getattr(_lda, "OPENMP_ENABLED", None)
    if enabled is None:
        return "unknown (extension does not report it)"
    return "enabled" if enabled else "disabled (compiled without OpenMP)"


def _numba_threading():
    """Numba's threading layer (initialised by a tiny parallel function) and threads."""
    try:
        import numba
    except ImportError:
        return "Numba not installed"

    @numba.njit(parallel=True)
    def _touch(n):  # runs the parallel backend once so the layer is chosen
        total = 0
        for i in numba.prange(n):
            total += i
        return total

    try:
        _touch(4)
        layer = numba.threading_layer()
    except Exception as exc:  # no usable threading layer: report, do not fail
        layer = f"unavailable ({' '.join(str(exc).split())[:80]})"
    return f"threading layer {layer}, {numba.get_num_threads()} threads"


def run_info(args):
    """Run ``fastcavi info``: print version and runtime capabilities.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of the ``info`` command (it has none).

    Returns
    -------
    status : int
        0.
    """
    from ..engine import effective_threads
    from ..kernels import available_backends, get_backend

    versions = _versions()
    print(f"fastcavi {versions['fastcavi']} (Python {versions['python']}, "
          f"{platform.platform()})")
    print("dependencies: " + ", ".join(
        f"{name} {v}" for name, v in versions.items()
        if name not in ("python", "fastcavi") and v is not None))
    print(f"backends available: {', '.join(available_backends())} "
          f"(auto selects {get_backend('auto').name})")
    print(f"cython extension OpenMP: {_openmp_status()}")
    print(f"numba: {_numba_threading()}")
    print(f"CPU count: {os.cpu_count()} (--n-jobs -1 uses {effective_threads(-1)} threads)")
    return EXIT_OK
