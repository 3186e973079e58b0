"""The README's asv command, `asv run --python=same --quick` "from the repository root".

Two ways it broke for a new user (issue 14): there was no asv.conf.json at the root
("No asv.conf file found"), and on a machine asv had never seen ``asv run`` stopped to
ask for ``asv machine``. Now the configuration is at the root and its plugin
(benchmarks/asv_machine.py) records asv's default machine description.

Two kinds of test:

- without asv (CI installs only ``.[test]``): what the command reads -- the config at
  the root, parseable, its repo, benchmark suite and plugin where it says, the README
  saying the same thing. Moving or breaking any of these fails here.
- with asv installed (the ``bench`` extra): the command itself, with ``--dry-run``, in
  a temporary copy of the tree as a git repository, with an empty HOME (a machine asv
  has never seen) and no terminal; ``asv check`` imports the whole suite, and
  ``asv run`` runs one trivial benchmark added to the copy (the real ones take
  minutes: that is the README's smoke run, not a unit test).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "asv run --python=same --quick"


def _config(path=ROOT / "asv.conf.json"):
    """asv.conf.json (asv reads it as JSON5; this file keeps to JSON plus // lines)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return json.loads("\n".join(line for line in lines if not line.lstrip().startswith("//")))


def test_the_readme_documents_the_command_from_the_root():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`{COMMAND}` from the repository root" in readme
    bench_readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert COMMAND in bench_readme and "repository root" in bench_readme


def test_one_asv_config_at_the_root():
    assert (ROOT / "asv.conf.json").is_file(), "asv looks for asv.conf.json in the cwd"
    # (the old place: running from benchmarks/ would read another configuration)
    stray = [p.relative_to(ROOT).as_posix() for p in (ROOT / "benchmarks").rglob("asv.conf*")
             if ".asv" not in p.parts]
    assert not stray, f"a second asv config, read when run from another folder: {stray}"


def test_the_config_points_at_this_repository_and_the_suite():
    conf = _config()
    assert conf["version"] == 1 and conf["dvcs"] == "git"
    assert (ROOT / conf["repo"]).resolve() == ROOT
    suite = ROOT / conf["benchmark_dir"]
    assert (suite / "__init__.py").is_file()
    modules = sorted(p.name for p in suite.glob("bench_*.py"))
    assert modules, f"no benchmark modules in {conf['benchmark_dir']}"
    for name in modules:  # each defines something asv runs
        text = (suite / name).read_text(encoding="utf-8")
        assert re.search(r"def (time|track|mem|peakmem)_\w+\(", text), name
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    for key in ("env_dir", "results_dir", "html_dir"):  # not versioned
        assert conf[key].startswith("benchmarks/.asv/"), key
    assert "benchmarks/.asv/" in ignored


def test_the_plugin_that_describes_a_new_machine_is_where_the_config_says():
    conf = _config()
    assert ".benchmarks.asv_machine" in conf["plugins"]
    for plugin in conf["plugins"]:
        # asv imports ".a.b" as a.b with the cwd (the root) on sys.path
        assert plugin.startswith("."), plugin
        path = ROOT.joinpath(*plugin[1:].split(".")).with_suffix(".py")
        assert path.is_file(), f"plugin {plugin}: no {path.relative_to(ROOT)}"
        assert "\ndef setup():" in path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# With asv: the command itself
# --------------------------------------------------------------------------

SMOKE = '"""A benchmark that costs nothing, added by tests/test_asv_config.py."""\n\n\n' \
        "def time_smoke():\n    pass\n"


@pytest.fixture
def fresh_copy(tmp_path):
    """The tree as it is (tracked and new files) as a one-commit git repository."""
    pytest.importorskip("asv", reason="asv is not installed (the bench extra)")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    repo = tmp_path / "repo"
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file() and not rel.startswith("fastcavi/"):  # fastcavi: as installed
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / rel)
    conf = _config(repo / "asv.conf.json")
    (repo / conf["benchmark_dir"] / "bench_zz_smoke.py").write_text(SMOKE, encoding="utf-8")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run(git + ["init", "-q"], cwd=repo, check=True)
    subprocess.run(git + ["add", "-A"], cwd=repo, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "copy"], cwd=repo, check=True)
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), PYTHONPATH=str(ROOT))  # fastcavi of this tree
    return repo, home, env


def _asv(args, repo, env):
    return subprocess.run([sys.executable, "-m", "asv"] + args, cwd=repo, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=600)


def test_documented_command_runs_on_a_fresh_machine(fresh_copy):
    repo, home, env = fresh_copy
    out = _asv(COMMAND.split()[1:] + ["--dry-run", "--bench", "time_smoke"], repo, env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"bench_zz_smoke\.time_smoke +[\d.]+±", out.stdout), out.stdout  # timed
    assert "failed" not in out.stdout, out.stdout
    assert (home / ".asv-machine.json").is_file()  # described by the plugin
    assert "recorded asv's defaults" in out.stderr
    again = _asv(COMMAND.split()[1:] + ["--dry-run", "--bench", "time_smoke"], repo, env)
    assert again.returncode == 0 and "recorded" not in again.stderr  # described once


def test_asv_check_imports_the_whole_suite(fresh_copy):
    repo, _, env = fresh_copy
    out = _asv(["check", "--python=same"], repo, env)
    assert out.returncode == 0, out.stdout + out.stderr
