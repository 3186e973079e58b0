"""``fastcavi lda``: fit latent Dirichlet allocation from the command line.

Fits :class:`fastcavi.LatentDirichletAllocation` to a corpus (the bundled
State of the Union addresses by default), prints the topics, the held-out
and training perplexity, the ELBO and timings, and writes the topics, the
topic-word and document-topic matrices and a JSON summary to an output
folder, all or nothing.

A sharded corpus (a folder written by ``fastcavi shard``) is read one shard at
a time: the held-out documents are the same ones as for the corpus in memory
(views of the shards), and the training documents' proportions go to a
temporary folder shard by shard before ``doc_topic.csv`` is written from it.

All numerical work is done by :class:`fastcavi.LatentDirichletAllocation`,
:mod:`fastcavi.datasets` and :mod:`fastcavi.metrics`.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
import time
from pathlib import Path

from ._common import (
    EXIT_OK,
    UsageError,
    _add_compute_options,
    _add_fit_command,
    _add_output_options,
    _argument_type,
    _check_backend,
    _check_output_location,
    _dump_json,
    _jsonable,
    _positive_float,
    _positive_int,
    _versions,
    _write_output,
)

__all__ = ["add_parser", "run_lda", "COMPLETION_HELD_OUT_FRACTION"]

#: Fraction of each held-out document's tokens that is scored in the
#: document-completion perplexity (the rest is used to infer theta).
COMPLETION_HELD_OUT_FRACTION = 0.5


_test_fraction = _argument_type(
    "_test_fraction", float, "a number in [0, 1)",
    (lambda v: 0.0 <= v < 1.0, "must be in [0, 1), got {text!r}"))


def add_parser(sub):
    """Add the ``lda`` command to the sub-command parsers of ``fastcavi``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        As returned by ``parser.add_subparsers``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The ``lda`` parser; its ``handler`` default is :func:`run_lda`.
    """
    lda = _add_fit_command(
        sub, "lda", run_lda,
        help="fit latent Dirichlet allocation and report topics and perplexities",
        description="Fit latent Dirichlet allocation (CAVI or stochastic VI) to a corpus, "
        "print the topics, held-out and training perplexity, ELBO and timings, and write "
        "topics.txt, topic_word.npz, vocabulary.txt, doc_topic.csv and summary.json to "
        "the output folder.",
        input_help="corpus to fit: a UCI docword.<name>.txt[.gz] file (vocabulary "
        "vocab.<name>.txt beside it, or --vocab), a .npz (scipy.sparse) or .mtx (Matrix "
        "Market) document-term count matrix, a folder of .txt files (one document per "
        "file, English stop words removed), or a sharded corpus folder (`fastcavi shard`), "
        "read one shard at a time. Default: the bundled US State of the Union corpus.",
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
    _add_compute_options(
        lda, n_jobs_help="threads; -1 means all cores, -2 all but one (default: %(default)s)",
        seed_help="seed for the initialisation and the train/test split (default: %(default)s)")
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
    _add_output_options(lda)
    return lda


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

    from .. import LatentDirichletAllocation
    from ..datasets import CorpusError, ShardedCorpus
    from ..engine import effective_threads
    from ..lda.data import read_doc_topic
    from ..metrics import document_completion_perplexity

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
    sharded = isinstance(corpus, ShardedCorpus)
    if sharded:
        # the same documents as in memory, read shard by shard (views count their tokens,
        # which checks every shard's files)
        try:
            X_train = corpus.view(train_idx if test_idx.size else None, dtype=args.dtype)
            X_test = corpus.view(test_idx) if test_idx.size else None
        except CorpusError as exc:
            raise UsageError(exc) from None
        fractional = test_idx.size and not corpus.integer_counts
    else:
        X_train = corpus.X[train_idx].astype(args.dtype)
        X_test = corpus.X[test_idx]
        fractional = test_idx.size and np.any(X_test.data != np.round(X_test.data))
    if fractional:
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

    # (a sharded corpus's shards are checked as they are read: a changed file stops the run)
    scratch = tempfile.TemporaryDirectory(prefix="fastcavi-doc-topic-") if sharded else None
    try:
        t0 = time.perf_counter()
        lda.fit(X_train)
        fit_seconds = time.perf_counter() - t0
        # The rest of fit_transform(X_train): proportions of the training documents.
        t0 = time.perf_counter()
        if sharded:  # shard by shard to disk, then read memory-mapped into doc_topic.csv
            doc_topic = read_doc_topic(lda.transform(X_train, out=Path(scratch.name) / "parts"),
                                       mmap_mode="r")
        else:
            doc_topic = [lda.transform(X_train)]
        transform_seconds = time.perf_counter() - t0

        heldout_perplexity = None
        eval_seconds = 0.0
        if test_idx.size:
            t0 = time.perf_counter()
            try:
                heldout_perplexity = document_completion_perplexity(
                    lda, X_test, held_out_fraction=COMPLETION_HELD_OUT_FRACTION,
                    random_state=args.random_state)
            except CorpusError:
                raise
            except ValueError as exc:  # e.g. held-out documents too short to split
                raise UsageError(f"cannot compute the held-out perplexity: {exc}") from None
            eval_seconds = time.perf_counter() - t0
    except CorpusError as exc:
        raise UsageError(exc) from None

    n_train_tokens = X_train.n_tokens if sharded else float(X_train.sum(dtype=np.float64))
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
    doc_topic = None
    if scratch is not None:
        scratch.cleanup()
    print(f"output: {output}{os.sep}")
    return EXIT_OK


def _check_option_combinations(args):
    from ..datasets import is_sharded_corpus

    if args.input is None and args.vocab is not None:
        raise UsageError("--vocab needs an INPUT count matrix or docword file")
    if args.vocab is not None and is_sharded_corpus(args.input):
        raise UsageError("--vocab does not apply to a sharded corpus (it has its vocabulary)")
    if args.input is not None and args.unit is not None:
        raise UsageError("--unit applies only to the bundled corpus (no INPUT)")


def _load(args):
    """The corpus and a one-line description of where it came from."""
    from ..datasets import ShardedCorpus, is_sharded_corpus, load_corpus

    if args.input is None:
        unit = args.unit or "paragraph"
        return load_corpus(unit=unit), f"bundled State of the Union corpus (unit={unit})"
    path = Path(args.input)
    if is_sharded_corpus(path):
        corpus = ShardedCorpus(path)
        corpus.documents  # (read and checked now: the output names the documents by them)
        return corpus, f"{path} (sharded corpus, {len(corpus.shards)} shards)"
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
# Output files
# --------------------------------------------------------------------------


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
        writer.writerow(["document"] + [f"topic_{k}" for k in range(lda.n_components)])
        rows = (row for part in doc_topic for row in part)  # the parts, one after the other
        for i, row in zip(train_idx, rows):
            writer.writerow([_doc_id(corpus, i)] + [f"{p:.9g}" for p in row])

    with open(folder / "summary.json", "w", encoding="utf-8", newline="\n") as f:
        _dump_json(summary, f)
