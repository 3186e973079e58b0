"""The ``fastcavi`` command-line tool.

Commands
--------
``fastcavi lda [INPUT] [options]``
    Fit latent Dirichlet allocation to a corpus (the bundled State of the
    Union addresses by default), print a report and write the topics, the
    topic-word and document-topic matrices and a JSON summary to a folder.
``fastcavi gmm [INPUT] [options]``
    Fit a Bayesian Gaussian mixture to a numeric table (scikit-learn's
    bundled handwritten digits by default) and write its parameters, labels
    and a JSON summary to a folder (:mod:`fastcavi.cli_gmm`).
``fastcavi info``
    Version, kernel backends, OpenMP and Numba threading status, CPU count.

Errors in the input or the options print one line,
``fastcavi: error: <message>``, on stderr and exit with status 2; an
interrupt (Ctrl-C) exits with status 130. Neither leaves partial output.

This module only parses arguments, calls the library and writes files; all
numerical work is done by :class:`fastcavi.LatentDirichletAllocation`,
:mod:`fastcavi.datasets` and :mod:`fastcavi.metrics`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import secrets
import shutil
import sys
import time
from pathlib import Path

__all__ = ["main", "build_parser", "run_lda", "run_info"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: Files written to the output folder by ``fastcavi lda``.
OUTPUT_FILES = ("topics.txt", "topic_word.npz", "vocabulary.txt", "doc_topic.csv",
                "summary.json")
#: Files written by ``fastcavi gmm`` (see :mod:`fastcavi.cli_gmm`).
GMM_OUTPUT_FILES = ("parameters.npz", "labels.csv", "summary.json")
#: An existing output folder is replaced only if it holds nothing but these.
FASTCAVI_OUTPUT_FILES = frozenset(OUTPUT_FILES + GMM_OUTPUT_FILES)

#: Fraction of each held-out document's tokens that is scored in the
#: document-completion perplexity (the rest is used to infer theta).
COMPLETION_HELD_OUT_FRACTION = 0.5


class UsageError(Exception):
    """Bad input or options: reported as one line, exit status 2."""


# --------------------------------------------------------------------------
# Argument parsing
# --------------------------------------------------------------------------


class _ArgumentParser(argparse.ArgumentParser):
    """ArgumentParser whose errors raise :class:`UsageError` (no usage dump)."""

    def error(self, message):
        raise UsageError(message)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _nonnegative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _seed(text):
    value = _nonnegative_int(text)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"must be below 2**32, got {text!r}")
    return value


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("must not be 0 (use -1 for all cores)")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def _test_fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}") from None
    if not (0.0 <= value < 1.0):
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text!r}")
    return value


def build_parser():
    """The argument parser of the ``fastcavi`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        Errors raise :class:`UsageError` instead of exiting.
    """
    from . import __version__

    parser = _ArgumentParser(
        prog="fastcavi",
        description="Fast mean-field variational inference: fit topic models and "
        "Bayesian mixtures from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"fastcavi {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    lda = sub.add_parser(
        "lda",
        help="fit latent Dirichlet allocation and report topics and perplexities",
        description="Fit latent Dirichlet allocation (CAVI or stochastic VI) to a corpus, "
        "print the topics, held-out and training perplexity, ELBO and timings, and write "
        "topics.txt, topic_word.npz, vocabulary.txt, doc_topic.csv and summary.json to "
        "the output folder.",
        epilog="Exit status: 0 on success, 2 for bad input or options (one line on stderr, "
        "no output written), 130 if interrupted.",
    )
    lda.add_argument(
        "input", nargs="?", metavar="INPUT",
        help="corpus to fit: a UCI docword.<name>.txt[.gz] file (vocabulary vocab.<name>.txt "
        "beside it, or --vocab), a .npz (scipy.sparse) or .mtx (Matrix Market) "
        "document-term count matrix, or a folder of .txt files (one document per file, "
        "English stop words removed). Default: the bundled US State of the Union corpus.",
    )
    lda.add_argument("--vocab", metavar="FILE",
                     help="vocabulary file, one term per line, for a count-matrix INPUT")
    lda.add_argument("--unit", choices=("paragraph", "sentence", "speech"), default=None,
                     help="document unit of the bundled corpus (default: paragraph); "
                     "only without INPUT")
    lda.add_argument("-k", "--n-components", type=_positive_int, default=20, metavar="K",
                     help="number of topics (default: %(default)s)")
    lda.add_argument("--max-iter", type=_positive_int, default=20, metavar="N",
                     help="passes over the training documents (default: %(default)s)")
    lda.add_argument("--learning-method", choices=("batch", "online"), default="batch",
                     help="batch: coordinate ascent (CAVI); online: stochastic VI on "
                     "minibatches (default: %(default)s)")
    lda.add_argument("--batch-size", type=_positive_int, default=128, metavar="N",
                     help="documents per minibatch for --learning-method online "
                     "(default: %(default)s)")
    lda.add_argument("--backend", choices=("auto", "cython", "numba", "numpy"), default="auto",
                     help="kernel implementation (default: %(default)s, the fastest available)")
    lda.add_argument("--n-jobs", type=_n_jobs, default=-1, metavar="N",
                     help="threads; -1 means all cores, -2 all but one (default: %(default)s)")
    lda.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                     help="floating-point precision of the fit (default: %(default)s)")
    lda.add_argument("--random-state", type=_seed, default=0, metavar="SEED",
                     help="seed for the initialisation and the train/test split "
                     "(default: %(default)s)")
    lda.add_argument("--test-fraction", type=_test_fraction, default=0.1, metavar="F",
                     help="fraction of documents held out at random for the "
                     "document-completion perplexity; 0 disables it (default: %(default)s)")
    lda.add_argument("--e-step-init", choices=("random", "warm"), default="random",
                     help="start of each pass's per-document optimisation: random as "
                     "scikit-learn, or warm (true CAVI, monotone ELBO) (default: %(default)s)")
    lda.add_argument("--learn-prior", choices=("none", "symmetric", "asymmetric"),
                     default="none",
                     help="learn the document-topic prior alpha by maximising the ELBO "
                     "(default: %(default)s)")
    lda.add_argument("--doc-topic-prior", type=_positive_float, default=None, metavar="ALPHA",
                     help="document-topic Dirichlet prior alpha (default: 1/K)")
    lda.add_argument("--topic-word-prior", type=_positive_float, default=None, metavar="ETA",
                     help="topic-word Dirichlet prior eta (default: 1/K)")
    lda.add_argument("--top-words", type=_positive_int, default=10, metavar="N",
                     help="words listed per topic (default: %(default)s)")
    lda.add_argument("-o", "--output", default="fastcavi-output", metavar="DIR",
                     help="output folder; an existing one is replaced only if the run "
                     "succeeds and it holds nothing but earlier fastcavi output "
                     "(default: %(default)s)")
    lda.add_argument("-q", "--quiet", action="store_true",
                     help="no progress bar on stderr")
    lda.set_defaults(handler=run_lda)

    from .cli_gmm import add_parser as add_gmm_parser

    add_gmm_parser(sub)

    info = sub.add_parser(
        "info", help="show version, kernel backends and threading",
        description="Show the fastcavi version, the available kernel backends, whether the "
        "Cython extension was built with OpenMP, the Numba threading layer and the CPU count.",
    )
    info.set_defaults(handler=run_info)
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


# --------------------------------------------------------------------------
# fastcavi lda
# --------------------------------------------------------------------------


def run_lda(args):
    """Run ``fastcavi lda``: load, split, fit, evaluate, report, write.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of the ``lda`` command.

    Returns
    -------
    status : int
        0 on success.

    Raises
    ------
    UsageError
        For bad input (unreadable or malformed corpus, inconsistent options).
    """
    import numpy as np

    from . import LatentDirichletAllocation
    from .datasets import CorpusError
    from .engine import effective_threads
    from .metrics import document_completion_perplexity

    output = Path(args.output)
    _check_output_location(output)
    _check_option_combinations(args)
    _check_backend(args.backend)

    t_start = time.perf_counter()
    try:
        corpus, source = _load(args)
    except (CorpusError, FileNotFoundError, TypeError) as exc:
        raise UsageError(exc) from None
    load_seconds = time.perf_counter() - t_start

    train_idx, test_idx = _split_documents(corpus.n_documents, args.test_fraction,
                                           args.random_state)
    X_train = corpus.X[train_idx].astype(args.dtype)
    X_test = corpus.X[test_idx]
    if test_idx.size and np.any(X_test.data != np.round(X_test.data)):
        raise UsageError(
            f"{source}: the held-out perplexity needs whole-number counts; "
            "use --test-fraction 0 for fractional counts")

    lda = LatentDirichletAllocation(
        n_components=args.n_components,
        doc_topic_prior=args.doc_topic_prior,
        topic_word_prior=args.topic_word_prior,
        learning_method=args.learning_method,
        max_iter=args.max_iter,
        batch_size=args.batch_size,
        n_jobs=args.n_jobs,
        random_state=args.random_state,
        backend=args.backend,
        learn_doc_topic_prior=False if args.learn_prior == "none" else args.learn_prior,
        e_step_init=args.e_step_init,
        progress_bar=not args.quiet,
    )
    _print_corpus(corpus, source, train_idx, test_idx, args)

    t0 = time.perf_counter()
    lda.fit(X_train)
    fit_seconds = time.perf_counter() - t0
    # The rest of fit_transform(X_train): proportions of the training documents.
    t0 = time.perf_counter()
    doc_topic = lda.transform(X_train)
    transform_seconds = time.perf_counter() - t0

    heldout_perplexity = None
    eval_seconds = 0.0
    if test_idx.size:
        t0 = time.perf_counter()
        try:
            heldout_perplexity = document_completion_perplexity(
                lda, X_test, held_out_fraction=COMPLETION_HELD_OUT_FRACTION,
                random_state=args.random_state)
        except ValueError as exc:  # e.g. held-out documents too short to split
            raise UsageError(f"cannot compute the held-out perplexity: {exc}") from None
        eval_seconds = time.perf_counter() - t0

    n_train_tokens = float(X_train.sum(dtype=np.float64))
    n_threads = effective_threads(args.n_jobs)
    topics = lda.top_words(args.top_words, corpus.vocabulary)
    throughput = n_train_tokens * lda.n_iter_ / fit_seconds if fit_seconds > 0 else None

    results = {
        "heldout_perplexity": heldout_perplexity,
        "training_perplexity": lda.bound_,
        "elbo": lda.elbo_,
        "elbo_history": list(lda.elbo_history_),
        "n_iter": int(lda.n_iter_),
        "doc_topic_prior": _jsonable(lda.doc_topic_prior_),
        "topic_word_prior": float(lda.topic_word_prior_),
        "throughput_tokens_per_second": throughput,
    }
    timings = {
        "load_seconds": load_seconds,
        "fit_seconds": fit_seconds,
        "transform_seconds": transform_seconds,
        "heldout_eval_seconds": eval_seconds,
        "total_seconds": time.perf_counter() - t_start,
    }
    _print_results(topics, results, timings, lda.backend_, n_threads, args)

    summary = {
        "command": "lda",
        "parameters": {
            "input": args.input,
            "vocab": args.vocab,
            "unit": args.unit if args.input is not None else (args.unit or "paragraph"),
            "n_components": args.n_components,
            "max_iter": args.max_iter,
            "learning_method": args.learning_method,
            "batch_size": args.batch_size,
            "backend": args.backend,
            "n_jobs": args.n_jobs,
            "dtype": args.dtype,
            "random_state": args.random_state,
            "test_fraction": args.test_fraction,
            "completion_held_out_fraction": COMPLETION_HELD_OUT_FRACTION,
            "learn_prior": args.learn_prior,
            "doc_topic_prior": args.doc_topic_prior,
            "topic_word_prior": args.topic_word_prior,
            "top_words": args.top_words,
            "estimator": {k: _jsonable(v) for k, v in lda.get_params().items()},
        },
        "corpus": {
            "source": source,
            "description": corpus.description,
            "n_documents": corpus.n_documents,
            "n_words": corpus.n_words,
            "n_tokens": corpus.n_tokens,
            "n_train_documents": int(train_idx.size),
            "n_test_documents": int(test_idx.size),
            "n_train_tokens": n_train_tokens,
            "test_documents": [_doc_id(corpus, i) for i in test_idx],
        },
        "results": results,
        "timings": timings,
        "runtime": {**_versions(), "backend": lda.backend_, "threads": n_threads,
                    "cpu_count": os.cpu_count()},
    }
    _write_output(output, lambda folder: _write_files(
        folder, lda, corpus, train_idx, doc_topic, topics, summary))
    print(f"output: {output}{os.sep}")
    return EXIT_OK


def _check_option_combinations(args):
    if args.input is None and args.vocab is not None:
        raise UsageError("--vocab needs an INPUT count matrix or docword file")
    if args.input is not None and args.unit is not None:
        raise UsageError("--unit applies only to the bundled corpus (no INPUT)")


def _check_backend(name, model="lda"):
    """UsageError unless backend ``name`` of kernel family ``model`` can be used."""
    from .kernels import available_backends, get_backend

    try:
        get_backend(name, model)
    except ImportError as exc:  # e.g. the Cython extension was not compiled
        raise UsageError(
            f"--backend {name} is not available ({exc}); available: "
            f"{', '.join(available_backends(model))}") from None


def _load(args):
    """The corpus and a one-line description of where it came from."""
    from .datasets import load_corpus

    if args.input is None:
        unit = args.unit or "paragraph"
        return load_corpus(unit=unit), f"bundled State of the Union corpus (unit={unit})"
    path = Path(args.input)
    kw = {"stop_words": "english"} if path.is_dir() else {}
    return load_corpus(path, vocab_path=args.vocab, **kw), str(path)


def _split_documents(n_documents, test_fraction, seed):
    """Indices (sorted) of training and held-out documents."""
    import numpy as np

    if test_fraction == 0:
        return np.arange(n_documents), np.arange(0)
    if n_documents < 2:
        raise UsageError(
            f"the corpus has {n_documents} document; holding out documents needs at least 2 "
            "(use --test-fraction 0)")
    n_test = min(max(int(round(test_fraction * n_documents)), 1), n_documents - 1)
    perm = np.random.RandomState(seed).permutation(n_documents)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _doc_id(corpus, i):
    return corpus.documents[i] if corpus.documents is not None else str(int(i))


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


# --------------------------------------------------------------------------
# Report on stdout
# --------------------------------------------------------------------------


def _print_corpus(corpus, source, train_idx, test_idx, args):
    print(f"corpus: {corpus.n_documents:,} documents, {corpus.n_words:,} words, "
          f"{corpus.n_tokens:,.0f} tokens")
    print(f"source: {source}")
    if test_idx.size:
        print(f"split: {train_idx.size:,} training documents, {test_idx.size:,} held out "
              f"(--test-fraction {args.test_fraction:g}, seed {args.random_state})")
    else:
        print(f"split: all {train_idx.size:,} documents used for training (no held-out set)")
    sys.stdout.flush()  # before the progress bar appears on stderr


def _print_results(topics, results, timings, backend, n_threads, args):
    width = len(str(len(topics) - 1))
    print()
    print(f"topics (top {args.top_words} words, most probable first):")
    for k, words in enumerate(topics):
        print(f"  {k:>{width}}  {' '.join(words)}")
    print()
    if results["heldout_perplexity"] is None:
        print("held-out perplexity: not computed (--test-fraction 0)")
    else:
        print(f"held-out perplexity: {results['heldout_perplexity']:.2f} "
              f"(document completion, natural log, "
              f"{COMPLETION_HELD_OUT_FRACTION:.0%} of each held-out document's tokens scored)")
    print(f"training perplexity: {results['training_perplexity']:.2f} (bound_)")
    print(f"final ELBO: {results['elbo']:.6g} nats")
    n_iter = results["n_iter"]
    print(f"fit wall time: {timings['fit_seconds']:.2f} s ({n_iter} pass"
          f"{'es' if n_iter != 1 else ''}, {args.learning_method})")
    if results["throughput_tokens_per_second"] is not None:
        print(f"throughput: {results['throughput_tokens_per_second']:,.0f} tokens/s "
              "(training tokens x passes / fit wall time)")
    print(f"backend: {backend}, {n_threads} thread{'s' if n_threads != 1 else ''}, "
          f"{args.dtype}")


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


def _write_files(folder, lda, corpus, train_idx, doc_topic, topics, summary):
    import numpy as np

    with open(folder / "topics.txt", "w", encoding="utf-8", newline="\n") as f:
        for k, words in enumerate(topics):
            f.write(f"{k}\t{' '.join(words)}\n")

    lam = lda.components_
    np.savez(folder / "topic_word.npz",
             topic_word=lam / lam.sum(axis=1, keepdims=True),
             components=lam)

    with open(folder / "vocabulary.txt", "w", encoding="utf-8", newline="\n") as f:
        for term in corpus.vocabulary:
            f.write(f"{term}\n")

    with open(folder / "doc_topic.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["document"] + [f"topic_{k}" for k in range(doc_topic.shape[1])])
        for i, row in zip(train_idx, doc_topic):
            writer.writerow([_doc_id(corpus, i)] + [f"{p:.9g}" for p in row])

    with open(folder / "summary.json", "w", encoding="utf-8", newline="\n") as f:
        json.dump(_jsonable(summary), f, indent=2, allow_nan=False)
        f.write("\n")


# --------------------------------------------------------------------------
# fastcavi info
# --------------------------------------------------------------------------


def _versions():
    """Versions of Python, fastcavi and its numerical dependencies."""
    import numpy
    import scipy
    import sklearn

    from . import __version__

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


def _openmp_status():
    try:
        from ._ext import _lda
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

    Returns
    -------
    status : int
        0.
    """
    from .engine import effective_threads
    from .kernels import available_backends, get_backend

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
