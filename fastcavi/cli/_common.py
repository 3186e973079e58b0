"""What the subcommands of ``fastcavi`` share.

The exit statuses and :class:`UsageError`, the argument types, the parser
and options both fitting commands have, the backend check, JSON conversion,
the versions reported in every summary, and the all-or-nothing output
writer (:func:`_check_output_location`, :func:`_write_output`). Subcommand
modules import from here; this module imports none of them, nor the package
``fastcavi.cli`` itself.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import shutil
import sys

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: Files written to the output folder by ``fastcavi lda`` (:mod:`fastcavi.cli.lda`).
OUTPUT_FILES = ("topics.txt", "topic_word.npz", "vocabulary.txt", "doc_topic.csv",
                "summary.json")
#: Files written by ``fastcavi gmm`` (:mod:`fastcavi.cli.gmm`).
GMM_OUTPUT_FILES = ("parameters.npz", "labels.csv", "summary.json")
#: An existing output folder is replaced only if it holds nothing but these.
FASTCAVI_OUTPUT_FILES = frozenset(OUTPUT_FILES + GMM_OUTPUT_FILES)


class UsageError(Exception):
    """Bad input or options: reported as one line, exit status 2."""


# --------------------------------------------------------------------------
# Argument types
# --------------------------------------------------------------------------


def _argument_type(name, convert, kind, *checks):
    """An argparse ``type`` that converts its text and checks the value.

    Parameters
    ----------
    name : str
        The name of the type (its ``__name__``).
    convert : callable
        ``int`` or ``float``; if it raises ValueError, the error is
        ``must be <kind>, got '<text>'``.
    kind : str
        What the text must be, e.g. ``"a positive integer"``.
    *checks : (callable, str)
        ``(accept, message)`` pairs, tried in order: unless ``accept(value)``,
        the error is ``message``, in which ``{text!r}`` stands for the text.

    Returns
    -------
    parse : callable
        ``parse(text)``: the value, or :class:`argparse.ArgumentTypeError`.
    """
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {kind}, got {text!r}") from None
        for accept, message in checks:
            if not accept(value):
                raise argparse.ArgumentTypeError(message.format(text=text))
        return value

    parse.__name__ = parse.__qualname__ = name
    return parse


_positive_int = _argument_type(
    "_positive_int", int, "a positive integer",
    (lambda v: v >= 1, "must be a positive integer, got {text!r}"))
_seed = _argument_type(
    "_seed", int, "a non-negative integer",
    (lambda v: v >= 0, "must be a non-negative integer, got {text!r}"),
    (lambda v: v < 2**32, "must be below 2**32, got {text!r}"))
_n_jobs = _argument_type(
    "_n_jobs", int, "an integer", (lambda v: v != 0, "must not be 0 (use -1 for all cores)"))
_positive_float = _argument_type(
    "_positive_float", float, "a positive number",
    (lambda v: math.isfinite(v) and v > 0, "must be a positive finite number, got {text!r}"))


# --------------------------------------------------------------------------
# Options of both fitting commands (lda, gmm)
# --------------------------------------------------------------------------


def _add_fit_command(sub, name, handler, *, help, description, input_help):
    """Add a fitting command, with its optional ``INPUT``, to the sub-command parsers.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        As returned by ``parser.add_subparsers``.
    name : str
        The command, ``"lda"`` or ``"gmm"``.
    handler : callable
        ``handler(args)`` runs the command and returns the exit status.
    help, description, input_help : str
        Its line in ``fastcavi --help``, the text atop its own ``--help``, and
        the help of ``INPUT``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The command's parser, for its options; the exit statuses are its epilog.
    """
    parser = sub.add_parser(
        name, help=help, description=description,
        epilog="Exit status: 0 on success, 2 for bad input or options (one line on stderr, "
        "no output written), 130 if interrupted.",
    )
    parser.add_argument("input", nargs="?", metavar="INPUT", help=input_help)
    parser.set_defaults(handler=handler)
    return parser


def _add_compute_options(parser, n_jobs_help, seed_help):
    """Add ``--backend``, ``--n-jobs``, ``--dtype`` and ``--random-state`` to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The parser of one fitting command.
    n_jobs_help, seed_help : str
        The help of ``--n-jobs`` and of ``--random-state``.
    """
    parser.add_argument("--backend", choices=("auto", "cython", "numba", "numpy"),
                        default="auto", help="kernel implementation (default: %(default)s, "
                        "the fastest available)")
    parser.add_argument("--n-jobs", type=_n_jobs, default=-1, metavar="N", help=n_jobs_help)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="floating-point precision of the fit (default: %(default)s)")
    parser.add_argument("--random-state", type=_seed, default=0, metavar="SEED",
                        help=seed_help)


def _add_output_options(parser):
    """Add ``-o/--output`` (for :func:`_write_output`) and ``-q/--quiet`` to ``parser``."""
    parser.add_argument("-o", "--output", default="fastcavi-output", metavar="DIR",
                        help="output folder; an existing one is replaced only if the run "
                        "succeeds and it holds nothing but earlier fastcavi output "
                        "(default: %(default)s)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar on stderr")


# --------------------------------------------------------------------------
# Checks, JSON and versions
# --------------------------------------------------------------------------


def _check_backend(name, model="lda"):
    """UsageError unless backend ``name`` of kernel family ``model`` can be used."""
    from ..kernels import available_backends, get_backend

    try:
        get_backend(name, model)
    except ImportError as exc:  # e.g. the Cython extension was not compiled
        raise UsageError(
            f"--backend {name} is not available ({exc}); available: "
            f"{', '.join(available_backends(model))}") from None


def _jsonable(value):
    """A JSON-friendly copy: arrays to lists, numpy scalars to Python, non-finite to None."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _dump_json(value, f):
    """Write ``_jsonable(value)`` to the open text file ``f``, indented, newline-terminated."""
    json.dump(_jsonable(value), f, indent=2, allow_nan=False)
    f.write("\n")


def _versions():
    """Versions of Python, fastcavi and its numerical dependencies."""
    import numpy
    import scipy
    import sklearn

    from .. import __version__

    versions = {
        "python": platform.python_version(),
        "fastcavi": __version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }
    try:
        import numba
        versions["numba"] = numba.__version__
    except ImportError:
        versions["numba"] = None
    return versions


# --------------------------------------------------------------------------
# Output folder
# --------------------------------------------------------------------------


def _check_output_location(output):
    """Fail early (before any fitting) if the output folder cannot be written."""
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} exists and is not a folder")
    if output.is_dir():
        # Replacing the folder deletes it: only do so if it holds nothing but
        # the files of an earlier run (never the current folder or the data).
        foreign = sorted(p.name for p in output.iterdir()
                         if p.name not in FASTCAVI_OUTPUT_FILES)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise UsageError(
                f"--output {output} exists and holds files fastcavi did not write ({shown}); "
                "choose a new or empty folder")
    parent = output.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"--output {output}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--output {output}: folder {parent} is not writable")


def _write_output(output, write_files):
    """Write every output file into a temporary folder, then swap it into place.

    ``write_files(folder)`` writes the files into ``folder``, a new hidden
    sibling of ``output`` (the same file system, so each move below is one
    atomic rename). Whatever is raised at whichever step (an OSError, a
    KeyboardInterrupt), ``output`` afterwards holds either the complete
    previous results or the complete new ones:

    1. the files are written into the temporary folder;
    2. an existing ``output`` is renamed to a backup folder beside it;
    3. the temporary folder is renamed to ``output``;
    4. the backup is deleted, only now that the new results are in place.

    If anything fails before step 3 is done, step 2 is undone. The temporary
    and backup folders are removed in every case (a removal that is itself
    interrupted is finished before the interrupt goes on), except that if
    undoing step 2 fails too, the previous results are left in the backup
    folder and its path is printed.

    Raises
    ------
    UsageError
        If a folder cannot be created, written or renamed (an OSError).
    """
    output = output.absolute()
    # Named before anything is created, so that cleaning up never depends on how far the
    # call got; the names (pid and a random token) are fastcavi's own.
    tmp, backup = _sibling_path(output, "tmp"), _sibling_path(output, "old")
    try:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
        except OSError as exc:
            raise UsageError(f"cannot create the output folder {output}: "
                             f"{exc.strerror or exc}") from None
        write_files(tmp)
        if output.exists():
            os.replace(output, backup)
        os.replace(tmp, output)
    except BaseException as exc:
        if not output.exists() and backup.exists():
            _put_back(backup, output)
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write the output folder {output}: "
                             f"{exc.strerror or exc}") from None
        raise
    finally:
        # the backup goes only once output holds the previous results again or the new ones
        _remove_folders(tmp, *([backup] if output.exists() else []))


def _put_back(backup, output):
    """Rename the previous results back to ``output``; if that fails, say where they are.

    Called while an exception propagates, which goes on either way.
    """
    try:
        os.replace(backup, output)
    except BaseException:
        print(f"fastcavi: the previous contents of {output} are in {backup}", file=sys.stderr)


def _remove_folders(*folders):
    """Delete temporary folders; if interrupted, finish deleting them, then re-raise."""
    try:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
    except BaseException:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _sibling_path(output, tag):
    """A new hidden name next to ``output``, for a temporary or backup folder."""
    return output.with_name(f".{output.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}")
