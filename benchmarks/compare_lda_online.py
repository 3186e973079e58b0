"""Online LDA (stochastic VI, Hoffman et al. 2010): fastcavi against scikit-learn.

Times ``fit`` with ``learning_method="online"`` for ``--passes`` passes at each
minibatch size, scikit-learn and fastcavi on the same data, random_state and
thread count, in one process, and checks that both reach the same topics
(fastcavi follows scikit-learn's iterates). Small minibatches are where the
global step matters: after every minibatch scikit-learn recomputes
exp(E[log beta]) for the whole vocabulary, fastcavi only for the minibatch's
words (Dirichlet aggregation, ``fastcavi.lda.model.exp_topic_word_columns``).

Timed alike on both sides: from the start of ``fit`` to the end of the last
minibatch update of the last pass, through the per-pass hooks of
``compare_lda.py`` (scikit-learn: ``_em_step``, called once per minibatch;
fastcavi: the ``PassMonitor`` its fit reports each pass to). The fit is then
stopped, so the training perplexity both compute after their last pass
(``bound_``, a full E-step over the corpus: evaluation, not learning) is paid
by neither. fastcavi's pass includes its training ELBO (part of every fit),
scikit-learn computes none (``evaluate_every=-1``). Best of ``--repeat`` fits,
the two libraries interleaved. BLAS at one thread; ``--n-jobs 1 2`` adds
fastcavi with 2 threads, divided by the faster of scikit-learn's ``n_jobs=1``
and ``n_jobs=2`` (``sk n_jobs`` says which). The command line and the load
average at the start and the end are printed.

Usage::

    python benchmarks/compare_lda_online.py                       # 20 Newsgroups, K=50
    python benchmarks/compare_lda_online.py --quick               # 3,000 documents, K=20, 1-2 min
    python benchmarks/compare_lda_online.py --corpus sotu-sentence --batch-sizes 128 2000
"""

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_lda import (DEFAULT_DATA, PassLog, _hooked_fastcavi, _hooked_sklearn,  # noqa: E402
                         _run, load_data)


def _load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed_sklearn(X, n_batches, passes, **params):
    """Seconds from fit start to the end of the last minibatch update; the topics then."""
    log = PassLog(stop=lambda p, v: p >= n_batches * passes)
    est = _hooked_sklearn()(**params)
    with threadpool_limits(1):
        _run(est, X, log)
    if len(log.ends) != n_batches * passes:
        raise RuntimeError(f"scikit-learn made {len(log.ends)} updates, not {n_batches * passes}")
    return log.ends[-1], est.components_


def timed_fastcavi(X, passes, **params):
    """Seconds from fit start to the end of pass ``passes``; the topics then."""
    kept = {}

    def on_pass(p, est, lam, ebeta):
        kept["lam"] = lam.copy()

    log = PassLog(on_pass=on_pass, stop=lambda p, v: p >= passes)
    est = _hooked_fastcavi()(**params)
    with threadpool_limits(1):
        _run(est, X, log)
    if len(log.ends) != passes:
        raise RuntimeError(f"fastcavi ran {len(log.ends)} passes, not {passes}")
    return log.ends[-1], kept["lam"]


def main(argv=None):
    from sklearn.decomposition import LatentDirichletAllocation as SkLDA

    from fastcavi import LatentDirichletAllocation

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", choices=["20newsgroups", "sotu-sentence"], default="20newsgroups")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="20newsgroups folder")
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--passes", type=int, default=1)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 1024])
    p.add_argument("--backend", default="auto")
    p.add_argument("--n-jobs", type=int, nargs="+", default=[1], choices=[1, 2],
                   help="fastcavi thread counts to time (default 1)")
    p.add_argument("--repeat", type=int, default=3, help="fits per timing; the best counts")
    p.add_argument("--max-train-docs", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 3,000 documents, K=20, best of 2")
    args = p.parse_args(argv)
    if args.quick:
        args.max_train_docs = args.max_train_docs or 3000
        args.k = min(args.k, 20)
        args.repeat = min(args.repeat, 2)
    args.max_test_docs = 1
    command = "python " + shlex.join(sys.argv if argv is None else [sys.argv[0], *argv])
    load_start = _load()

    # BLAS at one thread for the whole run, never raised again between timings (see
    # compare_lda.py)
    blas_limit = threadpool_limits(1, "blas")
    X, _, desc = load_data(args)
    print(f"command: {command}")
    print(f"{desc}: {X.shape[0]} docs x {X.shape[1]} words, K={args.k}, {args.passes} pass(es), "
          f"fastcavi n_jobs {args.n_jobs}, BLAS 1 thread, best of {args.repeat}")
    print(f"load average at start: {load_start}", flush=True)
    sk_jobs = sorted({1, *args.n_jobs})
    # compile / warm up (and start scikit-learn's joblib workers) outside the timed region
    for j in args.n_jobs:
        LatentDirichletAllocation(args.k, learning_method="online", max_iter=1, n_jobs=j,
                                  backend=args.backend).fit(X[:200])
    for j in sk_jobs:
        SkLDA(args.k, learning_method="online", max_iter=1, n_jobs=j).fit(X[:200])
    print(f"{'batch_size':>10s}{'fastcavi n_jobs':>16s}{'sklearn s':>11s}{'sk n_jobs':>10s}"
          f"{'fastcavi s':>12s}{'ratio':>8s}{'components max rel diff':>26s}")
    n_docs = X.shape[0]
    for bs in args.batch_sizes:
        n_batches = -(-n_docs // bs)
        params = dict(n_components=args.k, learning_method="online", batch_size=bs,
                      max_iter=args.passes + 1, random_state=args.seed)
        t_sk = {j: np.inf for j in sk_jobs}
        t_fc = {j: np.inf for j in args.n_jobs}
        lam_sk = lam_fc = None
        for _ in range(args.repeat):
            for j in sk_jobs:
                t, lam = timed_sklearn(X, n_batches, args.passes, n_jobs=j, **params)
                t_sk[j] = min(t_sk[j], t)
                if j == 1:
                    lam_sk = lam
            for j in args.n_jobs:
                t, lam = timed_fastcavi(X, args.passes, backend=args.backend, n_jobs=j, **params)
                t_fc[j] = min(t_fc[j], t)
                if j == 1 or lam_fc is None:
                    lam_fc = lam
        diff = np.max(np.abs(lam_fc - lam_sk)) / np.max(lam_sk)
        for j in args.n_jobs:
            sk_j = min((s for s in sk_jobs if s <= j), key=lambda s: t_sk[s])
            print(f"{bs:10d}{j:16d}{t_sk[sk_j]:11.2f}{sk_j:10d}{t_fc[j]:12.2f}"
                  f"{t_sk[sk_j] / t_fc[j]:7.2f}x{diff:26.1e}", flush=True)
    print(f"load average at end: {_load()}")
    blas_limit.restore_original_limits()


if __name__ == "__main__":
    main()
