"""The ``fastcavi`` command-line tool.

Commands
--------
``fastcavi lda [INPUT] [options]``
    Fit latent Dirichlet allocation to a corpus (the bundled State of the
    Union addresses by default), print a report and write the topics, the
    topic-word and document-topic matrices and a JSON summary to a folder
    (:mod:`fastcavi.cli.lda`).
``fastcavi gmm [INPUT] [options]``
    Fit a Bayesian Gaussian mixture to a numeric table (scikit-learn's
    bundled handwritten digits by default) and write its parameters, labels
    and a JSON summary to a folder (:mod:`fastcavi.cli.gmm`).
``fastcavi shard INPUT OUT [--shard-docs N]``
    Write a corpus (anything ``fastcavi lda`` reads) as a folder of shards on
    disk, which ``fastcavi lda`` then reads one shard at a time
    (:mod:`fastcavi.cli.shard`).
``fastcavi info``
    Version, kernel backends, OpenMP and Numba threading status, CPU count
    (:mod:`fastcavi.cli.info`).

Errors in the input or the options print one line,
``fastcavi: error: <message>``, on stderr and exit with status 2; an
interrupt (Ctrl-C) exits with status 130. Neither leaves partial output.

Each subcommand module has ``add_parser(sub)``, which adds its parser and sets
its ``handler``; what they share (exit statuses, :class:`UsageError`, argument
types, the all-or-nothing output writer) is in :mod:`fastcavi.cli._common`,
which imports none of them.
"""

from __future__ import annotations

import argparse
import sys

from . import gmm, info, lda, shard
# the public names of the former fastcavi/cli.py stay importable from fastcavi.cli
from ._common import (  # noqa: F401
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    FASTCAVI_OUTPUT_FILES,
    GMM_OUTPUT_FILES,
    OUTPUT_FILES,
    UsageError,
)
from .info import run_info
from .lda import COMPLETION_HELD_OUT_FRACTION, run_lda  # noqa: F401

__all__ = ["main", "build_parser", "run_lda", "run_info"]

#: The subcommand modules, in the order ``fastcavi --help`` lists them.
_COMMANDS = (lda, gmm, shard, info)


class _ArgumentParser(argparse.ArgumentParser):
    """ArgumentParser whose errors raise :class:`UsageError` (no usage dump)."""

    def error(self, message):
        raise UsageError(message)


def build_parser():
    """The argument parser of the ``fastcavi`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        Errors raise :class:`UsageError` instead of exiting.
    """
    from .. import __version__

    parser = _ArgumentParser(
        prog="fastcavi",
        description="Fast mean-field variational inference: fit topic models and "
        "Bayesian mixtures from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"fastcavi {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv=None):
    """Entry point of the ``fastcavi`` console script.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 2 for bad input or options, 130 if interrupted.
    """
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        return args.handler(args)
    except UsageError as exc:
        _error(exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fastcavi: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _error(message):
    text = " ".join(str(message).split()) or "unknown error"
    print(f"fastcavi: error: {text}", file=sys.stderr)
