#!/usr/bin/env python
"""Compare fastcavi's variational regression with scikit-learn, in one process.

Measurements (ratios are taken within this run; see the README section):

1. ``VBLinearRegression`` full fit on dense Gaussian data (n=200,000, d=200;
   ``--quick``: n=20,000, d=50) against one ``X.T @ X`` in NumPy (BLAS
   ``dsyrk``), and scikit-learn's ``BayesianRidge`` fit on the same data.
   Target: fit <= 2x one X^T X.
2. ``VBLogisticRegression``: seconds per CAVI iteration (median over
   iterations of the per-iteration times its ``PassMonitor`` records: the
   fused xi/Gram kernel plus the O(p^3) update) against one weighted
   ``(X * lam[:, None]).T @ X`` in NumPy, same data. Target: <= 1.5x.
3. Accuracy and log-loss on held-out data (25%, stratified, seed 0; features
   standardised on the training part) of ``VBLogisticRegression`` (defaults)
   and ``LogisticRegression`` (defaults, C=1) on scikit-learn's bundled
   breast_cancer (binary), wine and digits (multiclass; ours one-vs-rest).

Every timing is the best of ``--repeat`` runs, single-threaded unless
``--threads`` says otherwise (BLAS limited to the same number of threads as
the kernels' ``n_jobs``).

Usage::

    python benchmarks/compare_regression.py --quick        # < 1 min
    python benchmarks/compare_regression.py --json out.json
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


def best_of(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def linear_speed(n, d, repeat, threads, backend):
    from sklearn.linear_model import BayesianRidge

    from fastcavi.linear_model import VBLinearRegression

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) * (rng.random(d) < 0.5)
    y = X @ w + 1.0 + rng.standard_normal(n)
    with threadpool_limits(limits=threads, user_api="blas"):
        t_xtx, _ = best_of(lambda: X.T @ X, repeat)
        est = VBLinearRegression(backend=backend, n_jobs=threads)
        t_fit, est = best_of(lambda: est.fit(X, y), repeat)
        t_ard, ard = best_of(lambda: VBLinearRegression(ard=True, backend=backend,
                                                        n_jobs=threads).fit(X, y), 1)
        t_br, br = best_of(lambda: BayesianRidge().fit(X, y), 1)
    return {
        "n": n, "d": d, "threads": threads, "backend": est.backend_,
        "xtx_seconds": t_xtx, "fit_seconds": t_fit, "fit_ard_seconds": t_ard,
        "bayesian_ridge_seconds": t_br,
        "fit_over_xtx": t_fit / t_xtx, "ard_over_xtx": t_ard / t_xtx,
        "bayesian_ridge_over_xtx": t_br / t_xtx,
        "n_iter": est.n_iter_, "n_iter_ard": ard.n_iter_,
        "max_abs_coef_diff_vs_bayesian_ridge": float(np.max(np.abs(est.coef_ - br.coef_))),
        "target_fit_over_xtx": TARGET_LINEAR,
    }


def logistic_speed(n, d, repeat, threads, backend, iters=8):
    from fastcavi.engine import PassMonitor, limit_blas
    from fastcavi.kernels import get_backend
    from fastcavi.models.regression import fit_logistic

    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) / np.sqrt(d)
    y = rng.random(n) < 1 / (1 + np.exp(-(X @ w)))
    t = np.where(y, 1.0, -1.0)
    sw = np.ones(n)
    lam = rng.uniform(0.01, 0.125, n)
    kernels = get_backend(backend, "regression")
    with threadpool_limits(limits=threads, user_api="blas"):
        t_gram, _ = best_of(lambda: (X * lam[:, None]).T @ X, repeat)
    per_iter = []
    for _ in range(repeat):
        mon = PassMonitor(iters, n)
        with limit_blas():
            fit_logistic(kernels, X, t, sw, intercept=True, beta0=1e-4, c0=1e-2, d0=1e-4,
                         ard=False, learn_alpha=True, alpha_init=np.ones(d), max_iter=iters,
                         tol=0.0, n_threads=threads, monitor=mon)
        mon.close()
        # pass i > 0 covers the q update of iteration i - 1 and the fused sweep of
        # iteration i; the last pass skips the Gram (max_iter reached)
        per_iter.append(float(np.median(mon.pass_seconds[1:-1])))
    t_iter = min(per_iter)
    return {"n": n, "d": d, "threads": threads, "backend": kernels.name,
            "weighted_gram_seconds": t_gram, "iteration_seconds": t_iter,
            "iteration_over_weighted_gram": t_iter / t_gram,
            "target_iteration_over_weighted_gram": TARGET_LOGISTIC}


def accuracy(backend):
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
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(Xtr, ytr)
            row[f"{label}_seconds"] = time.perf_counter() - t0
            p = est.predict_proba(Xte)
            row[f"{label}_accuracy"] = float(accuracy_score(yte, est.predict(Xte)))
            row[f"{label}_log_loss"] = float(log_loss(yte, p, labels=est.classes_))
            if label.startswith("vb"):
                row[f"{label}_n_iter"] = [int(v) for v in est.n_iter_]
        rows.append(row)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--d", type=int, default=None)
    ap.add_argument("--logistic-n", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    n = args.n or (20_000 if args.quick else 200_000)
    d = args.d or (50 if args.quick else 200)
    ln = args.logistic_n or (20_000 if args.quick else 100_000)
    out = {"python": sys.version.split()[0], "machine": platform.machine(),
           "cpus": os.cpu_count(), "load_average": os.getloadavg(), "linear": [],
           "logistic": []}
    for th in args.threads:
        r = linear_speed(n, d, args.repeat, th, args.backend)
        out["linear"].append(r)
        print(f"[linear n={n} d={d} threads={th} backend={r['backend']}] "
              f"X^T X {r['xtx_seconds']:.3f}s; "
              f"fit {r['fit_seconds']:.3f}s = {r['fit_over_xtx']:.2f}x "
              f"(target <= {TARGET_LINEAR}x, {r['n_iter']} iterations); ARD fit "
              f"{r['ard_over_xtx']:.2f}x ({r['n_iter_ard']} it.); BayesianRidge "
              f"{r['bayesian_ridge_seconds']:.3f}s = {r['bayesian_ridge_over_xtx']:.1f}x; "
              f"max |coef - BayesianRidge| {r['max_abs_coef_diff_vs_bayesian_ridge']:.2e}",
              flush=True)
        r = logistic_speed(ln, d, args.repeat, th, args.backend)
        out["logistic"].append(r)
        print(f"[logistic n={ln} d={d} threads={th} backend={r['backend']}] weighted Gram "
              f"{r['weighted_gram_seconds']:.3f}s; one iteration {r['iteration_seconds']:.3f}s = "
              f"{r['iteration_over_weighted_gram']:.2f}x (target <= {TARGET_LOGISTIC}x)",
              flush=True)
    out["accuracy"] = accuracy(args.backend)
    for row in out["accuracy"]:
        print(f"[{row['dataset']} n_test={row['n_test']} d={row['d']} K={row['classes']}] "
              f"accuracy VB {row['vb_accuracy']:.4f} / VB-ARD {row['vb_ard_accuracy']:.4f} / "
              f"sklearn {row['sklearn_accuracy']:.4f}; log-loss VB {row['vb_log_loss']:.4f} / "
              f"VB-ARD {row['vb_ard_log_loss']:.4f} / sklearn {row['sklearn_log_loss']:.4f}; "
              f"VB iterations {row['vb_n_iter']}", flush=True)
    out["load_average_end"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
