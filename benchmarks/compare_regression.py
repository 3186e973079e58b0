#!/usr/bin/env python
"""Compare fastcavi's variational regression with scikit-learn, in one process.

Every ratio is a time divided by another time measured in the same run, on
the same data, with BLAS limited to the same number of threads as the
kernels' ``n_jobs``, and every time is the best of ``--repeat`` runs. The
table printed at the end (and ``"ratios"`` in the JSON) names the numerator
and the denominator of each ratio.

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


def best_of(fn, repeat):
    """Best wall time of ``repeat`` calls of ``fn`` and the last result."""
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def weighted_gram(X, lam, out=None):
    """X^T diag(lam) X the efficient way: one scaled copy (into ``out``), a symmetric product."""
    Xs = np.multiply(X, np.sqrt(lam)[:, None], out=out)
    return Xs.T @ Xs


def ratio(backend, threads, n, numerator, t_num, denominator, t_den, target=None):
    """One row of the ratio table: what is divided by what, both times and the quotient."""
    return {"backend": backend, "threads": threads, "n": n,
            "numerator": numerator, "numerator_seconds": t_num,
            "denominator": denominator, "denominator_seconds": t_den,
            "ratio": t_num / t_den, "target": target}


def gaussian_design(n, d, seed):
    rng = np.random.default_rng(seed)
    return rng, rng.standard_normal((n, d))


def bayesian_ridge(X, y, repeat, threads):
    from sklearn.linear_model import BayesianRidge

    with threadpool_limits(limits=threads, user_api="blas"):
        t_xtx, _ = best_of(lambda: X.T @ X, repeat)
        t_br, br = best_of(lambda: BayesianRidge().fit(X, y), repeat)
    return t_xtx, t_br, br


def linear_speed(X, y, t_xtx, br, repeat, threads, backend):
    from fastcavi.linear_model import VBLinearRegression

    n, d = X.shape

    def fit(ard):
        return VBLinearRegression(ard=ard, backend=backend, n_jobs=threads).fit(X, y)

    fit(False)  # compile (Numba) outside the timings
    with threadpool_limits(limits=threads, user_api="blas"):
        t_fit, est = best_of(lambda: fit(False), repeat)
        t_ard, ard = best_of(lambda: fit(True), repeat)
    be = est.backend_
    rows = [
        ratio(be, threads, n, "VBLinearRegression().fit", t_fit, XTX, t_xtx, TARGET_LINEAR),
        ratio(be, threads, n, "VBLinearRegression(ard=True).fit", t_ard, XTX, t_xtx),
    ]
    info = {"n": n, "d": d, "threads": threads, "backend": be, "xtx_seconds": t_xtx,
            "fit_seconds": t_fit, "fit_ard_seconds": t_ard, "n_iter": est.n_iter_,
            "n_iter_ard": ard.n_iter_,
            "max_abs_coef_diff_vs_bayesian_ridge": float(np.max(np.abs(est.coef_ - br.coef_)))}
    return rows, info


def logistic_problem(n, d, seed):
    rng, X = gaussian_design(n, d, seed)
    w = rng.standard_normal(d) / np.sqrt(d)
    y = rng.random(n) < 1 / (1 + np.exp(-(X @ w)))
    lam = rng.uniform(0.01, 0.125, n)  # lambda(xi) lies in (0, 1/8]
    return X, y, lam


def gram_baselines(X, lam, repeat, threads):
    """Best times of the weighted Gram: into a preallocated Xs, allocating Xs, general product."""
    buf = np.empty_like(X)
    with threadpool_limits(limits=threads, user_api="blas"):
        t_eff, _ = best_of(lambda: weighted_gram(X, lam, buf), repeat)
        t_alloc, _ = best_of(lambda: weighted_gram(X, lam), repeat)
        t_gen, _ = best_of(lambda: (X * lam[:, None]).T @ X, repeat)
    return t_eff, t_alloc, t_gen


def logistic_like_for_like(X, y, t_gram, repeat, threads, backend):
    from fastcavi.linear_model import VBLogisticRegression

    def fit(max_iter):
        return VBLogisticRegression(max_iter=max_iter, tol=0.0, backend=backend,
                                    n_jobs=threads).fit(X, y)

    fit(SHORT_FIT)  # compile (Numba) outside the timings
    t_long, long_ = best_of(lambda: fit(LONG_FIT), repeat)
    t_short, short = best_of(lambda: fit(SHORT_FIT), repeat)
    assert long_.n_iter_[0] == LONG_FIT and short.n_iter_[0] == SHORT_FIT
    t_iter = (t_long - t_short) / (LONG_FIT - SHORT_FIT)
    be = long_.backend_
    row = ratio(be, threads, X.shape[0],
                f"VBLogisticRegression iteration: (fit {LONG_FIT} it. - fit {SHORT_FIT} it.) / "
                f"{LONG_FIT - SHORT_FIT}", t_iter, GRAM, t_gram, TARGET_LOGISTIC)
    info = {"n": X.shape[0], "d": X.shape[1], "threads": threads, "backend": be,
            "fit_long_seconds": t_long, "fit_short_seconds": t_short,
            "iteration_seconds": t_iter, "weighted_gram_seconds": t_gram}
    return row, info


def logistic_monitor(X, y, t_gram, repeat, threads, backend, iters=8):
    from fastcavi.engine import PassMonitor, limit_blas
    from fastcavi.kernels import get_backend
    from fastcavi.models.regression import fit_logistic

    n, d = X.shape
    t = np.where(y, 1.0, -1.0)
    sw = np.ones(n)
    kernels = get_backend(backend, "regression")

    def run(max_iter):
        mon = PassMonitor(max_iter, n)
        with limit_blas():
            fit_logistic(kernels, X, t, sw, intercept=True, beta0=1e-4, c0=1e-2, d0=1e-4,
                         ard=False, learn_alpha=True, alpha_init=np.ones(d), max_iter=max_iter,
                         tol=0.0, n_threads=threads, monitor=mon)
        mon.close()
        # pass i > 0 covers the q update of iteration i - 1 and the fused sweep of
        # iteration i; the last pass skips the Gram (max_iter reached)
        return float(np.median(mon.pass_seconds[1:-1]))

    run(3)  # compile (Numba)
    t_iter = min(run(iters) for _ in range(repeat))
    row = ratio(kernels.name, threads, n,
                f"VBLogisticRegression iteration: median PassMonitor pass, {iters} it.", t_iter,
                GRAM, t_gram, TARGET_LOGISTIC)
    info = {"n": n, "d": d, "threads": threads, "backend": kernels.name,
            "iteration_seconds": t_iter, "weighted_gram_seconds": t_gram}
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
    """The ratio table: numerator / denominator, both times, the quotient and the target."""
    head = (f"{'numerator':<62} / {'denominator':<40} {'backend':<7} {'thr':>3} {'n':>7} "
            f"{'num. s':>7} {'den. s':>7} {'ratio':>7}  target")
    print(head)
    print("-" * len(head))
    for r in rows:
        target = f"<= {r['target']}x" if r["target"] else ""
        print(f"{r['numerator']:<62} / {r['denominator']:<40} {r['backend']:<7} "
              f"{r['threads']:>3} {r['n']:>7} {r['numerator_seconds']:>7.3f} "
              f"{r['denominator_seconds']:>7.3f} {r['ratio']:>6.2f}x  {target}")


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
        t_xtx, t_br, br = bayesian_ridge(X, y, args.repeat, th)
        out["ratios"].append(ratio("sklearn", th, n, "BayesianRidge().fit", t_br, XTX, t_xtx))
        grams = {}
        for key, (Xg, lamg) in {"like_for_like": (Xl, laml), "monitor": (Xm, lamm)}.items():
            t_eff, t_alloc, t_gen = gram_baselines(Xg, lamg, args.repeat, th)
            grams[key] = t_eff
            out["weighted_gram"].append({"n": Xg.shape[0], "d": d, "threads": th,
                                         "preallocated_xs_seconds": t_eff,
                                         "allocating_xs_seconds": t_alloc,
                                         "general_product_seconds": t_gen})
            print(f"[weighted Gram n={Xg.shape[0]} d={d} threads={th}] Xs.T @ Xs with Xs "
                  f"preallocated {t_eff:.3f}s (the denominator), allocated {t_alloc:.3f}s; "
                  f"previous baseline (X*lam[:,None]).T @ X {t_gen:.3f}s", flush=True)
        for be in backends:
            rows, info = linear_speed(X, y, t_xtx, br, args.repeat, th, be)
            out["linear"].append(info)
            out["ratios"] += rows
            print(f"[linear n={n} d={d} threads={th} backend={info['backend']}] "
                  f"X^T X {t_xtx:.3f}s; fit {info['fit_seconds']:.3f}s "
                  f"({info['n_iter']} it.); ARD fit {info['fit_ard_seconds']:.3f}s "
                  f"({info['n_iter_ard']} it.); BayesianRidge {t_br:.3f}s; max |coef - "
                  f"BayesianRidge| {info['max_abs_coef_diff_vs_bayesian_ridge']:.2e}", flush=True)
            row, info = logistic_like_for_like(Xl, yl, grams["like_for_like"], args.repeat, th,
                                               be)
            out["logistic_like_for_like"].append(info)
            out["ratios"].append(row)
            print(f"[logistic like-for-like n={n} d={d} threads={th} backend={info['backend']}] "
                  f"fit {LONG_FIT} it. {info['fit_long_seconds']:.3f}s, {SHORT_FIT} it. "
                  f"{info['fit_short_seconds']:.3f}s: iteration {info['iteration_seconds']:.3f}s "
                  f"= {row['ratio']:.2f}x the weighted Gram", flush=True)
            row, info = logistic_monitor(Xm, ym, grams["monitor"], args.repeat, th, be)
            out["logistic_monitor"].append(info)
            out["ratios"].append(row)
            print(f"[logistic PassMonitor n={ln} d={d} threads={th} backend={info['backend']}] "
                  f"iteration {info['iteration_seconds']:.3f}s = {row['ratio']:.2f}x the "
                  f"weighted Gram", flush=True)
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
