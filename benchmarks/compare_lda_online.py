"""Online LDA (stochastic VI, Hoffman et al. 2010): fastcavi against scikit-learn.

Times ``fit`` with ``learning_method="online"`` and ``max_iter`` passes for each
minibatch size, scikit-learn and fastcavi on the same data, random_state and
thread count (1), in one process, and checks that both reach the same topics
(fastcavi follows scikit-learn's iterates). Small minibatches are where the
global step matters: after every minibatch scikit-learn recomputes
exp(E[log beta]) for the whole vocabulary, fastcavi only for the minibatch's
words (Dirichlet aggregation, ``fastcavi.models.lda.exp_topic_word_columns``).

Usage::

    python benchmarks/compare_lda_online.py                       # 20 Newsgroups, K=50
    python benchmarks/compare_lda_online.py --corpus sotu-sentence --batch-sizes 128 2000
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_lda import DEFAULT_DATA, load_data  # noqa: E402


def timed_fit(cls, X, **params):
    with threadpool_limits(1):
        t = time.perf_counter()
        est = cls(**params).fit(X)
        return est, time.perf_counter() - t


def main(argv=None):
    from sklearn.decomposition import LatentDirichletAllocation as SkLDA

    from fastcavi import LatentDirichletAllocation

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", choices=["20newsgroups", "sotu-sentence"], default="20newsgroups")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="20newsgroups folder")
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--passes", type=int, default=1)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 1024])
    p.add_argument("--backend", default="auto")
    p.add_argument("--max-train-docs", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.max_test_docs = 1

    X, _, desc = load_data(args)
    print(f"{desc}: {X.shape[0]} docs x {X.shape[1]} words, K={args.k}, {args.passes} pass(es), "
          f"n_jobs=1; load average {os.getloadavg()[0]:.2f}", flush=True)
    # compile / warm up outside the timed region
    LatentDirichletAllocation(args.k, learning_method="online", max_iter=1,
                              backend=args.backend).fit(X[:200])
    print(f"{'batch_size':>10s}{'sklearn s':>11s}{'fastcavi s':>12s}{'ratio':>8s}"
          f"{'components max rel diff':>26s}")
    for bs in args.batch_sizes:
        params = dict(n_components=args.k, learning_method="online", batch_size=bs,
                      max_iter=args.passes, random_state=args.seed)
        sk, t_sk = timed_fit(SkLDA, X, **params)
        fc, t_fc = timed_fit(LatentDirichletAllocation, X, backend=args.backend, **params)
        diff = np.max(np.abs(fc.components_ - sk.components_)) / np.max(sk.components_)
        print(f"{bs:10d}{t_sk:11.2f}{t_fc:12.2f}{t_sk / t_fc:7.2f}x{diff:26.1e}", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
