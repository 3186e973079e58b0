#!/usr/bin/env python
"""Compare fastcavi's variational regression with scikit-learn, in one process.

Every ratio is a time divided by another time measured in the same run, on
the same data, with BLAS limited to the same number of threads as the
kernels' ``n_jobs``, and every time is the best of ``--repeat`` runs. A
numerator and its denominator are timed in alternation (one of each per
round), so that load changing on a shared machine affects both alike. The
table printed at the end (and ``"ratios"`` in the JSON) names the numerator
and the denominator of each ratio and gives it for wall times and, as a check
that is less sensitive to other processes taking the CPU, for CPU times
(``time.process_time``, summed over threads).

1. ``VBLinearRegression`` on dense Gaussian data (n=200,000, d=200;
   ``--quick``: n=20,000, d=50): full fit, and full ARD fit, each divided by
   one ``X.T @ X`` in NumPy (BLAS ``dsyrk``); scikit-learn's
   ``BayesianRidge`` fit divided by the same ``X.T @ X``. Target: fit <= 2x.
2. ``VBLogisticRegression``, one CAVI iteration divided by one weighted Gram
   matrix X^T diag(lam) X stated efficiently in NumPy,
   ``np.multiply(X, sqrt(lam)[:, None], out=Xs); Xs.T @ Xs`` (forming ``Xs``
   included, into a buffer allocated once, so that page faults of a fresh
   n x d array do not count; the symmetric product is ``dsyrk``, as in
   fastcavi's kernel). Target: <= 1.5x.

   a. like for like (n and d as in 1): an iteration's cost taken as
      (fit with ``max_iter=6`` - fit with ``max_iter=1``) / 5, each fit the
      best of ``--repeat``, with ``tol=0`` so both run to ``max_iter``; the
      difference is five iterations of the fused xi/Gram sweep plus the
      O(p^3) q update, with input validation and setup cancelled out;
   b. ``PassMonitor`` (``--logistic-n`` rows, default 100,000): the median of
      the per-iteration times the driver's monitor records, best of
      ``--repeat`` fits.

   Also timed and printed, not used as denominators: the same with ``Xs``
   allocated on each call, and the previous baseline
   ``(X * lam[:, None]).T @ X`` (an n x d temporary and a general product,
   twice the arithmetic of ``dsyrk``).
3. Accuracy and log-loss on held-out data (25%, stratified, seed 0; features
   standardised on the training part) of ``VBLogisticRegression`` (defaults)
   and ``LogisticRegression`` (defaults, C=1) on scikit-learn's bundled
   breast_cancer (binary), wine and digits (multiclass; ours one-vs-rest).

Usage::

    python benchmarks/compare_regression.py --quick        # < 1 min
    python benchmarks/compare_regression.py --repeat 5 --json out.json
"""

import argparse
import json
import os
import platform
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

TARGET_LINEAR = 2.0
TARGET_LOGISTIC = 1.5
#: fit lengths whose difference gives the like-for-like iteration cost
LONG_FIT, SHORT_FIT = 6, 1
#: the denominators
XTX = "X.T @ X"
GRAM = "Xs.T @ Xs, Xs[:] = X*sqrt(lam)[:,None]"


class Timing:
    """Best wall and CPU (``time.process_time``, all threads) seconds of one function."""

    def __init__(self, wall, cpu, results):
        self.wall, self.cpu, self.results = wall, cpu, results

    @property
    def result(self):
        return self.results[-1]


def interleaved(fns, repeat):
    """Time every function of ``fns`` once per round for ``repeat`` rounds: {name: Timing}.

    A numerator and its denominator are timed in the same rounds, so a change
    of load on the shared machine during the run affects both alike.
    """
    wall = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    results = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            c0, w0 = time.process_time(), time.perf_counter()
            results[k].append(fn())
            wall[k].append(time.perf_counter() - w0)
            cpu[k].append(time.process_time() - c0)
    return {k: Timing(min(wall[k]), min(cpu[k]), results[k]) for k in fns}


def best_of(fn, repeat):
    """Best wall time of ``repeat`` calls of ``fn`` and the last result."""
    t = interleaved({"fn": fn}, repeat)["fn"]
    return t.wall, t.result


def weighted_gram(X, lam, out=None):
    """X^T diag(lam) X the efficient way: one scaled copy (into ``out``), a symmetric product."""
    Xs = np.multiply(X, np.sqrt(lam)[:, None], out=out)
    return Xs.T @ Xs


def ratio(backend, threads, n, numerator, num, denominator, den, target=None):
    """One row of the ratio table: what is divided by what, both times and the quotients.

    ``num`` and ``den`` are (wall, cpu) seconds; cpu may be None (not measured).
    """
    cpu = num[1] / den[1] if num[1] is not None and den[1] is not None else None
    return {"backend": backend, "threads": threads, "n": n,
            "numerator": numerator, "numerator_seconds": num[0],
            "denominator": denominator, "denominator_seconds": den[0],
            "ratio": num[0] / den[0], "numerator_cpu_seconds": num[1],
            "denominator_cpu_seconds": den[1], "cpu_ratio": cpu, "target": target}


def gaussian_design(n, d, seed):
    rng = np.random.default_rng(seed)
    return rng, rng.standard_normal((n, d))


def bayesian_ridge(X, y, repeat, threads):
    from sklearn.linear_model import BayesianRidge

    with threadpool_limits(limits=threads, user_api="blas"):
        t = interleaved({"xtx": lambda: X.T @ X, "br": lambda: BayesianRidge().fit(X, y)},
                        repeat)
    row = ratio("sklearn", threads, X.shape[0], "BayesianRidge().fit",
                (t["br"].wall, t["br"].cpu), XTX, (t["xtx"].wall, t["xtx"].cpu))
    return row, t["br"].result


def linear_speed(X, y, br, repeat, threads, backend):
    from fastcavi.linear_model import VBLinearRegression

    n, d = X.shape

    def fit(ard):
        return VBLinearRegression(ard=ard, backend=backend, n_jobs=threads).fit(X, y)

    fit(False)  # compile (Numba) outside the timings
    with threadpool_limits(limits=threads, user_api="blas"):
        t = interleaved({"xtx": lambda: X.T @ X, "fit": lambda: fit(False),
                         "ard": lambda: fit(True)}, repeat)
    est, ard = t["fit"].result, t["ard"].result
    be = est.backend_
    xtx = (t["xtx"].wall, t["xtx"].cpu)
    rows = [
        ratio(be, threads, n, "VBLinearRegression().fit", (t["fit"].wall, t["fit"].cpu), XTX,
              xtx, TARGET_LINEAR),
        ratio(be, threads, n, "VBLinearRegression(ard=True).fit", (t["ard"].wall, t["ard"].cpu),
              XTX, xtx),
    ]
    info = {"n": n, "d": d, "threads": threads, "backend": be, "xtx_seconds": t["xtx"].wall,
            "fit_seconds": t["fit"].wall, "fit_ard_seconds": t["ard"].wall,
            "n_iter": est.n_iter_, "n_iter_ard": ard.n_iter_,
            "max_abs_coef_diff_vs_bayesian_ridge": float(np.max(np.abs(est.coef_ - br.coef_)))}
    return rows, info


def logistic_problem(n, d, seed):
    rng, X = gaussian_design(n, d, seed)
    w = rng.standard_normal(d) / np.sqrt(d)
    y = rng.random(n) < 1 / (1 + np.exp(-(X @ w)))
    lam = rng.uniform(0.01, 0.125, n)  # lambda(xi) lies in (0, 1/8]
    return X, y, lam


def gram_baselines(X, lam, repeat, threads):
    """Best wall times of the weighted Gram: preallocated Xs, allocating Xs, general product."""
    buf = np.empty_like(X)
    with threadpool_limits(limits=threads, user_api="blas"):
        t = interleaved({"preallocated_xs_seconds": lambda: weighted_gram(X, lam, buf),
                         "allocating_xs_seconds": lambda: weighted_gram(X, lam),
                         "general_product_seconds": lambda: (X * lam[:, None]).T @ X}, repeat)
    return {k: v.wall for k, v in t.items()}


def gram_timer(X, lam, threads):
    """The denominator: the weighted Gram into a buffer allocated once, on ``threads`` threads."""
    buf = np.empty_like(X)

    def run():
        with threadpool_limits(limits=threads, user_api="blas"):
            return weighted_gram(X, lam, buf)

    return run


def logistic_like_for_like(X, y, lam, repeat, threads, backend):
    from fastcavi.linear_model import VBLogisticRegression

    def fit(max_iter):
        return VBLogisticRegression(max_iter=max_iter, tol=0.0, backend=backend,
                                    n_jobs=threads).fit(X, y)

    fit(SHORT_FIT)  # compile (Numba) outside the timings
    t = interleaved({"gram": gram_timer(X, lam, threads), "long": lambda: fit(LONG_FIT),
                     "short": lambda: fit(SHORT_FIT)}, repeat)
    long_, short = t["long"].result, t["short"].result
    assert long_.n_iter_[0] == LONG_FIT and short.n_iter_[0] == SHORT_FIT
    k = LONG_FIT - SHORT_FIT
    it = ((t["long"].wall - t["short"].wall) / k, (t["long"].cpu - t["short"].cpu) / k)
    be = long_.backend_
    row = ratio(be, threads, X.shape[0],
                f"VBLogisticRegression iteration: (fit {LONG_FIT} it. - fit {SHORT_FIT} it.) / "
                f"{k}", it, GRAM, (t["gram"].wall, t["gram"].cpu), TARGET_LOGISTIC)
    info = {"n": X.shape[0], "d": X.shape[1], "threads": threads, "backend": be,
            "fit_long_seconds": t["long"].wall, "fit_short_seconds": t["short"].wall,
            "iteration_seconds": it[0], "weighted_gram_seconds": t["gram"].wall}
    return row, info


def logistic_monitor(X, y, lam, repeat, threads, backend, iters=8):
    from fastcavi.engine import Never, PassMonitor, limit_blas, run_cavi
    from fastcavi.kernels import get_backend
    from fastcavi.linear_model.gaussian import RowBlock
    from fastcavi.linear_model.jaakkola import LogisticModel

    n, d = X.shape
    t = np.where(y, 1.0, -1.0)
    sw = np.ones(n)
    kernels = get_backend(backend, "regression")

    def run(max_iter):
        mon = PassMonitor(max_iter, n)
        model = LogisticModel(kernels, threads, d, intercept=True, beta0=1e-4, c0=1e-2,
                              d0=1e-4, ard=False, learn_alpha=True)
        with limit_blas():
            run_cavi(model, [RowBlock(X, t, sw)], model.initial_state(np.ones(d)),
                     max_iter=max_iter, stop=Never(), monitor=mon)
        mon.close()
        # pass i > 0 covers the q update of iteration i - 1 and the fused sweep of
        # iteration i; the last pass skips the Gram (max_iter reached)
        return float(np.median(mon.pass_seconds[1:-1]))

    run(3)  # compile (Numba)
    tm = interleaved({"gram": gram_timer(X, lam, threads), "fit": lambda: run(iters)}, repeat)
    t_iter = min(tm["fit"].results)
    row = ratio(kernels.name, threads, n,
                f"VBLogisticRegression iteration: median PassMonitor pass, {iters} it.",
                (t_iter, None), GRAM, (tm["gram"].wall, tm["gram"].cpu), TARGET_LOGISTIC)
    info = {"n": n, "d": d, "threads": threads, "backend": kernels.name,
            "iteration_seconds": t_iter, "weighted_gram_seconds": tm["gram"].wall}
    return row, info


def accuracy(backend, repeat):
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, log_loss
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from fastcavi.linear_model import VBLogisticRegression

    rows = []
    for name, loader in [("breast_cancer", load_breast_cancer), ("wine", load_wine),
                         ("digits", load_digits)]:
        X, y = loader(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
        sc = StandardScaler().fit(Xtr)
        Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)
        row = {"dataset": name, "n_train": len(ytr), "n_test": len(yte), "d": X.shape[1],
               "classes": int(len(np.unique(y)))}
        for label, est in [("vb", VBLogisticRegression(backend=backend)),
                           ("vb_ard", VBLogisticRegression(ard=True, backend=backend)),
                           ("sklearn", LogisticRegression(max_iter=5000))]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row[f"{label}_seconds"], est = best_of(lambda: est.fit(Xtr, ytr), repeat)
            p = est.predict_proba(Xte)
            row[f"{label}_accuracy"] = float(accuracy_score(yte, est.predict(Xte)))
            row[f"{label}_log_loss"] = float(log_loss(yte, p, labels=est.classes_))
            if label.startswith("vb"):
                row[f"{label}_n_iter"] = [int(v) for v in est.n_iter_]
        rows.append(row)
    return rows


def print_ratios(rows):
    """The ratio table: numerator / denominator, both wall times, the quotients, the target."""
    head = (f"{'numerator':<62} / {'denominator':<40} {'backend':<7} {'thr':>3} {'n':>7} "
            f"{'num. s':>7} {'den. s':>7} {'ratio':>7} {'cpu':>7}  target")
    print(head)
    print("-" * len(head))
    for r in rows:
        target = f"<= {r['target']}x" if r["target"] else ""
        cpu = f"{r['cpu_ratio']:>6.2f}x" if r["cpu_ratio"] is not None else f"{'-':>7}"
        print(f"{r['numerator']:<62} / {r['denominator']:<40} {r['backend']:<7} "
              f"{r['threads']:>3} {r['n']:>7} {r['numerator_seconds']:>7.3f} "
              f"{r['denominator_seconds']:>7.3f} {r['ratio']:>6.2f}x {cpu}  {target}")
    print("ratio: of best wall times; cpu: of best CPU times (process_time, every thread), "
          "each numerator timed in the same rounds as its denominator")


def default_backends():
    from fastcavi.kernels import available_backends

    return [b for b in ("cython", "numba") if b in available_backends("regression")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--d", type=int, default=None)
    ap.add_argument("--logistic-n", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--backend", nargs="+", default=None,
                    help="kernel backends to time (default: cython and numba, those built)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    n = args.n or (20_000 if args.quick else 200_000)
    d = args.d or (50 if args.quick else 200)
    ln = args.logistic_n or (20_000 if args.quick else 100_000)
    backends = args.backend or default_backends()
    out = {"python": sys.version.split()[0], "machine": platform.machine(),
           "cpus": os.cpu_count(), "load_average": os.getloadavg(), "repeat": args.repeat,
           "backends": backends, "linear": [], "logistic_like_for_like": [],
           "logistic_monitor": [], "weighted_gram": [], "ratios": []}
    print(f"load average {out['load_average']}; best of {args.repeat}", flush=True)
    rng, X = gaussian_design(n, d, 0)
    w = rng.standard_normal(d) * (rng.random(d) < 0.5)
    y = X @ w + 1.0 + rng.standard_normal(n)
    Xl, yl, laml = logistic_problem(n, d, 1)
    Xm, ym, lamm = logistic_problem(ln, d, 2)
    for th in args.threads:
        row, br = bayesian_ridge(X, y, args.repeat, th)
        out["ratios"].append(row)
        for Xg, lamg in ((Xl, laml), (Xm, lamm)):
            g = gram_baselines(Xg, lamg, args.repeat, th)
            out["weighted_gram"].append({"n": Xg.shape[0], "d": d, "threads": th, **g})
            print(f"[weighted Gram n={Xg.shape[0]} d={d} threads={th}] Xs.T @ Xs with Xs "
                  f"preallocated {g['preallocated_xs_seconds']:.3f}s (the denominator), "
                  f"allocated {g['allocating_xs_seconds']:.3f}s; previous baseline "
                  f"(X*lam[:,None]).T @ X {g['general_product_seconds']:.3f}s", flush=True)
        for be in backends:
            rows, info = linear_speed(X, y, br, args.repeat, th, be)
            out["linear"].append(info)
            out["ratios"] += rows
            print(f"[linear n={n} d={d} threads={th} backend={info['backend']}] "
                  f"X^T X {info['xtx_seconds']:.3f}s; fit {info['fit_seconds']:.3f}s "
                  f"({info['n_iter']} it.); ARD fit {info['fit_ard_seconds']:.3f}s "
                  f"({info['n_iter_ard']} it.); BayesianRidge {row['numerator_seconds']:.3f}s; "
                  f"max |coef - BayesianRidge| {info['max_abs_coef_diff_vs_bayesian_ridge']:.2e}",
                  flush=True)
            r, info = logistic_like_for_like(Xl, yl, laml, args.repeat, th, be)
            out["logistic_like_for_like"].append(info)
            out["ratios"].append(r)
            print(f"[logistic like-for-like n={n} d={d} threads={th} backend={info['backend']}] "
                  f"fit {LONG_FIT} it. {info['fit_long_seconds']:.3f}s, {SHORT_FIT} it. "
                  f"{info['fit_short_seconds']:.3f}s: iteration {info['iteration_seconds']:.3f}s "
                  f"= {r['ratio']:.2f}x the weighted Gram ({info['weighted_gram_seconds']:.3f}s)",
                  flush=True)
            r, info = logistic_monitor(Xm, ym, lamm, args.repeat, th, be)
            out["logistic_monitor"].append(info)
            out["ratios"].append(r)
            print(f"[logistic PassMonitor n={ln} d={d} threads={th} backend={info['backend']}] "
                  f"iteration {info['iteration_seconds']:.3f}s = {r['ratio']:.2f}x the "
                  f"weighted Gram ({info['weighted_gram_seconds']:.3f}s)", flush=True)
    out["accuracy"] = accuracy(backends[0] if backends else "auto", args.repeat)
    for row in out["accuracy"]:
        print(f"[{row['dataset']} n_test={row['n_test']} d={row['d']} K={row['classes']}] "
              f"accuracy VB {row['vb_accuracy']:.4f} / VB-ARD {row['vb_ard_accuracy']:.4f} / "
              f"sklearn {row['sklearn_accuracy']:.4f}; log-loss VB {row['vb_log_loss']:.4f} / "
              f"VB-ARD {row['vb_ard_log_loss']:.4f} / sklearn {row['sklearn_log_loss']:.4f}; "
              f"VB iterations {row['vb_n_iter']}", flush=True)
    out["load_average_end"] = os.getloadavg()
    print()
    print_ratios(out["ratios"])
    print(f"load average at the start {out['load_average']}, at the end {out['load_average_end']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
