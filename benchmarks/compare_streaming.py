"""Batch LDA in memory against streamed from shards: peak RSS and seconds per pass.

For 20 Newsgroups (train, 11,269 documents, 61,188 words) and the same
documents stacked ``--stack`` times, each corpus is saved as an uncompressed
``.npz`` (loaded whole: the in-memory path) and written as a sharded corpus
(``fastcavi.datasets.shard_csr``; read one shard at a time, memory-mapped:
the streamed path). Every measurement runs in a fresh Python process:

- peak RSS: one batch pass (K = ``--k``), the process's ``ru_maxrss`` at the
  end of the pass (the fit is stopped there, before the final training bound),
  read as ``RUSAGE_CHILDREN`` by a small process that starts it (its own
  ``ru_maxrss`` would count the RSS of this script, which it was spawned from);
  the in-memory figure includes the matrix it loaded, the streamed one the
  shards it mapped. Each is measured ``--repeat`` times and given as
  "min-max": NumPy asks for transparent huge pages for arrays of 4 MiB and
  more, and how many the kernel grants varies from run to run;
- seconds per pass: ``--repeat`` fits of ``--passes`` passes each, timed per
  pass through the per-pass hook of ``_lda_harness.py`` (from the start of the
  pass to its end, the ELBO included); the best first pass and the best later
  pass are reported (a streamed fit's first pass also verifies each shard's
  checksum, once per corpus object).

Both sides run the same estimator, backend, seed and ``--n-jobs``, BLAS at one
thread; the topics after the timed passes are compared (max relative
difference of lambda: rounding, since the shards' statistics are summed shard
by shard). The shards are in the page cache (just written): this measures what
streaming costs in CPU and memory, not the disk. The command line, versions and
the load average at the start and the end are printed.

Usage::

    python benchmarks/compare_streaming.py                  # 20 Newsgroups x1 and x4, K=50
    python benchmarks/compare_streaming.py --quick          # 3,000 documents x1 and x2, K=20
    python benchmarks/compare_streaming.py --stack 1 4 8 --shard-docs 2048
"""

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _lda_harness import DEFAULT_DATA, ROOT  # noqa: E402

_CHILD = r"""
import json, sys
sys.path.insert(0, {here!r})
import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits
from _lda_harness import PassLog, _hooked_fastcavi, _run
from fastcavi.datasets import ShardedCorpus

kind, path, k, passes, repeat, n_jobs, lam_out = sys.argv[1:8]
k, passes, repeat, n_jobs = int(k), int(passes), int(repeat), int(n_jobs)
X = sp.load_npz(path) if kind == "memory" else None
times, kept = [], {{}}
for r in range(repeat):
    data = X if X is not None else ShardedCorpus(path)  # (a new corpus object: checksums again)
    # (the stopped fit is rolled back: lambda is copied when its pass ends, clock paused)
    log = PassLog(on_pass=lambda p, est, lam, ebeta: kept.update(lam=lam.copy()),
                  stop=lambda p, v: p >= passes)
    est = _hooked_fastcavi()(k, max_iter=passes + 1, random_state=0, n_jobs=n_jobs)
    with threadpool_limits(1):
        _run(est, data, log)
    times.append(log.pass_seconds.tolist())
if lam_out != "-":
    np.save(lam_out, kept["lam"])
print(json.dumps({{"pass_seconds": times}}))
"""

# The measured process is started by this small one, which reports its peak: a process's own
# ru_maxrss also counts the RSS of the process it was spawned from (Linux carries the high-water
# mark across exec), and this script's parent holds the corpus.
_WRAPPER = r"""
import resource, subprocess, sys
run = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, text=True, check=True)
print(run.stdout.strip().splitlines()[-1])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def _child(kind, path, k, passes, repeat, n_jobs, lam_out="-"):
    code = _CHILD.format(here=str(HERE))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    run = subprocess.run([sys.executable, "-c", _WRAPPER, sys.executable, "-c", code, kind,
                          str(path), str(k), str(passes), str(repeat), str(n_jobs),
                          str(lam_out)],
                         capture_output=True, text=True, env=env)
    if run.returncode:
        raise RuntimeError(f"the {kind} measurement failed:\n{run.stderr}")
    result, maxrss = run.stdout.strip().splitlines()[-2:]
    return dict(json.loads(result), maxrss_mib=float(maxrss))


def _span(values):
    """``"min"`` or ``"min-max"`` of measurements, in whole MiB."""
    lo, hi = round(min(values)), round(max(values))
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def _load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _versions():
    import numba
    import scipy
    import sklearn

    import fastcavi
    from fastcavi.kernels import get_backend

    return (f"fastcavi {fastcavi.__version__} (backend {get_backend('auto').name}), numpy "
            f"{np.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, "
            f"numba {numba.__version__}, Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shared = os.environ.get("FASTCAVI_SHARED_DATA")
    parser.add_argument("--data", default=str(Path(shared) / "20newsgroups" if shared
                                              else DEFAULT_DATA),
                        help="20 Newsgroups folder (default: $FASTCAVI_SHARED_DATA/20newsgroups, "
                        "else ../shared/data/20newsgroups)")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--stack", type=int, nargs="+", default=[1, 4],
                        help="copies of the corpus stacked (default: 1 4)")
    parser.add_argument("--shard-docs", type=int, default=4096)
    parser.add_argument("--passes", type=int, default=3, help="passes per timed fit")
    parser.add_argument("--repeat", type=int, default=3, help="timed fits (best of)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help="3,000 documents, K=20, stacks 1 and 2, 2 passes, 2 fits")
    args = parser.parse_args(argv)
    if args.quick:
        args.k, args.stack, args.passes, args.repeat = 20, [1, 2], 2, 2

    from fastcavi.datasets import load_20newsgroups_counts, shard_csr

    print("command:", shlex.join([sys.executable] + sys.argv))
    print("versions:", _versions())
    print(f"load average at start: {_load()}")
    X = load_20newsgroups_counts(args.data).X
    if args.quick:
        X = X[:3000]
    print(f"corpus: 20 Newsgroups train{' (first 3,000)' if args.quick else ''}, "
          f"{X.shape[0]:,} documents, {X.shape[1]:,} words, {X.nnz:,} non-zeros; K={args.k}, "
          f"n_jobs={args.n_jobs}, shards of {args.shard_docs:,} documents\n")
    rows = []
    with tempfile.TemporaryDirectory(prefix="fastcavi-bench-") as tmp:
        tmp = Path(tmp)
        for n in args.stack:
            Xn = sp.vstack([X] * n, format="csr") if n > 1 else X
            npz, shards = tmp / f"x{n}.npz", tmp / f"s{n}"
            sp.save_npz(npz, Xn, compressed=False)
            corpus = shard_csr(Xn, shards, shard_docs=args.shard_docs)
            del Xn
            rss = {kind: [_child(kind, p, args.k, 1, 1, args.n_jobs)["maxrss_mib"]
                          for _ in range(args.repeat)]
                   for kind, p in (("memory", npz), ("shards", shards))}
            timed = {kind: _child(kind, p, args.k, args.passes, args.repeat, args.n_jobs,
                                  tmp / f"lam-{kind}-{n}.npy")["pass_seconds"]
                     for kind, p in (("memory", npz), ("shards", shards))}
            lam = {kind: np.load(tmp / f"lam-{kind}-{n}.npy") for kind in timed}
            diff = float(np.max(np.abs(lam["shards"] - lam["memory"]) / lam["memory"]))
            best = {kind: (min(t[0] for t in ts), min((x for t in ts for x in t[1:]),
                                                      default=float("nan")))
                    for kind, ts in timed.items()}
            rows.append((n, corpus.n_documents, corpus.nnz, len(corpus.shards), rss, best, diff))
            print(f"x{n}: in memory {_span(rss['memory'])} MiB, {best['memory'][1]:.2f} s/pass; "
                  f"streamed {_span(rss['shards'])} MiB, {best['shards'][1]:.2f} s/pass "
                  f"(lambda after {args.passes} passes: max rel. diff {diff:.1e})", flush=True)
    print()
    print("| corpus | documents | non-zeros | shards | peak RSS in memory | peak RSS streamed "
          "| s/pass in memory (first, later) | s/pass streamed (first, later) | streamed / "
          "in memory (later) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, docs, nnz, n_shards, rss, best, diff in rows:
        print(f"| x{n} | {docs:,} | {nnz:,} | {n_shards} | {_span(rss['memory'])} MiB | "
              f"{_span(rss['shards'])} MiB | {best['memory'][0]:.2f}, {best['memory'][1]:.2f} | "
              f"{best['shards'][0]:.2f}, {best['shards'][1]:.2f} | "
              f"{best['shards'][1] / best['memory'][1]:.3f} |")
    print(f"\nload average at end: {_load()}")


if __name__ == "__main__":
    main()
