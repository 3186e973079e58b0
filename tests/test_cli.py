"""Tests for the ``fastcavi`` command-line tool (fastcavi.cli, fastcavi.cli.lda)."""

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

import fastcavi
from fastcavi import cli
from fastcavi.cli import _common
from fastcavi.cli import lda as cli_lda
from fastcavi.cli import main

ROOT = Path(__file__).resolve().parent.parent
OUTPUT_FILES = {"topics.txt", "topic_word.npz", "vocabulary.txt", "doc_topic.csv",
                "summary.json"}


def run_cli(args):
    """Run ``main(args)`` in-process; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def small_counts(n_docs=40, n_words=30, seed=0):
    rs = np.random.RandomState(seed)
    X = rs.poisson(0.6, size=(n_docs, n_words)).astype(np.float64)
    X[:, 0] += 1  # no empty documents
    return sp.csr_matrix(X)


def write_npz(folder, X, name="counts.npz"):
    path = folder / name
    sp.save_npz(path, sp.csr_matrix(X))
    return path


def write_vocab(folder, n_words, name="vocab.txt"):
    path = folder / name
    path.write_text("".join(f"term{j}\n" for j in range(n_words)), encoding="utf-8")
    return path


def read_outputs(out_dir):
    """Parse every output file; check the formats shared by all runs."""
    assert {p.name for p in out_dir.iterdir()} == OUTPUT_FILES
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    K = summary["parameters"]["n_components"]

    topics = (out_dir / "topics.txt").read_text(encoding="utf-8").splitlines()
    assert len(topics) == K
    topic_words = []
    for k, line in enumerate(topics):
        topic_id, sep, words = line.partition("\t")
        assert sep == "\t" and topic_id == str(k)
        topic_words.append(words.split(" "))

    vocab = (out_dir / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
    assert vocab[-1] == ""
    vocab = vocab[:-1]
    assert len(vocab) == summary["corpus"]["n_words"]

    with np.load(out_dir / "topic_word.npz") as f:
        topic_word, lam = f["topic_word"], f["components"]
    assert topic_word.shape == lam.shape == (K, len(vocab))
    np.testing.assert_allclose(topic_word.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(topic_word, lam / lam.sum(axis=1, keepdims=True))
    for k, words in enumerate(topic_words):  # topics.txt ranks words by topic_word
        n = len(words)
        assert n == min(summary["parameters"]["top_words"], len(vocab))
        top = np.argsort(-lam[k], kind="stable")[:n]
        assert words == [vocab[j] for j in top]

    with open(out_dir / "doc_topic.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["document"] + [f"topic_{k}" for k in range(K)]
    ids = [r[0] for r in rows[1:]]
    theta = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert theta.shape == (summary["corpus"]["n_train_documents"], K)
    assert np.all(theta >= 0)
    np.testing.assert_allclose(theta.sum(axis=1), 1.0, atol=1e-6)
    assert not set(ids) & set(summary["corpus"]["test_documents"])
    return {"summary": summary, "topics": topic_words, "vocab": vocab, "lam": lam,
            "ids": ids, "theta": theta}


def assert_clean(folder, out_dir):
    """No output folder and no temporary folder left behind."""
    assert not out_dir.exists()
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert leftovers == []


# --------------------------------------------------------------------------
# Bundled corpus, end to end
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sotu_run(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("sotu") / "out"
    status, stdout, stderr = run_cli(
        ["lda", "--unit", "speech", "-k", "5", "--max-iter", "2", "--quiet", "--top-words", "7",
         "-o", out_dir])
    return status, stdout, stderr, out_dir


def test_bundled_corpus_end_to_end(sotu_run):
    status, stdout, stderr, out_dir = sotu_run
    assert status == 0, stderr
    assert stderr == ""  # --quiet: no progress bar
    r = read_outputs(out_dir)
    s = r["summary"]

    corpus = s["corpus"]
    assert corpus["source"].startswith("bundled State of the Union corpus")
    assert corpus["n_train_documents"] + corpus["n_test_documents"] == corpus["n_documents"]
    assert corpus["n_test_documents"] == round(0.1 * corpus["n_documents"])
    assert len(corpus["test_documents"]) == corpus["n_test_documents"]
    assert 0 < corpus["n_train_tokens"] < corpus["n_tokens"]
    # speech ids "1790-Washington-1", in corpus order, training documents only
    assert all(i.split("-")[0].isdigit() for i in r["ids"])
    years = [int(i[:4]) for i in r["ids"]]
    assert years == sorted(years) and len(set(r["ids"])) == len(r["ids"])

    params = s["parameters"]
    assert params["unit"] == "speech" and params["n_components"] == 5
    assert params["max_iter"] == 2 and params["test_fraction"] == 0.1
    assert params["estimator"]["n_components"] == 5

    res = s["results"]
    assert len(res["elbo_history"]) == res["n_iter"] == 2
    assert res["elbo_history"][1] >= res["elbo_history"][0]
    assert np.isfinite(res["elbo"]) and res["elbo"] < 0
    assert res["heldout_perplexity"] > 1 and res["training_perplexity"] > 1
    assert res["throughput_tokens_per_second"] > 0
    for key in ("load_seconds", "fit_seconds", "transform_seconds", "heldout_eval_seconds",
                "total_seconds"):
        assert s["timings"][key] >= 0
    assert s["runtime"]["fastcavi"] == fastcavi.__version__
    assert s["runtime"]["backend"] in fastcavi.available_backends()
    assert s["runtime"]["threads"] >= 1

    # stdout reports the same figures
    assert f"{corpus['n_documents']:,} documents" in stdout
    assert f"held-out perplexity: {res['heldout_perplexity']:.2f}" in stdout
    assert f"training perplexity: {res['training_perplexity']:.2f}" in stdout
    assert "final ELBO" in stdout and "tokens/s" in stdout and "fit wall time" in stdout
    assert f"backend: {s['runtime']['backend']}" in stdout
    for words in r["topics"]:
        assert " ".join(words) in stdout


def test_rerun_replaces_output_folder(sotu_run, tmp_path):
    *_, out_dir = sotu_run
    assert out_dir.is_dir()
    X = small_counts()
    inp = write_npz(tmp_path, X)
    target = tmp_path / "out"
    target.mkdir()
    (target / "topics.txt").write_text("stale\n")
    (target / "summary.json").write_text("{}")
    status, _, err = run_cli(["lda", inp, "-k", "3", "--max-iter", "2", "-q", "-o", target])
    assert status == 0, err
    r = read_outputs(target)  # the new files, exactly the five of them
    assert r["summary"]["corpus"]["n_documents"] == X.shape[0]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_failure_keeps_existing_output_folder(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "topics.txt").write_text("previous results\n")
    status, _, err = run_cli(["lda", tmp_path / "missing.npz", "-q", "-o", target])
    assert status == 2 and err.startswith("fastcavi: error:")
    assert [p.name for p in target.iterdir()] == ["topics.txt"]
    assert (target / "topics.txt").read_text() == "previous results\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --------------------------------------------------------------------------
# Other input formats
# --------------------------------------------------------------------------


def test_npz_with_vocab_float32_online(tmp_path):
    X = small_counts()
    inp = write_npz(tmp_path, X)
    vocab = write_vocab(tmp_path, X.shape[1])
    out_dir = tmp_path / "out"
    status, stdout, err = run_cli(
        ["lda", inp, "--vocab", vocab, "-k", "3", "--max-iter", "2", "--dtype", "float32",
         "--learning-method", "online", "--batch-size", "8", "--learn-prior", "symmetric",
         "--e-step-init", "warm",
         "--backend", "numpy", "--n-jobs", "1", "--test-fraction", "0.25", "-q",
         "-o", out_dir])
    assert status == 0, err
    r = read_outputs(out_dir)
    assert r["vocab"] == [f"term{j}" for j in range(X.shape[1])]
    assert r["lam"].dtype == np.float32
    s = r["summary"]
    assert s["corpus"]["n_test_documents"] == 10
    assert s["runtime"]["backend"] == "numpy" and s["runtime"]["threads"] == 1
    assert s["parameters"]["estimator"]["learn_doc_topic_prior"] == "symmetric"
    assert s["parameters"]["estimator"]["e_step_init"] == "warm"
    # row numbers as ids; training rows + held-out rows = all rows
    assert sorted(map(int, r["ids"] + s["corpus"]["test_documents"])) == list(range(40))
    assert "backend: numpy, 1 thread, float32" in stdout


def test_uci_docword_and_test_fraction_zero(tmp_path):
    X = sp.coo_matrix(small_counts(n_docs=12, n_words=9))
    lines = [f"{X.shape[0]}", f"{X.shape[1]}", f"{X.nnz}"]
    lines += [f"{i + 1} {j + 1} {int(v)}" for i, j, v in zip(X.row, X.col, X.data)]
    (tmp_path / "docword.tiny.txt").write_text("\n".join(lines) + "\n")
    write_vocab(tmp_path, X.shape[1], name="vocab.tiny.txt")
    out_dir = tmp_path / "out"
    status, stdout, err = run_cli(
        ["lda", tmp_path / "docword.tiny.txt", "-k", "2", "--max-iter", "2",
         "--test-fraction", "0", "--doc-topic-prior", "0.3", "--topic-word-prior", "0.05",
         "-q", "-o", out_dir])
    assert status == 0, err
    r = read_outputs(out_dir)
    s = r["summary"]
    assert s["corpus"]["n_test_documents"] == 0 and len(r["ids"]) == 12
    assert s["results"]["heldout_perplexity"] is None
    assert s["results"]["doc_topic_prior"] == 0.3 and s["results"]["topic_word_prior"] == 0.05
    assert "held-out perplexity: not computed" in stdout


def test_text_folder_and_mtx(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    texts = ["apples and pears grow on trees", "pears apples orchard harvest",
             "rockets orbit the planet", "planet orbit moon rockets launch"]
    for i, t in enumerate(texts):
        (docs / f"doc{i}.txt").write_text(t, encoding="utf-8")
    out_dir = tmp_path / "out"
    status, _, err = run_cli(["lda", docs, "-k", "2", "--max-iter", "2",
                              "--test-fraction", "0", "-q", "-o", out_dir])
    assert status == 0, err
    r = read_outputs(out_dir)
    assert r["ids"] == ["doc0", "doc1", "doc2", "doc3"]
    assert "the" not in r["vocab"] and "and" not in r["vocab"]  # English stop words removed

    mtx = tmp_path / "counts.mtx"
    scipy.io.mmwrite(mtx, small_counts(n_docs=10, n_words=6))
    status, _, err = run_cli(["lda", mtx, "-k", "2", "--max-iter", "1", "-q",
                              "-o", tmp_path / "out2"])
    assert status == 0, err
    assert read_outputs(tmp_path / "out2")["vocab"] == [f"w{j}" for j in range(6)]


def test_20newsgroups_counts(tmp_path, newsgroups_dir):
    out_dir = tmp_path / "out"
    status, stdout, err = run_cli(
        ["lda", newsgroups_dir / "test_counts.npz", "--vocab", newsgroups_dir / "vocab.txt",
         "-k", "5", "--max-iter", "1", "-q", "-o", out_dir])
    assert status == 0, err
    r = read_outputs(out_dir)
    s = r["summary"]
    assert s["corpus"]["n_documents"] == 7505 and s["corpus"]["n_words"] == 61188
    assert s["corpus"]["n_test_documents"] == 750
    assert r["theta"].shape == (7505 - 750, 5)
    assert r["vocab"] == (newsgroups_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert 1 < s["results"]["heldout_perplexity"] < 61188
    assert "held-out perplexity" in stdout


# --------------------------------------------------------------------------
# Bad input: one line on stderr, status 2, no output
# --------------------------------------------------------------------------


def _npz(X):
    return lambda d: [write_npz(d, sp.csr_matrix(np.asarray(X, dtype=np.float64)))]


def _file(name, text):
    def make(d):
        (d / name).write_text(text, encoding="utf-8")
        return [d / name]
    return make


def _empty_folder(d):
    (d / "docs").mkdir()
    (d / "docs" / "notes.md").write_text("not a txt file")
    return [d / "docs"]


def _output_holds_other_files(d):
    (d / "results").mkdir()
    (d / "results" / "notes.txt").write_text("mine")
    return [write_npz(d, small_counts()), "-o", d / "results"]


def _output_is_a_file(d):
    (d / "taken").write_text("x")
    return [write_npz(d, small_counts()), "-o", d / "taken"]


GOOD = [[1, 2, 0], [0, 3, 1], [2, 0, 4], [1, 1, 1]]

BAD_INPUTS = {
    "missing file": (lambda d: [d / "nope.npz"], "not found"),
    "malformed npz": (_file("counts.npz", "not a zip archive"), "counts.npz"),
    "negative count": (_npz([[1, -2, 0], [0, 3, 1]]), "negative count"),
    "infinite count": (_npz([[1, np.inf, 0], [0, 3, 1]]), "non-finite count"),
    "nan count": (_npz([[1, np.nan, 0], [0, 3, 1]]), "non-finite count"),
    "vocabulary size mismatch":
        (lambda d: [write_npz(d, sp.csr_matrix(np.array(GOOD, float))), "--vocab",
                    write_vocab(d, 2)], "2 terms"),
    "missing vocabulary file":
        (lambda d: [write_npz(d, sp.csr_matrix(np.array(GOOD, float))), "--vocab",
                    d / "missing_vocab.txt"], "not found"),
    "empty corpus": (_npz(np.zeros((3, 4))), "empty corpus"),
    "malformed docword header":
        (lambda d: [_file("docword.x.txt", "two\n3\n1\n1 1 1\n")(d)[0],
                    "--vocab", write_vocab(d, 3)], "bad header"),
    "docword without vocabulary": (_file("docword.y.txt", "1\n1\n1\n1 1 2\n"), "vocab"),
    "unknown format": (_file("counts.csv", "1,2\n3,4\n"), "cannot tell the format"),
    "folder without txt files": (_empty_folder, "no *.txt files"),
    "fractional counts with held-out set": (_npz([[0.5, 2, 0], [1.5, 3, 1], [2.5, 2, 2]]),
                                            "whole-number counts"),
    "single document with held-out set": (_npz([[1, 2, 3]]), "at least 2"),
    "n_components 0": (lambda d: ["-k", "0"], "n-components"),
    "n_components not a number": (lambda d: ["-k", "five"], "n-components"),
    "max_iter 0": (lambda d: ["--max-iter", "0"], "max-iter"),
    "test fraction 1": (lambda d: ["--test-fraction", "1"], "test-fraction"),
    "test fraction negative": (lambda d: ["--test-fraction=-0.1"], "test-fraction"),
    "test fraction nan": (lambda d: ["--test-fraction", "nan"], "test-fraction"),
    "doc-topic prior negative": (lambda d: ["--doc-topic-prior=-1"], "doc-topic-prior"),
    "topic-word prior inf": (lambda d: ["--topic-word-prior", "inf"], "topic-word-prior"),
    "bad dtype": (lambda d: ["--dtype", "float16"], "dtype"),
    "bad learning method": (lambda d: ["--learning-method", "sgd"], "learning-method"),
    "bad backend": (lambda d: ["--backend", "cuda"], "backend"),
    "n_jobs 0": (lambda d: ["--n-jobs", "0"], "n-jobs"),
    "negative random state": (lambda d: ["--random-state=-1"], "random-state"),
    "bad unit": (lambda d: ["--unit", "chapter"], "unit"),
    "unit with input": (lambda d: [write_npz(d, small_counts()), "--unit", "speech"], "--unit"),
    "vocab without input": (lambda d: ["--vocab", write_vocab(d, 3)], "--vocab"),
    "output is a file": (_output_is_a_file, "not a folder"),
    "output holds other files": (_output_holds_other_files, "did not write (notes.txt)"),
    "unknown option": (lambda d: ["--frobnicate"], "unrecognized arguments"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input(case, tmp_path):
    make, fragment = BAD_INPUTS[case]
    data = tmp_path / "data"
    data.mkdir()
    args = make(data)
    out_dir = tmp_path / "out"
    if "-o" not in args:
        args = args + ["-o", out_dir]
    status, stdout, stderr = run_cli(["lda", *args, "-q"])
    assert status == 2
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("fastcavi: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in stderr
    assert_clean(tmp_path, out_dir)
    assert [p.name for p in data.iterdir() if p.name.startswith(".")] == []
    if case == "output holds other files":
        assert [p.name for p in (data / "results").iterdir()] == ["notes.txt"]


def test_keyboard_interrupt_leaves_no_output(tmp_path, monkeypatch):
    def interrupted_fit(self, X, y=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(fastcavi.LatentDirichletAllocation, "fit", interrupted_fit)
    out_dir = tmp_path / "out"
    status, _, stderr = run_cli(["lda", write_npz(tmp_path, small_counts()), "-q",
                                 "-o", out_dir])
    assert status == 130
    assert stderr.splitlines() == ["fastcavi: interrupted"]
    assert_clean(tmp_path, out_dir)


# --------------------------------------------------------------------------
# The output swap: an interrupt at any step keeps the old results or the new
# --------------------------------------------------------------------------


class FailOnCall:
    """Wrap ``function`` so that its ``at``-th call (and, with ``repeat``, every later
    one) raises ``error`` instead of running; ``at=None`` only counts."""

    def __init__(self, function, at=None, error=KeyboardInterrupt, repeat=False):
        self.function, self.at, self.error, self.repeat, self.calls = (
            function, at, error, repeat, 0)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.at is not None and (self.calls == self.at or self.repeat and self.calls > self.at):
            raise self.error()
        return self.function(*args, **kwargs)


def folder_bytes(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def hidden(parent):
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def fake_writer(contents, fail=None):
    """A ``write_files`` that writes ``contents`` file by file, each through ``fail``."""
    def write(folder):
        for name, data in contents.items():
            (fail or (lambda f: f()))(lambda: (folder / name).write_bytes(data))
    return write


#: the calls of the swap that a test makes fail, with the functions they wrap
ORIGINALS = {"os.replace": os.replace, "shutil.rmtree": shutil.rmtree, "mkdir": Path.mkdir,
             "open": open}


def patch_step(mp, step, fault):
    """Route the calls of ``step`` through ``fault`` (a FailOnCall of the original)."""
    if step == "os.replace":
        mp.setattr(os, "replace", fault)
    elif step == "shutil.rmtree":
        mp.setattr(shutil, "rmtree", fault)
    elif step == "mkdir":
        mp.setattr(Path, "mkdir", lambda self, *a, **k: fault(self, *a, **k))
    else:  # the writer's files: cli_lda.open shadows the builtin
        mp.setattr(cli_lda, "open", fault, raising=False)


@pytest.mark.parametrize("existing", [True, False], ids=["rerun", "first-run"])
@pytest.mark.parametrize("step, error", [
    ("writer", KeyboardInterrupt), ("writer", OSError), ("mkdir", KeyboardInterrupt),
    ("mkdir", OSError), ("os.replace", KeyboardInterrupt), ("os.replace", OSError),
    ("shutil.rmtree", KeyboardInterrupt)])  # rmtree(ignore_errors=True) raises no OSError
def test_write_output_interrupted_at_every_call_keeps_old_or_new(tmp_path, monkeypatch, step,
                                                                 error, existing):
    """_common._write_output (shared by fastcavi lda and fastcavi gmm): whichever call of
    the step fails, output holds exactly the old files or exactly the new ones, and no
    temporary or backup folder is left."""
    old = {"topics.txt": b"old topics\n", "summary.json": b"{}\n"}
    new = {"topics.txt": b"new topics\n", "summary.json": b'{"new": 1}\n',
           "doc_topic.csv": b"document\n"}
    out = tmp_path / "out"

    def run(at):
        shutil.rmtree(out, ignore_errors=True)
        if existing:
            out.mkdir()
            for name, data in old.items():
                (out / name).write_bytes(data)
        with monkeypatch.context() as mp:
            if step == "writer":
                fault = FailOnCall(lambda f: f(), at, error)
                writer = fake_writer(new, fault)
            else:
                fault = FailOnCall(ORIGINALS[step], at, error)
                patch_step(mp, step, fault)
                writer = fake_writer(new)
            try:
                _common._write_output(out, writer)
            except (KeyboardInterrupt, cli.UsageError) as exc:
                return fault.calls, exc
        return fault.calls, None

    n_calls, raised = run(None)
    assert raised is None and folder_bytes(out) == new and n_calls > 0
    for at in range(1, n_calls + 1):
        _, raised = run(at)
        assert isinstance(raised, KeyboardInterrupt if error is KeyboardInterrupt
                          else cli.UsageError), (step, at, raised)
        state = folder_bytes(out) if out.exists() else None
        assert state in ((old if existing else None), new), (step, at, state)
        assert hidden(tmp_path) == [], (step, at)


def test_write_output_double_failure_never_deletes_the_old_results(tmp_path, monkeypatch,
                                                                   capsys):
    """The swap fails, and so does putting the old results back: they stay in the backup
    folder, whose path is printed; nothing else is left."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "topics.txt").write_text("old\n")
    monkeypatch.setattr(os, "replace", FailOnCall(os.replace, 2, repeat=True))
    with pytest.raises(KeyboardInterrupt):
        _common._write_output(out, fake_writer({"topics.txt": b"new\n"}))
    assert not out.exists()
    (backup,) = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert (backup / "topics.txt").read_text() == "old\n"
    assert f"previous contents of {out.absolute()} are in {backup}" in capsys.readouterr().err


@pytest.mark.parametrize("step", ["os.replace", "shutil.rmtree", "open"])
def test_lda_rerun_interrupted_at_every_call_keeps_old_or_new(tmp_path, monkeypatch, step):
    """Issue 9: `fastcavi lda -o out` twice, the second run interrupted at each call of
    os.replace, shutil.rmtree or the writer's open(): out holds all five files of one
    run, the first (byte for byte) or the second; no hidden folder is left."""
    inp = write_npz(tmp_path, small_counts())
    out = tmp_path / "out"
    first = ["lda", inp, "-k", "3", "--max-iter", "2", "-q", "-o", out]
    second = ["lda", inp, "-k", "4", "--max-iter", "2", "-q", "-o", out]
    assert run_cli(first)[0] == 0  # count the calls of an uninterrupted rerun
    counter = FailOnCall(ORIGINALS[step])
    with monkeypatch.context() as mp:
        patch_step(mp, step, counter)
        assert run_cli(second)[0] == 0
    assert counter.calls >= {"os.replace": 2, "shutil.rmtree": 2, "open": 4}[step]
    for at in range(1, counter.calls + 1):
        assert run_cli(first)[0] == 0
        old = folder_bytes(out)
        with monkeypatch.context() as mp:
            patch_step(mp, step, FailOnCall(ORIGINALS[step], at))
            status, _, err = run_cli(second)
        assert status == 130 and err.splitlines()[-1] == "fastcavi: interrupted", (at, err)
        assert hidden(tmp_path) == [], at
        if step == "os.replace" and at == 2:  # the case: the rename of the new folder
            assert folder_bytes(out) == old
        if folder_bytes(out) != old:
            assert read_outputs(out)["summary"]["parameters"]["n_components"] == 4, at


def test_missing_command_and_help():
    status, _, stderr = run_cli([])
    assert status == 2 and stderr.startswith("fastcavi: error:") and len(stderr.splitlines()) == 1
    status, stdout, _ = run_cli(["lda", "--help"])
    assert status == 0
    for option in ("--n-components", "--max-iter", "--learning-method", "--batch-size",
                   "--backend", "--n-jobs", "--dtype", "--random-state", "--unit",
                   "--test-fraction", "--top-words", "--output", "--learn-prior", "--quiet",
                   "--e-step-init",
                   "--doc-topic-prior", "--topic-word-prior", "--vocab"):
        assert option in stdout


# --------------------------------------------------------------------------
# info, --version, and the real command in a subprocess
# --------------------------------------------------------------------------


def test_version_and_info():
    status, stdout, _ = run_cli(["--version"])
    assert status == 0 and stdout.strip() == f"fastcavi {fastcavi.__version__}"
    status, stdout, _ = run_cli(["info"])
    assert status == 0
    assert fastcavi.__version__ in stdout
    for backend in fastcavi.available_backends():
        assert backend in stdout
    assert "OpenMP" in stdout and "numba" in stdout and "CPU count" in stdout


def test_subprocess_python_m(tmp_path):
    inp = write_npz(tmp_path, small_counts())
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    out_dir = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "fastcavi", "lda", str(inp), "-k", "3", "--max-iter", "2",
         "-o", str(out_dir)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "held-out perplexity" in proc.stdout
    assert "pass" in proc.stderr and "elbo" in proc.stderr  # the progress bar
    read_outputs(out_dir)

    proc = subprocess.run(
        [sys.executable, "-m", "fastcavi", "lda", str(tmp_path / "missing.npz")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("fastcavi: error:") and len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "fastcavi-output").exists()
