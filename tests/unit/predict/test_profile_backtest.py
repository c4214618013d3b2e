"""The profile backtest finds help where a profile feature carries it,
and the command reads a recorded run."""
from __future__ import annotations

import gzip
import json

import numpy as np

from watcher_adaptive.cmd import main as cli
from watcher_adaptive.predict import profile_backtest as pb


def _write_run(path, n=900, lead=3, seed=0):
    """CPU steps between levels at random times; ``disk.read_iops``
    announces each step ``lead`` samples before it happens."""
    rng = np.random.default_rng(seed)
    level = np.empty(n)
    cur = 0.2
    for i in range(n):
        if rng.random() < 0.05:
            cur = rng.choice([0.1, 0.5, 0.9])
        level[i] = cur
    cpu = np.clip(level + rng.normal(0, 0.02, n), 0, 1)
    ahead = np.concatenate([level[lead:], np.repeat(level[-1:], lead)])
    with gzip.open(path, "wt") as f:
        for i in range(n):
            feats = {"cpu.idle": float(1 - cpu[i]),
                     "disk.read_iops": float(1000 * ahead[i]),
                     "mem.used_ratio": float(rng.random())}
            f.write(json.dumps({"phase": "x", "record": {"f": feats}}) + "\n")


def test_a_leading_profile_feature_is_found(tmp_path):
    run = tmp_path / "run.jsonl.gz"
    _write_run(run)
    cpu, profile, _ = pb.load_run(run)
    r = pb.evaluate(cpu, profile, horizon=3, max_iter=60)
    assert r["profile"]["mae_p50"] < 0.7 * r["history"]["mae_p50"]
    assert r["profile"]["pinball_p90"] < r["history"]["pinball_p90"]


def test_command_prints_the_table_and_writes_the_plot(tmp_path, capsys):
    run = tmp_path / "run.jsonl.gz"
    _write_run(run, n=300)
    assert cli.main(["profile-backtest", str(run), "--horizons", "1,3",
                     "--max-iter", "30", "--output",
                     str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "history+profile" in out and "last value" in out
    report = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["horizon"] for r in report["results"]] == [1, 3]
    assert (tmp_path / "out" / "profile_backtest.png").stat().st_size > 0


def test_command_refuses_a_missing_run(tmp_path, capsys):
    assert cli.main(["profile-backtest", str(tmp_path / "nope")]) == 2
    assert "no such file" in capsys.readouterr().err
