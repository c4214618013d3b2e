"""``watcher-adaptive`` command line: the runs and the error paths."""
from __future__ import annotations

import json

import pytest

from watcher_adaptive.cmd import main as cli


def _run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, message", [
    (["simulate", "--trace", "/no/such/dir"], "neither a trace name"),
    (["simulate", "--strategies", "lr-mmt,nope"], "unknown strategy 'nope'"),
    (["simulate", "--strategies", "lr-mmt:abc"], "must be a number"),
    (["simulate", "--strategies", "lr-mmt@-5"], "bad strategy entry"),
    (["simulate", "--strategies", "watcher:nosuch"],
     "unknown Watcher strategy"),
    (["simulate", "--trace", "planetlab:20990101"], "--traces-root"),
])
def test_user_errors_are_one_line_and_exit_2(capsys, argv, message):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("trace", ["/no/such/dir", "planetlab:20990101",
                                   "bitbrains:nosuch*.csv"])
def test_a_trace_naming_nothing_is_refused_before_strategies_are_built(
        capsys, monkeypatch, trace, tmp_path):
    from watcher_adaptive.evaluate import strategies as with_models

    def built(specs):  # Watcher's import alone is seconds
        raise AssertionError(f"strategies built for {specs!r}")

    monkeypatch.setattr(with_models, "build_strategies", built)
    code, _, err = _run(capsys, "simulate", "--trace", trace,
                        "--traces-root", str(tmp_path))
    assert code == 2 and "error:" in err and "strategies built" not in err


def test_empty_and_garbled_trace_directories(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _run(capsys, "simulate", "--trace", str(empty))
    assert code == 2 and "empty" in err
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    (garbled / "vm").write_text("12\nnot-a-number\n")
    code, _, err = _run(capsys, "simulate", "--trace", str(garbled))
    assert code == 2 and "line 2" in err


def test_bad_hosts_value_is_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["simulate", "--hosts", "0"])
    assert exc.value.code == 2
    assert "at least 1" in capsys.readouterr().err


def test_simulate_writes_results_with_the_stable_shape(capsys, tmp_path):
    trace = tmp_path / "day"
    trace.mkdir()
    for i in range(12):
        (trace / f"vm{i:02d}").write_text(
            "".join(f"{(7 * i + 13 * k) % 90 + 5}\n" for k in range(24)))
    out = tmp_path / "out"
    code, stdout, _ = _run(capsys, "simulate", "--trace", str(trace),
                           "--strategies", "dvfs,lr-mmt,thr-mmt:0.7",
                           "--hosts", "10", "--output", str(out),
                           "--no-progress")
    assert code == 0, stdout
    doc = json.loads((out / "results.json").read_text())
    assert set(doc["strategies"]) == {"dvfs", "lr-mmt", "thr-mmt:0.7"}
    for name, entry in doc["strategies"].items():
        for key in ("energy_kwh", "migrations", "slatah", "pdm", "slav",
                    "esv", "host_shutdowns", "wall_s"):
            assert key in entry, (name, key)
        assert entry["error"] is None
    assert doc["strategies"]["dvfs"]["migrations"] == 0
    assert doc["strategies"]["dvfs"]["energy_kwh"] > 0
    assert (out / "report.html").exists()
    assert (out / "active_hosts.png").stat().st_size > 1000


def test_train_with_unreachable_gnocchi_is_one_clear_line(tmp_path,
                                                          capsys):
    from watcher_adaptive.cmd import main as cli

    rc = cli.main(["train", "--gnocchi", "http://127.0.0.1:1",
                   "--history", str(tmp_path / "h.npz"),
                   "--model", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "Gnocchi at http://127.0.0.1:1" in err
    assert "Traceback" not in err
    assert not (tmp_path / "h.npz").exists()


def _day(tmp_path, n_vms=12):
    trace = tmp_path / "day"
    trace.mkdir()
    for i in range(n_vms):
        (trace / f"vm{i:02d}").write_text(
            "".join(f"{(7 * i + 13 * k) % 90 + 5}\n" for k in range(24)))
    return trace


def test_too_few_hosts_stop_before_the_replay(capsys, tmp_path):
    out = tmp_path / "out"
    code, _, err = _run(capsys, "simulate", "--trace", str(_day(tmp_path)),
                        "--strategies", "dvfs,lr-mmt", "--hosts", "1",
                        "--output", str(out), "--no-progress")
    assert code == 2
    assert "--hosts 1" in err and "find no host" in err
    assert "--allow-drop" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_allow_drop_warns_with_the_count_and_notes_it(capsys, tmp_path):
    out = tmp_path / "out"
    code, _, err = _run(capsys, "simulate", "--trace", str(_day(tmp_path)),
                        "--strategies", "dvfs,lr-mmt", "--hosts", "1",
                        "--allow-drop", "--output", str(out),
                        "--no-progress")
    assert code == 0, err
    warning = [line for line in err.splitlines()
               if line.startswith("warning:")]
    assert len(warning) == 1 and "of 12 VMs find no host" in warning[0]
    doc = json.loads((out / "results.json").read_text())
    assert any("find no host" in n for n in doc["notes"])


def test_filled_gaps_are_counted_on_the_console_and_in_results(capsys,
                                                               tmp_path):
    csv = tmp_path / "cpu.csv"
    rows = [f"{300 * k},{'' if k in (3, 4) else 20},{30}\n"
            for k in range(24)]
    csv.write_text("t,a,b\n" + "".join(rows))
    out = tmp_path / "out"
    code, _, err = _run(capsys, "simulate", "--trace", str(csv),
                        "--strategies", "dvfs", "--output", str(out),
                        "--no-progress")
    assert code == 0, err
    assert "note: csv:cpu.csv: 2 empty samples of 48" in err
    doc = json.loads((out / "results.json").read_text())
    assert any("2 empty samples" in n for n in doc["notes"])


def test_output_under_a_file_fails_before_the_replay(capsys, tmp_path,
                                                     monkeypatch):
    from watcher_adaptive.replay import runner

    def no_replay(*args, **kwargs):
        raise AssertionError("the replay ran")

    monkeypatch.setattr(runner, "run_all", no_replay)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, _, err = _run(capsys, "simulate", "--output",
                        str(blocker / "report"))
    assert code == 2 and "is a file" in err
