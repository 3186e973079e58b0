"""Tests for ``fastcavi gmm`` (fastcavi.cli.gmm)."""

import contextlib
import csv
import io
import json
import os

import numpy as np
import pytest

from fastcavi.cli import main

GMM_FILES = {"parameters.npz", "labels.csv", "summary.json"}


def run_cli(args):
    """Run ``main(args)`` in-process; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def read_outputs(out_dir, n_samples, n_features):
    """Parse every output file and check their formats against each other."""
    assert {p.name for p in out_dir.iterdir()} == GMM_FILES
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    K = summary["parameters"]["estimator"]["n_components"]
    with np.load(out_dir / "parameters.npz") as f:
        params = {k: f[k] for k in f.files}
    assert params["weights"].shape == (K,)
    assert params["means"].shape == (K, n_features)
    np.testing.assert_allclose(params["weights"].sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(params["weights"], summary["results"]["weights"], rtol=1e-12)
    with open(out_dir / "labels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["sample", "label", "probability"]
    labels = np.array([int(r[1]) for r in rows[1:]])
    assert labels.shape == (n_samples,) and labels.min() >= 0 and labels.max() < K
    probability = np.array([float(r[2]) for r in rows[1:]])
    assert np.all((probability >= 1.0 / K - 1e-9) & (probability <= 1.0))
    np.testing.assert_array_equal(np.bincount(labels, minlength=K),
                                  summary["results"]["cluster_sizes"])
    trace = summary["results"]["elbo_history"]
    assert len(trace) == summary["results"]["n_iter"]
    assert trace[-1] == pytest.approx(summary["results"]["elbo"])
    return summary, params, labels


def test_default_run_on_bundled_digits(tmp_path):
    out_dir = tmp_path / "out"
    status, out, err = run_cli(["gmm", "-k", "10", "--max-iter", "30", "--covariance-type",
                                "diag", "-q", "-o", out_dir])
    assert status == 0, err
    assert err == ""  # -q: no progress bar
    summary, params, labels = read_outputs(out_dir, 1797, 61)
    assert summary["data"]["n_samples"] == 1797
    assert "bundled handwritten digits" in out
    assert "effective components:" in out and "ELBO trace (nats):" in out
    # the mixture finds real structure in the digits: well above chance agreement
    assert summary["results"]["adjusted_rand_index"] > 0.3
    assert f"adjusted Rand index against the true digit labels: " \
           f"{summary['results']['adjusted_rand_index']:.3f}" in out
    assert params["covariances"].shape == (10, 61)


def test_csv_input_and_all_options(tmp_path, rng):
    centres = np.array([[0.0, 0.0], [8.0, 8.0], [-8.0, 8.0]])
    X = np.concatenate([c + rng.normal(size=(60, 2)) for c in centres])
    path = tmp_path / "points.csv"
    path.write_text("u,v\n" + "".join(f"{a!r},{b!r}\n" for a, b in X.tolist()))
    out_dir = tmp_path / "out"
    status, out, err = run_cli([
        "gmm", path, "-k", "6", "--prior", "dirichlet_distribution",
        "--weight-concentration-prior", "0.01", "--n-init", "2", "--init-params", "k-means++",
        "--backend", "numpy", "--n-jobs", "1", "--dtype", "float32", "--random-state", "3",
        "-q", "-o", out_dir])
    assert status == 0, err
    summary, params, labels = read_outputs(out_dir, 180, 2)
    assert summary["results"]["n_effective_components"] == 3
    assert params["means"].dtype == np.float32
    assert summary["data"]["feature_names"] == ["u", "v"]
    # each true cluster is one label
    for c in range(3):
        assert np.unique(labels[60 * c:60 * (c + 1)]).size == 1


def bad_case(tmp_path, name):
    if name == "text":
        p = tmp_path / "x.csv"
        p.write_text("a,b\n1,2\n3,hello\n")
        return p, "row 3, column 'b': 'hello' is not a number"
    if name == "nan":
        p = tmp_path / "x.npy"
        X = np.arange(10.0).reshape(5, 2)
        X[2, 1] = np.nan
        np.save(p, X)
        return p, "NaN in row 3, column 'x1'"
    if name == "few":
        p = tmp_path / "x.npy"
        np.save(p, np.arange(6.0).reshape(3, 2) ** 2)
        return p, "3 samples is fewer than n_components=20"
    if name == "one":
        p = tmp_path / "x.npy"
        np.save(p, np.ones((1, 2)))
        return p, "only one sample"
    if name == "constant":
        p = tmp_path / "x.npy"
        np.save(p, np.column_stack([np.arange(30.0), np.full(30, 2.0)]))
        return p, "feature 'x1' has zero variance"
    if name == "wrong_type":
        p = tmp_path / "x.parquet"
        p.write_bytes(b"PAR1")
        return p, "unknown file type '.parquet'"
    if name == "missing":
        return tmp_path / "nope.csv", "data file not found"
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["text", "nan", "few", "one", "constant", "wrong_type",
                                  "missing"])
def test_bad_input_one_line_error_no_output(tmp_path, name):
    path, message = bad_case(tmp_path, name)
    out_dir = tmp_path / "out"
    status, out, err = run_cli(["gmm", path, "-q", "-o", out_dir])
    assert status == 2
    assert err.startswith("fastcavi: error: ") and err.count("\n") == 1
    assert message in err
    assert "Traceback" not in err
    assert not out_dir.exists()


def test_bad_options(tmp_path):
    for args, message in [(["-k", "0"], "must be a positive integer"),
                          (["--tol", "-1"], "must be a non-negative"),
                          (["--covariance-type", "round"], "invalid choice")]:
        status, _, err = run_cli(["gmm", *args, "-o", tmp_path / "o"])
        assert status == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_existing_output_is_kept_on_failure_and_foreign_folder_refused(tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "mine.txt").write_text("keep me")
    status, _, err = run_cli(["gmm", "-k", "2", "--max-iter", "2", "-q", "-o", out_dir])
    assert status == 2 and "holds files fastcavi did not write (mine.txt)" in err
    assert (out_dir / "mine.txt").read_text() == "keep me"


def test_rerun_interrupted_at_each_rename_keeps_old_or_new(tmp_path, monkeypatch):
    """fastcavi gmm swaps its output folder in with fastcavi lda's helper: an interrupt at
    either rename of a rerun leaves the complete old results or the complete new ones."""
    out_dir = tmp_path / "out"
    first = ["gmm", "-k", "2", "--max-iter", "3", "-q", "-o", out_dir]
    second = ["gmm", "-k", "3", "--max-iter", "3", "-q", "-o", out_dir]
    real_replace = os.replace
    for at in (1, 2):
        assert run_cli(first)[0] == 0
        old = {p.name: p.read_bytes() for p in out_dir.iterdir()}
        calls = {"n": 0}

        def replace(src, dst):
            calls["n"] += 1
            if calls["n"] == at:
                raise KeyboardInterrupt
            return real_replace(src, dst)

        with monkeypatch.context() as mp:
            mp.setattr(os, "replace", replace)
            status, _, err = run_cli(second)
        assert status == 130 and "interrupted" in err
        assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == old, at
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert run_cli(second)[0] == 0
    summary, _, _ = read_outputs(out_dir, 1797, 61)
    assert summary["parameters"]["estimator"]["n_components"] == 3
