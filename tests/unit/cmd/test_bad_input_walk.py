"""Every subcommand and console script, given bad paths and bad values.

Each case runs as its own process, the way a user meets it: it must end
with exit status 2, a short message on stderr (argparse's usage block
plus one error line, or one error line) and no traceback, having used
little CPU: errors are found before any long work.  The bound is on the
process's own CPU time, not on the wall clock, so that a loaded machine
does not fail the walk.  The walk
must cover every subcommand of ``watcher-adaptive`` and every console
script of ``setup.cfg``; ``--help`` of each says what it does, with an
example.
"""
from __future__ import annotations

import concurrent.futures
import configparser
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from watcher_adaptive.cmd import main as cli

ROOT = Path(__file__).resolve().parents[3]
#: CPU seconds far above what any case needs (about 1-5 s: Python, the
#: imports, the check); a case that uses more did long work
CPU_LIMIT_S = 30
#: only against a hang: the wall clock of a loaded machine says little
TIMEOUT_S = 900
#: libvirt's hook must never fail the operation it is called for, so it
#: exits 0 on anything (its docstring); only its --help is walked
ALWAYS_ZERO = {"nova-adaptive-qemu-hook"}


def console_scripts() -> dict[str, str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = cfg["entry_points"]["console_scripts"].strip().splitlines()
    return dict((part.strip() for part in line.split("=", 1))
                for line in lines)


def subcommands() -> set[str]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions
                  if a.dest == "command")
    return set(action.choices)


def _command(script: str, args: list[str], cpu_file: Path) -> list[str]:
    module, func = console_scripts()[script].split(":")
    # the process writes its own CPU time when it exits (not on stderr,
    # whose lines the cases count)
    code = ("import atexit, sys, time; atexit.register(lambda: open("
            f"{str(cpu_file)!r}, 'w').write(str(time.process_time()))); "
            f"from {module} import {func}; "
            f"sys.exit({func}(sys.argv[1:]))")
    return [sys.executable, "-c", code, *args]


def _run(script: str, args: list[str], cwd: Path) -> tuple[int, str, str]:
    env = dict(os.environ, COLUMNS="100")
    env.pop("WATCHER_ADAPTIVE_TRACES", None)
    cpu_file = cwd / f"cpu-{uuid.uuid4().hex}"
    try:
        proc = subprocess.run(_command(script, args, cpu_file), cwd=cwd,
                              env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -1, "", f"still running after {TIMEOUT_S} s"
    cpu_s = float(cpu_file.read_text()) if cpu_file.exists() else 0.0
    if cpu_s > CPU_LIMIT_S:
        # the error was not found before the long work: this case fails
        return -1, proc.stdout, f"used {cpu_s:.0f} s of CPU before exit"
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Files the cases point at."""
    base = tmp_path_factory.mktemp("walk")
    (base / "a-file").write_text("not a directory\n")
    (base / "empty-dir").mkdir()
    (base / "run.jsonl").write_text("")
    (base / "garbage.jsonl").write_text("{not json\n")
    (base / "index.csv").write_text(
        "sample,vm1,vm2\n" + "".join(f"{k},{10 + k % 7},{20 + k % 5}\n"
                                     for k in range(1, 40)))
    (base / "bad-grid.toml").write_text("[lr-mmt]\nsafty = [1.0]\n")
    (base / "bad-collector.conf").write_text(
        "[profiler_collector]\npoll_interval = abc\n")
    (base / "bad-agent.conf").write_text(
        "[page_sampling]\nhot_access_rate = fast\n")
    (base / "no-auth-type.conf").write_text(
        "[gnocchi_auth]\nusername = watcher\n")
    (base / "no-auth-url.conf").write_text(
        "[gnocchi_auth]\nauth_type = password\nusername = watcher\n")
    return base


F = "a-file"          # an existing file, relative to the world
#: (script, argv, words the error must contain); paths are relative to
#: the world directory the processes run in
CASES = [
    # simulate
    ("watcher-adaptive", ["simulate", "--output", f"{F}/out"], "is a file"),
    ("watcher-adaptive", ["simulate", "--output", F], "not a directory"),
    ("watcher-adaptive", ["simulate", "--hosts", "5"], "find no host"),
    ("watcher-adaptive", ["simulate", "--hosts", "many"], "--hosts"),
    ("watcher-adaptive", ["simulate", "--trace", "/nonexistent"],
     "neither a trace name"),
    ("watcher-adaptive", ["simulate", "--traces-root", "/nonexistent"],
     "no such directory"),
    ("watcher-adaptive", ["simulate", "--trace", "index.csv", "--memory",
                          "/nonexistent.csv"], "no such file"),
    ("watcher-adaptive", ["simulate", "--interval", "300"],
     "applies to a .csv trace"),
    ("watcher-adaptive", ["simulate", "--interval", "-1"], "--interval"),
    ("watcher-adaptive", ["simulate", "--strategies", "nope"],
     "unknown strategy"),
    # sweep
    ("watcher-adaptive", ["sweep", "--output", f"{F}/out"], "is a file"),
    ("watcher-adaptive", ["sweep", "--grid", "/nonexistent.toml"],
     "--grid"),
    ("watcher-adaptive", ["sweep", "--grid", "bad-grid.toml"],
     "unknown parameter 'safty'"),
    ("watcher-adaptive", ["sweep", "--grid", "index.csv"], "not TOML"),
    ("watcher-adaptive", ["sweep", "--strategies", "adaptive,nope"],
     "unknown strategy 'nope'"),
    ("watcher-adaptive", ["sweep", "--trace", "/nonexistent"],
     "neither a trace name"),
    ("watcher-adaptive", ["sweep", "--jobs", "0"], "--jobs"),
    # backtest
    ("watcher-adaptive", ["backtest", "--output", f"{F}/out"], "is a file"),
    ("watcher-adaptive", ["backtest", "--horizon", "10"], "--horizon"),
    ("watcher-adaptive", ["backtest", "--quantiles", "0.1,0.2"],
     "near 0.5"),
    ("watcher-adaptive", ["backtest", "--quantiles", "half"], "not numbers"),
    ("watcher-adaptive", ["backtest", "--trace", "index.csv"],
     "--interval"),
    ("watcher-adaptive", ["backtest", "--trace", "index.csv", "--memory",
                          "/nonexistent.csv"], "no such file"),
    ("watcher-adaptive", ["backtest", "--save-model", f"{F}/model"],
     "is a file"),
    ("watcher-adaptive", ["backtest", "--trace", "embedded:planetlab",
                          "--trace", "embedded:planetlab"], "twice"),
    ("watcher-adaptive", ["backtest", "--traces-root", "/nonexistent"],
     "no such directory"),
    # train
    ("watcher-adaptive", ["train", "--gnocchi", "http://127.0.0.1:1",
                          "--history", f"{F}/h.npz", "--model", "m"],
     "is a file"),
    ("watcher-adaptive", ["train", "--gnocchi", "http://127.0.0.1:1",
                          "--history", "h.npz", "--model", f"{F}/m"],
     "is a file"),
    ("watcher-adaptive", ["train", "--gnocchi", "http://127.0.0.1:1",
                          "--history", "h.npz", "--model", "m",
                          "--granularity", "0"], "--granularity"),
    ("watcher-adaptive", ["train", "--gnocchi", "http://127.0.0.1:1",
                          "--history", "h.npz", "--model", "m",
                          "--quantiles", "x"], "not numbers"),
    ("watcher-adaptive", ["train", "--gnocchi", "http://127.0.0.1:1",
                          "--history", "h.npz", "--model", "m"],
     "Gnocchi at"),
    ("watcher-adaptive", ["train"], "required"),
    ("watcher-adaptive", ["train", "--gnocchi", "gnocchi:8041", "--history",
                          "h.npz", "--model", "m"], "http(s) URL"),
    ("watcher-adaptive", ["train", "--history", "h.npz", "--model", "m"],
     "--auth-config FILE"),
    ("watcher-adaptive", ["train", "--auth-config", "/nonexistent.conf",
                          "--history", "h.npz", "--model", "m"],
     "no such file"),
    ("watcher-adaptive", ["train", "--auth-config", "no-auth-type.conf",
                          "--history", "h.npz", "--model", "m"],
     "auth_type is not set"),
    ("watcher-adaptive", ["train", "--auth-config", "no-auth-url.conf",
                          "--history", "h.npz", "--model", "m"],
     "auth_url"),
    # profiler-setup
    ("watcher-adaptive", ["profiler-setup", "--gnocchi",
                          "http://127.0.0.1:1", "--granularity", "0"],
     "--granularity"),
    ("watcher-adaptive", ["profiler-setup", "--gnocchi",
                          "http://127.0.0.1:1"], "Gnocchi at"),
    ("watcher-adaptive", ["profiler-setup", "--gnocchi", "http://"],
     "http(s) URL"),
    ("watcher-adaptive", ["profiler-setup"], "--auth-config FILE"),
    ("watcher-adaptive", ["profiler-setup", "--auth-config", F, "--gnocchi",
                          "http://127.0.0.1:1"], "Failed to parse"),
    # profile-backtest
    ("watcher-adaptive", ["profile-backtest", "/nonexistent.jsonl"],
     "no such file"),
    ("watcher-adaptive", ["profile-backtest", "run.jsonl"], "0 records"),
    ("watcher-adaptive", ["profile-backtest", "garbage.jsonl"], "line 1"),
    ("watcher-adaptive", ["profile-backtest", "run.jsonl", "--horizons",
                          "x"], "--horizons"),
    ("watcher-adaptive", ["profile-backtest", "run.jsonl", "--output",
                          f"{F}/out"], "is a file"),
    ("watcher-adaptive", ["profile-backtest", "--data", "/nonexistent"],
     "no such directory"),
    ("watcher-adaptive", ["profile-backtest", "run.jsonl", "--data", "."],
     "not both"),
    # hotset-backtest
    ("watcher-adaptive", ["hotset-backtest", "--run", "/nonexistent"],
     "no such file"),
    ("watcher-adaptive", ["hotset-backtest", "--run", "garbage.jsonl"],
     "line 1"),
    ("watcher-adaptive", ["hotset-backtest", "--output", "empty-dir"],
     "is a directory"),
    ("watcher-adaptive", ["hotset-backtest", "--seed", "x"], "--seed"),
    # guest-agent-zipapp
    ("watcher-adaptive", ["guest-agent-zipapp", "/nonexistent/a.pyz"],
     "does not exist"),
    ("watcher-adaptive", ["guest-agent-zipapp", "empty-dir"],
     "is a directory"),
    # validate-cloudsim
    ("watcher-adaptive", ["validate-cloudsim", "--traces-root",
                          "/nonexistent"], "no such directory"),
    ("watcher-adaptive", ["validate-cloudsim", "--traces-root",
                          "empty-dir"], "planetlab/"),
    ("watcher-adaptive", ["validate-cloudsim", "--output", f"{F}/t.txt"],
     "is a file"),
    ("watcher-adaptive", [], "required"),
    ("watcher-adaptive", ["nosuch"], "invalid choice"),
    # the daemons (oslo.config)
    ("watcher-adaptive-collector", ["--config-file", "/nonexistent"],
     "config files"),
    ("watcher-adaptive-collector", ["--config-file",
                                    "bad-collector.conf"], "poll_interval"),
    ("nova-adaptive-agent", ["--config-file", "/nonexistent"],
     "config files"),
    ("nova-adaptive-agent", ["--config-file", "bad-agent.conf"],
     "hot_access_rate"),
    # the guest agent
    ("watcher-adaptive-guest-agent", ["--channel", "file:empty-dir",
                                      "--count", "1"], "is a directory"),
    ("watcher-adaptive-guest-agent", ["--channel", f"file:{F}/x",
                                      "--count", "1"], "File exists"),
    ("watcher-adaptive-guest-agent", ["--interval", "0", "--count", "1"],
     "interval"),
    ("watcher-adaptive-guest-agent", ["--backlog", "0"], "--backlog"),
    ("watcher-adaptive-guest-agent", ["--channel", "pigeon:x"],
     "unknown channel"),
]


def _parallel(calls):
    # two workers: the machine is shared, and each case starts Python
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda c: _run(*c), calls))


@pytest.fixture(scope="module")
def outcomes(world):
    return _parallel([(script, argv, world) for script, argv, _ in CASES])


def test_the_walk_covers_every_subcommand_and_console_script():
    walked = {argv[0] for script, argv, _ in CASES
              if script == "watcher-adaptive" and argv}
    assert subcommands() <= walked
    scripts = {script for script, _, _ in CASES} | ALWAYS_ZERO
    assert scripts == set(console_scripts())


@pytest.mark.parametrize("index", range(len(CASES)),
                         ids=[f"{s}:{' '.join(a)}" for s, a, _ in CASES])
def test_bad_input_is_exit_2_with_one_short_message(outcomes, index):
    script, argv, words = CASES[index]
    code, _, err = outcomes[index]
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert code == 2, err
    assert words in err, err
    # one error line, after argparse's usage block when there is one
    assert sum("error" in line for line in lines) == 1, err
    assert len(lines) == 1 or lines[0].startswith("usage:"), err


def test_every_help_says_what_it_does_with_an_example(world):
    calls = [("watcher-adaptive", [name, "--help"], world)
             for name in sorted(subcommands())]
    calls += [(script, ["--help"], world) for script in console_scripts()]
    for (script, argv, _), (code, out, err) in zip(
            calls, _parallel(calls), strict=True):
        assert code == 0, (script, argv, err)
        assert "example" in out, (script, argv, out)
        # a sentence of what it does, beyond the usage line
        assert len(out.strip().splitlines()) > 3, (script, argv, out)


def test_the_qemu_hook_never_fails_an_operation(world):
    code, out, err = _run("nova-adaptive-qemu-hook",
                          ["--bogus", "migrate", "begin", "-"], world)
    assert code == 0 and "Traceback" not in err
