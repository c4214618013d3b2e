"""``watcher-adaptive``: the replay, its validation and (later) backtests.

``simulate`` replays a trace under several strategies and writes the
report; ``validate-cloudsim`` prints the replay next to CloudSim 3.0.3's
own figures.  Errors in what the user gave (a missing trace, an unknown
strategy) end with one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Callable
from typing import Optional
from typing import Sequence

from watcher_adaptive.exceptions import MetricSourceError
from watcher_adaptive.exceptions import TraceError
from watcher_adaptive.exceptions import UsageError
from watcher_adaptive.replay import registry
from watcher_adaptive.traces import resolve

#: the baselines and Watcher peers that fit the default run's 3-minute
#: budget on a 2-core machine (each peer at its own audit interval)
DEFAULT_STRATEGIES = ("adaptive,dvfs,thr-mmt,lr-mmt,"
                      "watcher:vm_workload_consolidation,"
                      "watcher:workload_stabilization,"
                      "watcher:workload_balance,watcher:basic")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _trace_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trace", default="embedded:planetlab",
        help="planetlab:<day>, bitbrains:<glob>, embedded:planetlab|"
             "bitbrains, a PlanetLab day directory or a wide .csv file "
             "(default: %(default)s)")
    parser.add_argument(
        "--traces-root", default=os.environ.get(resolve.ENV_ROOT),
        help="directory holding planetlab/ and bitbrains-rnd/ "
             f"(default: ${resolve.ENV_ROOT})")
    parser.add_argument("--interval", type=_positive_float,
                        help="sample interval in seconds of a .csv trace "
                             "(inferred from timestamps when omitted)")
    parser.add_argument("--memory", metavar="CSV",
                        help="per-VM memory (MB) of a .csv trace, same "
                             "layout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="watcher-adaptive",
        description="Predictive live migration for OpenStack Watcher: "
                    "trace replay and validation.")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="replay a trace under several "
                         "strategies and write a report")
    _trace_options(sim)
    sim.add_argument(
        "--strategies", default=DEFAULT_STRATEGIES,
        help="comma-separated name[:param][@audit_interval_s]; names: "
             "adaptive (params: key=value+..., see the docs), "
             "dvfs, thr-mmt (param: threshold, 0.8), lr-mmt (param: "
             "safety, 1.2), watcher:<Watcher strategy> "
             "(default: %(default)s)")
    sim.add_argument("--hosts", type=_positive_int,
                     help="number of hosts (default: 800 for PlanetLab, "
                          "else sized from the VMs)")
    sim.add_argument("--output", default="report", type=Path,
                     help="directory for results.json, report.html and "
                          "plots (default: %(default)s)")
    sim.add_argument("--no-progress", action="store_true",
                     help="no progress bar")
    sim.add_argument("-v", "--verbose", action="store_true",
                     help="show the Watcher strategies' own log messages")

    bt = sub.add_parser("backtest", help="rolling-origin backtest of the "
                        "resource predictor against the classic baselines")
    bt.add_argument(
        "--trace", action="append", dest="traces",
        help="a trace (same forms as simulate); repeat it or give a comma "
             "list for a rolling origin over several (default: "
             "embedded:planetlab, split in half)")
    bt.add_argument("--traces-root", default=os.environ.get(resolve.ENV_ROOT),
                    help=f"directory holding planetlab/ and bitbrains-rnd/ "
                         f"(default: ${resolve.ENV_ROOT})")
    bt.add_argument("--horizon", type=_positive_float, default=1800.0,
                    help="forecast horizon in seconds, 300-7200 "
                         "(default: %(default)s); 900 and 1800 are always "
                         "scored too")
    bt.add_argument("--quantiles", default="0.5,0.9",
                    help="comma-separated quantile levels, must include "
                         "one near 0.5 and one near 0.9 "
                         "(default: %(default)s)")
    bt.add_argument("--output", default="backtest", type=Path,
                    help="directory for results.json, report.html and "
                         "plots (default: %(default)s)")
    bt.add_argument("--save-model", type=Path, metavar="PATH",
                    help="also train on every trace given and save the "
                         "predictor to PATH.joblib + PATH.json")

    tr = sub.add_parser(
        "train", help="the periodic training job: read the usage Gnocchi "
                      "gathered since the last run, keep a local history, "
                      "fit the predictor and save it for the strategy")
    tr.add_argument("--gnocchi", required=True, metavar="URL",
                    help="Gnocchi endpoint (basic auth)")
    tr.add_argument("--user", default="admin", help="basic-auth user")
    tr.add_argument("--history", type=Path, required=True, metavar="FILE",
                    help="the job's history file (.npz), grown each run")
    tr.add_argument("--model", type=Path, required=True, metavar="PATH",
                    help="where to save the predictor (PATH.joblib + "
                         "PATH.json): the strategy's model_path")
    tr.add_argument("--hours", type=float, default=24.0,
                    help="how far back the first run reads (default 24)")
    tr.add_argument("--keep-days", type=float, default=7.0,
                    help="history retention (default 7)")
    tr.add_argument("--granularity", type=int, default=300)
    tr.add_argument("--horizon", type=float, default=1800.0)
    tr.add_argument("--quantiles", default="0.5,0.9")
    tr.add_argument("--min-samples", type=int, default=48,
                    help="no training on a shorter history (default 48)")

    ps = sub.add_parser(
        "profiler-setup", help="create the archive policy and rule the "
                               "behavioural profiles (adaptive.* metrics) "
                               "are stored with, unless they exist")
    ps.add_argument("--gnocchi", required=True, metavar="URL",
                    help="Gnocchi endpoint (basic auth)")
    ps.add_argument("--user", default="admin", help="basic-auth user")
    ps.add_argument("--archive-policy", default="watcher-adaptive-profile")
    ps.add_argument("--granularity", type=_positive_int, default=30,
                    help="finest granularity in seconds: the guest "
                         "agent's interval (default 30)")

    pb = sub.add_parser(
        "profile-backtest", help="do behaviour-profile features help the "
                                 "CPU forecast? a backtest on a recorded "
                                 "run of the guest agent")
    pb.add_argument("run", type=Path, help="a run recorded by "
                    "tools/record_profile_run.py (.jsonl or .jsonl.gz)")
    pb.add_argument("--horizons", default="1,5,15",
                    help="forecast horizons in samples (default 1,5,15)")
    pb.add_argument("--output", type=Path, metavar="DIR",
                    help="write results.json and profile_backtest.png here")
    pb.add_argument("--max-iter", type=_positive_int, default=200,
                    help="boosting iterations per model (default 200)")

    hb = sub.add_parser(
        "hotset-backtest", help="does the predicted hot working set of "
                                "a migrating VM beat its profile-class "
                                "default? (recorded guest-agent run and "
                                "stated synthetic migrations)")
    hb.add_argument("--run", type=Path, metavar="FILE",
                    help="a run recorded by tools/record_profile_run.py "
                         "(default: none, synthetic only)")
    hb.add_argument("--seed", type=int, default=0)
    hb.add_argument("--output", type=Path, metavar="FILE",
                    help="write the results as JSON here")

    gz = sub.add_parser(
        "guest-agent-zipapp", help="pack the in-guest profiling agent into "
                                   "one .pyz that runs on a guest's python3 "
                                   "without the rest of the project")
    gz.add_argument("output", type=Path, help="the .pyz file to write")

    val = sub.add_parser("validate-cloudsim",
                         help="print the replay next to CloudSim 3.0.3's "
                              "figures for the PlanetLab development days")
    val.add_argument(
        "--traces-root", default=os.environ.get(resolve.ENV_ROOT),
        help="directory holding planetlab/ (without it only the embedded "
             "day is checked)")
    val.add_argument("--output", type=Path,
                     help="also write the table to this file")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        # Watcher's strategies warn per VM they cannot place and its
        # dependencies warn about their own deprecations: noise here
        logging.getLogger("watcher").setLevel(logging.ERROR)
        logging.getLogger("py.warnings").setLevel(logging.ERROR)
        warnings.simplefilter("ignore")
        # NOTE(wa): OpenStack libraries reset the warning filters when they
        # are imported; silence the display itself instead
        warnings.showwarning = _no_warning
    try:
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "backtest":
            return _backtest(args)
        if args.command == "train":
            return _train(args)
        if args.command == "profile-backtest":
            return _profile_backtest(args)
        if args.command == "profiler-setup":
            return _profiler_setup(args)
        if args.command == "hotset-backtest":
            return _hotset_backtest(args)
        if args.command == "guest-agent-zipapp":
            from watcher_adaptive.profiler import zipapp
            print(zipapp.build(args.output))
            return 0
        return _validate(args)
    except (UsageError, TraceError,
            registry.UnknownStrategy, ValueError) as exc:
        print(f"watcher-adaptive {args.command}: error: {exc}",
              file=sys.stderr)
        return 2


def _no_warning(*args: object, **kwargs: object) -> None:
    return None


def _progress(enabled: bool, n_strategies: int
              ) -> tuple[Callable[[str, float], None], Callable[[], None]]:
    """A progress callback for the runner, and a function to close it."""
    if enabled and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=n_strategies * 100, unit="%", file=sys.stderr,
                   bar_format="{desc:<38} {percentage:3.0f}%|{bar}| "
                              "{elapsed}<{remaining}")
        done: dict[str, int] = {}

        def update(name: str, fraction: float) -> None:
            step = int(fraction * 100)
            bar.set_description_str(name[:38])
            bar.update(max(0, step - done.get(name, 0)))
            done[name] = max(step, done.get(name, 0))

        return update, bar.close
    started = time.perf_counter()
    reported: set[str] = set()

    def line(name: str, fraction: float) -> None:
        if fraction >= 1.0 and name not in reported:
            reported.add(name)
            print(f"  {name}: done ({time.perf_counter() - started:.0f} s "
                  "elapsed)", file=sys.stderr)

    return line, lambda: None


def _simulate(args: argparse.Namespace) -> int:
    from watcher_adaptive.replay import report
    from watcher_adaptive.replay import runner

    strategies = registry.build_strategies(args.strategies)
    trace = resolve.resolve_trace(args.trace, args.traces_root,
                                  args.interval, args.memory)
    print(f"trace {trace.name}: {trace.n_vms} VMs, {trace.n_samples} "
          f"samples of {trace.interval_s:g} s; strategies: "
          f"{', '.join(s.name for s in strategies)}", file=sys.stderr)
    update, close = _progress(not args.no_progress, len(strategies))
    try:
        runs = runner.run_all(trace, strategies, args.hosts, update)
    finally:
        close()
    page = report.write_report(args.output, trace, runs)
    for run in runs:
        m = run.metrics
        if m is None:
            print(f"{run.name:40s} FAILED: {run.error}")
        else:
            print(f"{run.name:40s} {m.energy_kwh:9.2f} kWh "
                  f"{m.migrations:7d} migrations  SLAV "
                  f"{m.slav * 100:.5f} %  ({run.wall_s:.1f} s)")
    print(f"report: {page}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from watcher_adaptive.predict import backtest
    from watcher_adaptive.predict import predictor
    from watcher_adaptive.predict import report

    if not 300 <= args.horizon <= 7200:
        raise UsageError("--horizon must be between 300 and 7200 seconds")
    try:
        quantiles = [float(q) for q in args.quantiles.split(",")]
    except ValueError:
        raise UsageError(f"--quantiles: not numbers: {args.quantiles!r}") \
            from None
    if not (any(abs(q - 0.5) < 0.11 for q in quantiles)
            and any(abs(q - 0.9) < 0.06 for q in quantiles)):
        raise UsageError("--quantiles must include one near 0.5 and one "
                         "near 0.9")
    specs = [s for arg in (args.traces or ["embedded:planetlab"])
             for s in arg.split(",") if s]
    traces = [resolve.resolve_trace(s, args.traces_root) for s in specs]
    if len({t.interval_s for t in traces}) != 1:
        raise UsageError("all traces of a backtest need the same interval")

    def say(msg: str) -> None:
        print(f"  {msg}", file=sys.stderr, flush=True)

    horizons = sorted({args.horizon, 900.0, 1800.0})
    placements: dict = {}
    results = {h: backtest.backtest_horizon(traces, h, quantiles,
                                            progress=say,
                                            placements=placements)
               for h in horizons}
    main = results[args.horizon]
    others = [r for h, r in results.items() if h != args.horizon]
    doc = report.results_document([t.name for t in traces], main, others,
                                  quantiles)
    page = report.write_report(args.output, doc, main, quantiles)
    for name, entry in main.scores.items():
        if entry["mae"] is None:
            print(f"{name:9s} (not applicable to this trace)")
            continue
        f1 = entry["overload_f1"]
        print(f"{name:9s} MAE {entry['mae']:.4f}  P90 coverage "
              f"{entry['coverage_p90']:.3f}  overload F1 "
              + ("–" if f1 is None else f"{f1:.3f}"))
    if args.save_model:
        from watcher_adaptive.predict import training
        model = training.fit_predictor(traces, args.horizon, quantiles,
                                       placements)
        files = predictor.save(model, args.save_model)
        print(f"model: {files[0]} ({files[1].name})")
    print(f"report: {page}")
    return 0


def _profile_backtest(args: argparse.Namespace) -> int:
    import json

    from watcher_adaptive.predict import profile_backtest as pb

    horizons = [int(h) for h in args.horizons.split(",") if h.strip()]
    if not horizons or min(horizons) < 1:
        raise UsageError("--horizons: positive sample counts, e.g. 1,5,15")
    if not args.run.exists():
        raise UsageError(f"{args.run}: no such run file")
    report = pb.run(args.run, horizons, args.max_iter)
    print(pb.table(report))
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / "results.json").write_text(
            json.dumps(report, indent=1))
        print(pb.plot(report, args.output / "profile_backtest.png"))
    return 0


def _hotset_backtest(args: argparse.Namespace) -> int:
    import json

    from watcher_adaptive.predict import hotset_backtest as hb

    if args.run is not None and not args.run.exists():
        raise UsageError(f"{args.run}: no such run file")
    results = hb.run(args.run, seed=args.seed)
    print(hb.table(results))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=1))
    return 0


def _profiler_setup(args: argparse.Namespace) -> int:
    from gnocchiclient import exceptions as gexc
    from keystoneauth1 import exceptions as kexc

    from watcher_adaptive.adapters import gnocchi
    from watcher_adaptive.profiler import sink

    try:
        created = sink.ensure_archive_policy(
            gnocchi.make_client(args.gnocchi, args.user),
            args.archive_policy, granularity_s=args.granularity)
    except (gexc.ClientException, kexc.ClientException) as exc:
        raise UsageError(f"Gnocchi at {args.gnocchi}: {exc}") from None
    print(f"archive policy {args.archive_policy} and rule "
          f"'{sink.METRIC_PREFIX}*': "
          f"{'created' if created else 'already there'}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from gnocchiclient import exceptions as gexc

    from watcher_adaptive.adapters import gnocchi

    quantiles = [float(q) for q in args.quantiles.split(",")]
    step = args.granularity
    try:
        return _train_from(args, gnocchi.make_client(args.gnocchi,
                                                     args.user),
                           quantiles, step)
    except (MetricSourceError, gexc.ClientException) as exc:
        raise UsageError(f"Gnocchi at {args.gnocchi}: {exc}") from None


def _train_from(args: argparse.Namespace, client, quantiles: list[float],
                step: int) -> int:
    import datetime

    import numpy as np

    from watcher_adaptive.adapters import gnocchi
    from watcher_adaptive.predict import history
    from watcher_adaptive.predict import predictor
    from watcher_adaptive.predict import training

    started = time.perf_counter()
    resources, marker = [], None
    while True:
        page = client.resource.search(resource_type="instance",
                                      limit=1000, marker=marker)
        if not page:
            break
        resources += page
        marker = page[-1]["id"]
    ids = [r["id"] for r in resources]
    vcpus = np.array([float(r.get("vcpus") or 1.0) for r in resources])
    past = history.load(args.history, step)
    now = int(time.time()) // step * step
    first = (past.newest + step) if past.newest is not None \
        else now - int(args.hours * 3600)
    source = gnocchi.GnocchiMetricSource(client)
    window = source.read_usage(
        ids, datetime.datetime.fromtimestamp(first - step,
                                             datetime.timezone.utc),
        datetime.datetime.fromtimestamp(now + 1, datetime.timezone.utc),
        step)
    merged = history.merge(
        past, ids, window.times.astype(np.int64),
        window.values["cpu_cores"], window.values["memory_mb"], vcpus,
        keep_s=int(args.keep_days * 86400))
    history.save(merged, args.history)
    print(f"read {len(ids):,} instances from {args.gnocchi} in "
          f"{window.requests} request(s), {time.perf_counter() - started:.1f}"
          f" s; history: {len(merged.resource_ids):,} instances x "
          f"{merged.times.size} samples in {args.history}")
    if merged.times.size < args.min_samples or not merged.resource_ids:
        print(f"history too short to train ({merged.times.size} samples, "
              f"need {args.min_samples}); model unchanged")
        return 0
    model = training.fit_predictor([merged.to_trace()], args.horizon,
                                   quantiles)
    files = predictor.save(model, args.model)
    print(f"model: {files[0]} ({files[1].name})")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from watcher_adaptive.replay import validation

    root = args.traces_root
    refs = list(validation.CLOUDSIM_3_0_3)
    if root is None or not (Path(root) / "planetlab").is_dir():
        day = "20110303"
        skipped = sorted({r.day for r in refs if r.day != day})
        refs = [r for r in refs if r.day == day]
        print(f"note: no --traces-root with planetlab/; checking only the "
              f"embedded day {day} (not {', '.join(skipped)})",
              file=sys.stderr)

    def load(day: str):
        return resolve.resolve_trace(f"planetlab:{day}",
                                     root if root and Path(
                                         root, "planetlab").is_dir()
                                     else None)

    rows = validation.run_validation(
        load, refs, progress=lambda s: print(f"  replaying {s}",
                                             file=sys.stderr))
    table = validation.format_table(rows)
    print(table)
    if args.output:
        args.output.write_text(table + "\n")
    ok = validation.all_within(rows)
    print("all checked figures within tolerance" if ok else
          "SOME FIGURES ARE OUTSIDE THE TOLERANCE", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
