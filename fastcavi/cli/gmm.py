"""``fastcavi gmm``: fit a Bayesian Gaussian mixture from the command line.

Reads a numeric table (scikit-learn's bundled handwritten digits by default,
or a ``.csv``, ``.npy`` or ``.npz`` file), fits
:class:`fastcavi.BayesianGaussianMixture` by CAVI with a progress bar, prints
the effective number of components, the weights, the ELBO trace and the
cluster sizes, and writes ``parameters.npz``, ``labels.csv`` and
``summary.json`` to an output folder, all or nothing.

Bad input prints one line, ``fastcavi: error: <message>``, and exits with
status 2 before anything is written (see :mod:`fastcavi.cli`).
"""

from __future__ import annotations

import csv
import math
import os
import sys
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

__all__ = ["add_parser", "run_gmm", "EFFECTIVE_WEIGHT"]

#: A component counts as "effective" when its weight is at least this.
EFFECTIVE_WEIGHT = 0.01


_nonnegative_float = _argument_type(
    "_nonnegative_float", float, "a non-negative number",
    (lambda v: math.isfinite(v) and v >= 0, "must be a non-negative finite number, got {text!r}"))


def add_parser(sub):
    """Add the ``gmm`` command to the sub-command parsers of ``fastcavi``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        As returned by ``parser.add_subparsers``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The ``gmm`` parser; its ``handler`` default is :func:`run_gmm`.
    """
    gmm = _add_fit_command(
        sub, "gmm", run_gmm,
        help="fit a Bayesian Gaussian mixture and report its components",
        description="Fit a Bayesian Gaussian mixture (CAVI, Bishop PRML 10.2) to a numeric "
        "table, print the effective number of components, weights, ELBO trace and cluster "
        "sizes, and write parameters.npz, labels.csv and summary.json to the output folder.",
        input_help="numeric data, one sample per row: a .csv file (optional header row), a 2-D "
        ".npy array or a .npz file holding an array 'X'. Default: scikit-learn's bundled "
        "handwritten digits (1,797 x 61 after dropping the 3 always-blank pixels).",
    )
    gmm.add_argument("-k", "--n-components", type=_positive_int, default=20, metavar="K",
                     help="upper bound on the number of components (default: %(default)s)")
    gmm.add_argument("--covariance-type", choices=("full", "tied", "diag", "spherical"),
                     default="full", help="form of each component's covariance "
                     "(default: %(default)s)")
    gmm.add_argument("--prior", dest="weight_concentration_prior_type",
                     choices=("dirichlet_process", "dirichlet_distribution"),
                     default="dirichlet_process",
                     help="prior on the weights: truncated stick-breaking Dirichlet process or "
                     "a finite Dirichlet (default: %(default)s)")
    gmm.add_argument("--weight-concentration-prior", type=_positive_float, default=None,
                     metavar="GAMMA", help="concentration of the weight prior "
                     "(default: 1/K)")
    gmm.add_argument("--max-iter", type=_positive_int, default=200, metavar="N",
                     help="CAVI iterations at most (default: %(default)s)")
    gmm.add_argument("--tol", type=_nonnegative_float, default=1e-3,
                     help="stop when the lower bound improves by less than this "
                     "(default: %(default)s)")
    gmm.add_argument("--n-init", type=_positive_int, default=1, metavar="N",
                     help="initialisations; the best lower bound is kept (default: %(default)s)")
    gmm.add_argument("--init-params", choices=("kmeans", "k-means++", "random",
                                               "random_from_data"), default="kmeans",
                     help="initial responsibilities (default: %(default)s)")
    gmm.add_argument("--reg-covar", type=_nonnegative_float, default=1e-6, metavar="R",
                     help="added to the diagonal of each covariance (default: %(default)s)")
    _add_compute_options(gmm, n_jobs_help="threads; -1 means all cores (default: %(default)s)",
                         seed_help="seed of the initialisation (default: %(default)s)")
    _add_output_options(gmm)
    return gmm


def run_gmm(args):
    """Run ``fastcavi gmm``: load, check, fit, report, write.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of the ``gmm`` command.

    Returns
    -------
    status : int
        0 on success.

    Raises
    ------
    fastcavi.cli.UsageError
        For bad input: a missing or unreadable file, non-numeric fields, NaN
        or infinite values, one sample, fewer samples than components, a
        zero-variance feature, or an unusable output folder.
    """
    import numpy as np

    from ..mixture import BayesianGaussianMixture
    from ..tabular import TableError, check_mixture_data, load_digits_table, load_table

    output = Path(args.output)
    _check_output_location(output)
    _check_backend(args.backend, "gmm")

    t_start = time.perf_counter()
    try:
        if args.input is None:
            table, source = load_digits_table(), "bundled handwritten digits (scikit-learn)"
        else:
            table, source = load_table(args.input), str(args.input)
        check_mixture_data(table, args.n_components, source)
    except (TableError, FileNotFoundError) as exc:
        raise UsageError(exc) from None
    load_seconds = time.perf_counter() - t_start
    X = table.X.astype(args.dtype)

    print(f"data: {table.n_samples:,} samples, {table.n_features:,} features")
    print(f"source: {source}")
    print(f"model: up to {args.n_components} components, {args.covariance_type} covariances, "
          f"{args.weight_concentration_prior_type.replace('_', ' ')} prior")
    sys.stdout.flush()  # before the progress bar appears on stderr

    gmm = BayesianGaussianMixture(
        n_components=args.n_components,
        covariance_type=args.covariance_type,
        weight_concentration_prior_type=args.weight_concentration_prior_type,
        weight_concentration_prior=args.weight_concentration_prior,
        max_iter=args.max_iter,
        tol=args.tol,
        n_init=args.n_init,
        init_params=args.init_params,
        reg_covar=args.reg_covar,
        random_state=args.random_state,
        backend=args.backend,
        n_jobs=args.n_jobs,
        progress_bar=not args.quiet,
    )
    t0 = time.perf_counter()
    gmm.fit(X)
    fit_seconds = time.perf_counter() - t0
    proba = gmm.predict_proba(X)
    labels = proba.argmax(axis=1)
    sizes = np.bincount(labels, minlength=gmm.weights_.shape[0])
    weights = np.asarray(gmm.weights_, dtype=np.float64)
    effective = np.flatnonzero(weights >= EFFECTIVE_WEIGHT)

    results = {
        "elbo": float(gmm.elbo_),
        "elbo_history": [float(v) for v in gmm.elbo_history_],
        "lower_bound": float(gmm.lower_bound_),
        "converged": bool(gmm.converged_),
        "n_iter": int(gmm.n_iter_),
        "n_effective_components": int(effective.size),
        "effective_weight_threshold": EFFECTIVE_WEIGHT,
        "weights": weights,
        "cluster_sizes": sizes,
        "mean_log_predictive_density": float(np.mean(gmm.predictive_log_density(X))),
        "score": float(gmm.score(X)),
        "throughput_samples_per_second":
            table.n_samples * gmm.n_iter_ / fit_seconds if fit_seconds > 0 else None,
    }
    if table.target is not None:
        from sklearn.metrics import adjusted_rand_score

        results["adjusted_rand_index"] = float(adjusted_rand_score(table.target, labels))
    timings = {"load_seconds": load_seconds, "fit_seconds": fit_seconds,
               "total_seconds": time.perf_counter() - t_start}
    _print_results(gmm, results, timings, args)

    from ..engine import effective_threads

    summary = {
        "command": "gmm",
        "parameters": {
            "input": args.input,
            "dtype": args.dtype,
            "estimator": {k: _jsonable(v) for k, v in gmm.get_params().items()},
        },
        "data": {"source": source, "description": table.description,
                 "n_samples": table.n_samples, "n_features": table.n_features,
                 "feature_names": list(table.feature_names)},
        "results": results,
        "timings": timings,
        "runtime": {**_versions(), "backend": gmm.backend_,
                    "threads": effective_threads(args.n_jobs), "cpu_count": os.cpu_count()},
    }
    _write_output(output, lambda folder: _write_files(folder, gmm, labels, proba, summary))
    print(f"output: {output}{os.sep}")
    return EXIT_OK


def _print_results(gmm, results, timings, args):
    weights, sizes = results["weights"], results["cluster_sizes"]
    order = sorted(range(weights.shape[0]), key=lambda k: -weights[k])
    print()
    print(f"effective components: {results['n_effective_components']} of {weights.shape[0]} "
          f"(weight >= {EFFECTIVE_WEIGHT:g})")
    print("components (largest weight first):")
    print("  component    weight  samples")
    for k in order:
        if weights[k] < EFFECTIVE_WEIGHT and sizes[k] == 0:
            continue
        print(f"  {k:>9}  {weights[k]:8.4f}  {sizes[k]:>7,}")
    hidden = sum(1 for k in order if weights[k] < EFFECTIVE_WEIGHT and sizes[k] == 0)
    if hidden:
        print(f"  ({hidden} empty component{'s' if hidden != 1 else ''} with weight "
              f"< {EFFECTIVE_WEIGHT:g} not shown)")
    trace = results["elbo_history"]
    print()
    shown = trace if len(trace) <= 8 else trace[:4] + [None] + trace[-3:]
    print("ELBO trace (nats): " + ", ".join("..." if v is None else f"{v:.6g}" for v in shown))
    print(f"final ELBO: {results['elbo']:.8g} nats "
          f"({'converged' if results['converged'] else 'not converged'} after "
          f"{results['n_iter']} iteration{'s' if results['n_iter'] != 1 else ''})")
    print(f"mean log predictive density: {results['mean_log_predictive_density']:.4f} "
          "nats per sample (Student-t posterior predictive, PRML eq. 10.81)")
    if "adjusted_rand_index" in results:
        print(f"adjusted Rand index against the true digit labels: "
              f"{results['adjusted_rand_index']:.3f}")
    print(f"fit wall time: {timings['fit_seconds']:.2f} s")
    if results["throughput_samples_per_second"] is not None:
        print(f"throughput: {results['throughput_samples_per_second']:,.0f} samples/s "
              "(samples x iterations / fit wall time)")
    print(f"backend: {gmm.backend_}, {args.dtype}")


def _write_files(folder, gmm, labels, proba, summary):
    import numpy as np

    arrays = {
        name: np.asarray(getattr(gmm, name))
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_",
                     "weight_concentration_", "mean_precision_", "degrees_of_freedom_")
    }
    if isinstance(gmm.weight_concentration_, tuple):  # stick-breaking: two Beta parameters
        a, b = gmm.weight_concentration_
        arrays["weight_concentration_"] = np.stack([a, b])
    np.savez(folder / "parameters.npz", **{k.rstrip("_"): v for k, v in arrays.items()})

    with open(folder / "labels.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["sample", "label", "probability"])
        for i, (label, p) in enumerate(zip(labels, proba[np.arange(len(labels)), labels])):
            writer.writerow([i, int(label), f"{p:.9g}"])

    with open(folder / "summary.json", "w", encoding="utf-8", newline="\n") as f:
        _dump_json(summary, f)
