"""``fastcavi shard``: write a corpus as shards on disk, for corpora larger than memory.

Reads anything ``fastcavi lda`` reads (a UCI ``docword.<name>.txt[.gz]``, a
``.npz`` or ``.mtx`` count matrix, a folder of ``.txt`` files) and writes a
:class:`fastcavi.datasets.ShardedCorpus` folder, which ``fastcavi lda``
accepts as its INPUT. The work is :func:`fastcavi.datasets.shard_corpus`'s:
UCI and Matrix Market bodies are read in chunks, text folders in two
passes, and the folder appears complete or not at all.
"""

from __future__ import annotations

import time

from ._common import EXIT_OK, UsageError, _argument_type, _positive_int

__all__ = ["add_parser", "run_shard"]


def _df(text):
    """A document-frequency bound as CountVectorizer takes it: an int count or a float fraction."""
    try:
        value = int(text)
    except ValueError:
        value = float(text)
        if not 0.0 <= value <= 1.0:
            raise ValueError
    if value < 0:
        raise ValueError
    return value


_df_bound = _argument_type("_df_bound", _df, "a whole number of documents or a fraction in "
                           "[0, 1]")


def add_parser(sub):
    """Add the ``shard`` command to the sub-command parsers of ``fastcavi``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        As returned by ``parser.add_subparsers``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The ``shard`` parser; its ``handler`` default is :func:`run_shard`.
    """
    from ..datasets import DEFAULT_SHARD_DOCS

    parser = sub.add_parser(
        "shard", help="write a corpus as shards on disk (for corpora larger than memory)",
        description="Write a corpus as a folder of shards (memory-mapped CSR arrays and a "
        "JSON manifest) that `fastcavi lda` reads one shard at a time. UCI and Matrix Market "
        "files are read in chunks; their entries must be sorted by document.",
        epilog="Exit status: 0 on success, 2 for bad input or options (one line on stderr, "
        "nothing written), 130 if interrupted (nothing written).",
    )
    parser.add_argument("input", metavar="INPUT",
                        help="a UCI docword.<name>.txt[.gz] file (vocabulary vocab.<name>.txt "
                        "beside it, or --vocab), a .npz or .mtx count matrix, or a folder of "
                        ".txt files (one document per file)")
    parser.add_argument("output", metavar="OUT", help="the corpus folder to create (must not "
                        "exist)")
    parser.add_argument("--shard-docs", type=_positive_int, default=DEFAULT_SHARD_DOCS,
                        metavar="N", help="documents per shard (default: %(default)s)")
    parser.add_argument("--vocab", metavar="FILE",
                        help="vocabulary file, one term per line, for a count-matrix INPUT")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="dtype the counts are stored in (default: %(default)s)")
    parser.add_argument("--min-df", type=_df_bound, default=1, metavar="DF",
                        help="text folder: keep words in at least DF documents (a fraction "
                        "if below 1) (default: %(default)s)")
    parser.add_argument("--max-df", type=_df_bound, default=1.0, metavar="DF",
                        help="text folder: keep words in at most DF documents (a fraction "
                        "if at most 1.0) (default: %(default)s)")
    parser.add_argument("--stop-words", choices=("english", "none"), default="english",
                        help="text folder: stop words removed, as `fastcavi lda` does "
                        "(default: %(default)s)")
    parser.set_defaults(handler=run_shard)
    return parser


def run_shard(args):
    """Run ``fastcavi shard``: write INPUT as a sharded corpus at OUT.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of the ``shard`` command.

    Returns
    -------
    status : int
        0 on success.

    Raises
    ------
    UsageError
        For bad input (unreadable or malformed corpus, an existing OUT,
        options that do not apply).
    """
    from pathlib import Path

    from ..datasets import CorpusError, shard_corpus

    path = Path(args.input)
    text = path.is_dir()
    if not text and (args.min_df != 1 or args.max_df != 1.0 or args.stop_words != "english"):
        raise UsageError("--min-df, --max-df and --stop-words apply to a folder of .txt files")
    kw = {}
    if text:
        kw = dict(min_df=args.min_df, max_df=args.max_df,
                  stop_words=None if args.stop_words == "none" else args.stop_words)
    t0 = time.perf_counter()
    try:
        corpus = shard_corpus(path, args.output, args.vocab, shard_docs=args.shard_docs,
                              dtype=args.dtype, **kw)
    except (CorpusError, OSError, TypeError) as exc:
        raise UsageError(exc) from None
    seconds = time.perf_counter() - t0
    print(f"corpus: {corpus.n_documents:,} documents, {corpus.n_words:,} words, "
          f"{corpus.nnz:,} non-zeros, {corpus.n_tokens:,.0f} tokens")
    print(f"wrote {len(corpus.shards)} shard{'s' if len(corpus.shards) != 1 else ''} of at most "
          f"{args.shard_docs:,} documents ({corpus.dtype.name} counts) to {corpus.path} "
          f"in {seconds:.2f} s")
    return EXIT_OK
