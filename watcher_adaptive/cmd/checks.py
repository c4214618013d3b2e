"""Checks of what the user gave, made before a command does any work.

Paths first (an output under an existing file must not wait for the end
of a replay), then what a trace and the strategies make of each other:
``--interval``/``--memory`` only for a .csv trace, every VM finding a
host at the start, the gaps the loader filled.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional
from typing import Sequence

from watcher_adaptive.cmd import paths
from watcher_adaptive.exceptions import UsageError


def check_paths(args: argparse.Namespace) -> None:
    """Every path the command reads or writes, before it does any work."""
    command = args.command
    if command in ("simulate", "backtest", "sweep"):
        paths.output_dir(args.output)
        if args.memory is not None:
            paths.input_file(Path(args.memory), "--memory")
    if command == "sweep" and args.grid is not None:
        paths.input_file(args.grid, "--grid")
    if command in ("simulate", "backtest", "sweep", "validate-cloudsim"):
        paths.input_dir(args.traces_root, "--traces-root")
    if command == "backtest" and args.save_model is not None:
        for suffix in (".joblib", ".json"):
            paths.output_file(Path(f"{args.save_model}{suffix}"),
                              "--save-model")
    if command in ("train", "profiler-setup"):
        if args.auth_config is not None:
            paths.input_file(args.auth_config, "--auth-config")
        elif args.gnocchi is None:
            raise UsageError("give --gnocchi URL (Gnocchi's basic auth) "
                             "or --auth-config FILE (Keystone)")
    if command == "train":
        # the history's directory is made on the first run (cron jobs
        # start from nothing); the model's must exist
        paths.output_file(args.history, "--history", make_parents=True)
        for suffix in (".joblib", ".json"):
            paths.output_file(Path(f"{args.model}{suffix}"), "--model")
    if command == "profile-backtest":
        if args.run is not None and args.data is not None:
            raise UsageError("give one run or --data, not both")
        if args.run is not None:
            paths.input_file(args.run, "run")
        if args.data is not None and not args.data.is_dir():
            raise UsageError(f"--data {args.data}: no such directory")
        if args.output is not None:
            paths.output_dir(args.output)
    if command == "hotset-backtest":
        if args.run is not None:
            paths.input_file(args.run, "--run")
        if args.output is not None:
            paths.output_file(args.output)
    if command == "guest-agent-zipapp":
        paths.output_file(args.output, "output")
    if command == "validate-cloudsim":
        if args.output is not None:
            paths.output_file(args.output)
        if args.traces_root is not None and \
                not (Path(args.traces_root) / "planetlab").is_dir():
            raise UsageError(f"--traces-root {args.traces_root}: has no "
                             "planetlab/ directory (omit it to check only "
                             "the embedded day)")


def check_csv_options(args: argparse.Namespace,
                       specs: Sequence[str]) -> None:
    """``--interval`` and ``--memory`` describe one .csv trace: refuse
    them where they would be ignored."""
    csv = [s for s in specs if s.lower().endswith(".csv")]
    for option, value in (("--interval", args.interval),
                          ("--memory", args.memory)):
        if value is not None and len(csv) != len(specs):
            raise UsageError(f"{option} applies to a .csv trace only")
    if args.memory is not None and len(specs) != 1:
        raise UsageError("--memory describes one .csv trace; give one "
                         "--trace with it")


def load_traces(args: argparse.Namespace, specs: Sequence[str]) -> list:
    """The traces ``specs`` name, loaded, each once: a command over
    several traces (``backtest``, ``sweep``) refuses one given twice."""
    from watcher_adaptive.traces import resolve

    check_csv_options(args, specs)
    traces = [resolve.resolve_trace(s, args.traces_root, args.interval,
                                    args.memory) for s in specs]
    names = [t.name for t in traces]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"trace given twice: {', '.join(twice)}")
    return traces


def trace_notes(trace) -> list[str]:
    """What the loader filled in, for the console and ``results.json``."""
    gaps = trace.report.gaps_filled
    if not gaps:
        return []
    cells = trace.n_vms * trace.n_samples
    return [f"{trace.name}: {gaps:,} empty samples of {cells:,} "
            f"({gaps / cells:.2%}) filled with the VM's last value (see "
            "the trace notes for the rule)"]


def start_fit(trace, strategies, n_hosts: Optional[int],
               allow_drop: bool, world: str = "realistic") -> list[str]:
    """Stop before the replay when some VM finds no host at the start
    (too few ``--hosts``), unless ``--allow-drop``; returns the notes."""
    from watcher_adaptive.replay import runner
    from watcher_adaptive.replay import start_fit as fit_check

    engine = runner.build_scenario(trace, n_hosts, world).engine
    fit = fit_check.check(engine.hosts, engine.vms,
                          engine.utilization_at(0.0), strategies,
                          engine.limits)
    if fit.ok:
        return []
    hosts = f"--hosts {n_hosts}" if n_hosts else \
        f"the default {fit.n_hosts} hosts"
    what = (f"with {hosts}, {fit.unplaced:,} of {fit.n_vms:,} VMs find no "
            f"host at the start under {fit.worst} (e.g. "
            f"{', '.join(fit.examples)})")
    if not allow_drop:
        raise UsageError(f"{what}; give more --hosts, or --allow-drop to "
                         "replay without them")
    print(f"warning: {what}; they are left out (--allow-drop)",
          file=sys.stderr)
    return [f"{what}; left out (--allow-drop)"]


def horizon_range(horizon_s: float) -> None:
    if not 300 <= horizon_s <= 7200:
        raise UsageError("--horizon must be between 300 and 7200 seconds")


def parse_quantiles(text: str) -> list[float]:
    """``--quantiles``: levels in (0, 1), one near 0.5 and one near 0.9
    (the predictor's P50 and P90)."""
    try:
        quantiles = [float(q) for q in text.split(",")]
    except ValueError:
        raise UsageError(f"--quantiles: not numbers: {text!r}") from None
    if not all(0 < q < 1 for q in quantiles):
        raise UsageError(f"--quantiles: levels must be between 0 and 1: "
                         f"{text!r}")
    if not (any(abs(q - 0.5) < 0.11 for q in quantiles)
            and any(abs(q - 0.9) < 0.06 for q in quantiles)):
        raise UsageError("--quantiles must include one near 0.5 and one "
                         "near 0.9")
    return quantiles
