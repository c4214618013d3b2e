"""``watcher-adaptive``: the replay, its validation and (later) backtests.

``simulate`` replays a trace under several strategies and writes the
report; ``validate-cloudsim`` prints the replay next to CloudSim 3.0.3's
own figures.  Errors in what the user gave (a missing trace, an unknown
strategy, an output path that cannot be written, too few hosts) end with
one line on stderr and exit status 2, and are found before any long work
starts: every path a command writes is checked first.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Optional
from typing import Sequence

from watcher_adaptive.cmd import errors
from watcher_adaptive.cmd import paths
from watcher_adaptive.cmd import progress as console_progress
from watcher_adaptive.replay import registry
from watcher_adaptive.traces import errors as trace_errors
from watcher_adaptive.traces import resolve

#: the baselines and Watcher peers that fit the default run's 3-minute
#: budget on a 2-core machine (each peer at its own audit interval)
DEFAULT_STRATEGIES = ("adaptive,dvfs,thr-mmt,lr-mmt,"
                      "watcher:vm_workload_consolidation,"
                      "watcher:workload_stabilization,"
                      "watcher:workload_balance,watcher:basic")


UsageError = errors.UsageError


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
    _csv_options(parser)


def _csv_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=_positive_float,
                        metavar="SECONDS",
                        help="sample interval of a .csv trace; required "
                             "when its first column numbers the samples "
                             "(0, 1, 2, ... or 1, 2, 3, ...), inferred "
                             "from timestamps otherwise")
    parser.add_argument("--memory", metavar="CSV",
                        help="per-VM memory (MB) of a .csv trace, same "
                             "layout")


def _gnocchi_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gnocchi", required=True, metavar="URL",
                        help="Gnocchi endpoint (basic auth)")
    parser.add_argument("--user", default="admin",
                        help="basic-auth user (default: %(default)s)")


def _sub(sub, name: str, summary: str, example: str,
         description: str = "") -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` says what it does and shows an
    example (``summary`` is also its line in the main ``--help``)."""
    # raw text keeps the example's line as it is; wrap the prose here
    return sub.add_parser(
        name, help=summary,
        description=textwrap.fill(summary[0].upper() + summary[1:] + "."
                                  + (f" {description}" if description
                                     else ""), 78),
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="watcher-adaptive",
        description=textwrap.fill(
            "Predictive live migration for OpenStack Watcher: trace "
            "replay, backtests of the predictor, its training job and the "
            "guest profiler's tools.", 78),
        epilog="example:\n  watcher-adaptive simulate --output report\n"
               "see 'watcher-adaptive COMMAND --help' for each command",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="COMMAND")

    sim = _sub(sub, "simulate", "replay a trace under several "
               "strategies and write a report",
               "watcher-adaptive simulate --trace embedded:planetlab "
               "--strategies adaptive,lr-mmt --output report",
               "Every VM must find a host at the start (see --hosts and "
               "--allow-drop); the output directory is checked before the "
               "replay starts.")
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
                          "else sized from the VMs); too few for every VM "
                          "to find a host at the start is an error")
    sim.add_argument("--allow-drop", action="store_true",
                     help="replay without the VMs that find no host at "
                          "the start (a warning says how many) instead "
                          "of stopping")
    sim.add_argument("--output", default="report", type=Path,
                     help="directory for results.json, report.html and "
                          "plots (default: %(default)s)")
    sim.add_argument("--no-progress", action="store_true",
                     help="no progress bar or progress lines")
    sim.add_argument("-v", "--verbose", action="store_true",
                     help="show the Watcher strategies' own log messages")

    bt = _sub(sub, "backtest", "rolling-origin backtest of the "
              "resource predictor against the classic baselines",
              "watcher-adaptive backtest --trace planetlab:20110303 "
              "--trace planetlab:20110306 --output backtest",
              "With one trace it trains on the first half and tests on "
              "the second (the training targets end before the test "
              "starts); with several, each is tested by a model trained "
              "on the ones before it.")
    bt.add_argument(
        "--trace", action="append", dest="traces",
        help="a trace (same forms as simulate); repeat it or give a comma "
             "list for a rolling origin over several (default: "
             "embedded:planetlab, split in half)")
    bt.add_argument("--traces-root", default=os.environ.get(resolve.ENV_ROOT),
                    help=f"directory holding planetlab/ and bitbrains-rnd/ "
                         f"(default: ${resolve.ENV_ROOT})")
    _csv_options(bt)
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

    tr = _sub(sub, "train", "the periodic training job: read the usage "
              "Gnocchi gathered since the last run, keep a local history, "
              "fit the predictor and save it for the strategy",
              "watcher-adaptive train --gnocchi http://gnocchi:8041 "
              "--history /var/lib/watcher-adaptive/history.npz "
              "--model /var/lib/watcher-adaptive/model",
              "Run it from cron or a systemd timer; each run reads only "
              "what is new since the last one.")
    _gnocchi_options(tr)
    tr.add_argument("--history", type=Path, required=True, metavar="FILE",
                    help="the job's history file (.npz), grown each run")
    tr.add_argument("--model", type=Path, required=True, metavar="PATH",
                    help="where to save the predictor (PATH.joblib + "
                         "PATH.json): the strategy's model_path")
    tr.add_argument("--hours", type=_positive_float, default=24.0,
                    help="how far back the first run reads, in hours "
                         "(default: %(default)g)")
    tr.add_argument("--keep-days", type=_positive_float, default=7.0,
                    help="history retention in days (default: "
                         "%(default)g)")
    tr.add_argument("--granularity", type=_positive_int, default=300,
                    metavar="SECONDS",
                    help="the Gnocchi granularity read and the history's "
                         "sample step (default: %(default)s)")
    tr.add_argument("--horizon", type=_positive_float, default=1800.0,
                    metavar="SECONDS",
                    help="forecast horizon the model is trained for, "
                         "300-7200 (default: %(default)g)")
    tr.add_argument("--quantiles", default="0.5,0.9",
                    help="comma-separated quantile levels the model "
                         "predicts, one near 0.5 and one near 0.9 "
                         "(default: %(default)s)")
    tr.add_argument("--min-samples", type=_positive_int, default=48,
                    help="no training on a shorter history (default: "
                         "%(default)s samples)")

    ps = _sub(sub, "profiler-setup", "create the archive policy and rule "
              "the behavioural profiles (adaptive.* metrics) are stored "
              "with, unless they exist",
              "watcher-adaptive profiler-setup --gnocchi "
              "http://gnocchi:8041 --granularity 30",
              "Run it once per cloud, before the first collector starts.")
    _gnocchi_options(ps)
    ps.add_argument("--archive-policy", default="watcher-adaptive-profile",
                    metavar="NAME",
                    help="name of the archive policy to create "
                         "(default: %(default)s)")
    ps.add_argument("--granularity", type=_positive_int, default=30,
                    metavar="SECONDS",
                    help="finest granularity in seconds: the guest "
                         "agent's interval (default: %(default)s)")

    pb = _sub(sub, "profile-backtest", "do behaviour-profile features "
              "help the CPU forecast? a backtest on a recorded run of the "
              "guest agent",
              "watcher-adaptive profile-backtest "
              "tools/data/profile-run.jsonl.gz --output profile-bt")
    pb.add_argument("run", type=Path, help="a run recorded by "
                    "tools/record_profile_run.py (.jsonl or .jsonl.gz)")
    pb.add_argument("--horizons", default="1,5,15",
                    help="forecast horizons in samples (default: "
                         "%(default)s)")
    pb.add_argument("--output", type=Path, metavar="DIR",
                    help="write results.json and profile_backtest.png here")
    pb.add_argument("--max-iter", type=_positive_int, default=200,
                    help="boosting iterations per model (default: "
                         "%(default)s)")

    hb = _sub(sub, "hotset-backtest", "does the predicted hot working set "
              "of a migrating VM beat its profile-class default? "
              "(recorded guest-agent run and stated synthetic migrations)",
              "watcher-adaptive hotset-backtest --output hotset.json")
    hb.add_argument("--run", type=Path, metavar="FILE",
                    help="a run recorded by tools/record_profile_run.py "
                         "(default: none, synthetic only)")
    hb.add_argument("--seed", type=int, default=0,
                    help="seed of the synthetic migrations (default: "
                         "%(default)s)")
    hb.add_argument("--output", type=Path, metavar="FILE",
                    help="write the results as JSON here")

    gz = _sub(sub, "guest-agent-zipapp", "pack the in-guest profiling "
              "agent into one .pyz that runs on a guest's python3 "
              "without the rest of the project",
              "watcher-adaptive guest-agent-zipapp "
              "watcher-adaptive-guest-agent.pyz")
    gz.add_argument("output", type=Path, help="the .pyz file to write")

    val = _sub(sub, "validate-cloudsim", "print the replay next to "
               "CloudSim 3.0.3's figures for the PlanetLab development "
               "days",
               "watcher-adaptive validate-cloudsim --traces-root "
               "../shared/traces",
               "Exit status 1 when a checked figure is outside its "
               "tolerance.")
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
        _check_paths(args)
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
            return _zipapp(args)
        return _validate(args)
    except (UsageError, trace_errors.TraceError,
            registry.UnknownStrategy, ValueError, OSError) as exc:
        # NOTE(wa): OSError too: a disk full or a permission refused while
        # writing is the user's environment, not a bug to trace back
        text = str(exc) if not isinstance(exc, OSError) or \
            not exc.filename else f"{exc.filename}: {exc.strerror}"
        print(f"watcher-adaptive {args.command}: error: {text}",
              file=sys.stderr)
        return 2


def _check_paths(args: argparse.Namespace) -> None:
    """Every path the command reads or writes, before it does any work."""
    command = args.command
    if command in ("simulate", "backtest"):
        paths.output_dir(args.output)
        if args.memory is not None:
            paths.input_file(Path(args.memory), "--memory")
    if command in ("simulate", "backtest", "validate-cloudsim"):
        paths.input_dir(args.traces_root, "--traces-root")
    if command == "backtest" and args.save_model is not None:
        for suffix in (".joblib", ".json"):
            paths.output_file(Path(f"{args.save_model}{suffix}"),
                              "--save-model")
    if command == "train":
        # the history's directory is made on the first run (cron jobs
        # start from nothing); the model's must exist
        paths.output_file(args.history, "--history", make_parents=True)
        for suffix in (".joblib", ".json"):
            paths.output_file(Path(f"{args.model}{suffix}"), "--model")
    if command == "profile-backtest":
        paths.input_file(args.run, "run")
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


def _zipapp(args: argparse.Namespace) -> int:
    from watcher_adaptive.profiler import zipapp

    print(zipapp.build(args.output))
    return 0


def _no_warning(*args: object, **kwargs: object) -> None:
    return None


def _check_csv_options(args: argparse.Namespace,
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


def trace_notes(trace) -> list[str]:
    """What the loader filled in, for the console and ``results.json``."""
    gaps = trace.report.gaps_filled
    if not gaps:
        return []
    cells = trace.n_vms * trace.n_samples
    return [f"{trace.name}: {gaps:,} empty samples of {cells:,} "
            f"({gaps / cells:.2%}) filled with the VM's last value (see "
            "the trace notes for the rule)"]


def _start_fit(trace, strategies, n_hosts: Optional[int],
               allow_drop: bool) -> list[str]:
    """Stop before the replay when some VM finds no host at the start
    (too few ``--hosts``), unless ``--allow-drop``; returns the notes."""
    from watcher_adaptive.replay import runner
    from watcher_adaptive.replay import start_fit

    engine = runner.build_scenario(trace, n_hosts).engine
    fit = start_fit.check(engine.hosts, engine.vms,
                          engine.utilization_at(0.0), strategies)
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


def _simulate(args: argparse.Namespace) -> int:
    from watcher_adaptive.replay import report
    from watcher_adaptive.replay import runner

    _check_csv_options(args, [args.trace])
    strategies = registry.build_strategies(args.strategies)
    trace = resolve.resolve_trace(args.trace, args.traces_root,
                                  args.interval, args.memory)
    # before the first line of output: an error is then all there is
    dropped = _start_fit(trace, strategies, args.hosts, args.allow_drop)
    print(f"trace {trace.name}: {trace.n_vms} VMs, {trace.n_samples} "
          f"samples of {trace.interval_s:g} s; strategies: "
          f"{', '.join(s.name for s in strategies)}", file=sys.stderr)
    notes = trace_notes(trace)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    notes += dropped
    bar = console_progress.for_console(not args.no_progress,
                                       len(strategies))
    try:
        runs = runner.run_all(trace, strategies, args.hosts, bar.update)
    finally:
        bar.close()
    page = report.write_report(args.output, trace, runs,
                               {"notes": notes} if notes else None)
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


def _backtest(args: argparse.Namespace) -> int:
    from watcher_adaptive.predict import backtest
    from watcher_adaptive.predict import predictor
    from watcher_adaptive.predict import report

    horizon_range(args.horizon)
    quantiles = parse_quantiles(args.quantiles)
    specs = [s for arg in (args.traces or ["embedded:planetlab"])
             for s in arg.split(",") if s]
    _check_csv_options(args, specs)
    traces = [resolve.resolve_trace(s, args.traces_root, args.interval,
                                    args.memory) for s in specs]
    names = [t.name for t in traces]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        # a later fold would test on a trace it was trained on
        raise UsageError(f"trace given twice: {', '.join(twice)}")
    if len({t.interval_s for t in traces}) != 1:
        raise UsageError("all traces of a backtest need the same interval")
    notes = [n for t in traces for n in trace_notes(t)]
    for note in notes:
        print(f"note: {note}", file=sys.stderr)

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
    if notes:
        doc["notes"] = notes
    page = report.write_report(args.output, doc, main, quantiles)
    for name, entry in main.scores.items():
        if entry["mae"] is None:
            print(f"{name:9s} (not applicable to this trace)")
            continue
        f1 = report.score_text(entry["overload_f1"], "overload_f1",
                               report.actual_events(doc), ".3f")
        print(f"{name:9s} MAE {entry['mae']:.4f}  P90 coverage "
              f"{entry['coverage_p90']:.3f}  overload F1 {f1}")
    for fold in doc["folds"]:
        print(f"  {report.fold_line(fold)}")
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

    try:
        horizons = [int(h) for h in args.horizons.split(",") if h.strip()]
    except ValueError:
        horizons = []
    if not horizons or min(horizons) < 1:
        raise UsageError("--horizons: positive sample counts, e.g. 1,5,15")
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

    results = hb.run(args.run, seed=args.seed)
    print(hb.table(results))
    if args.output:
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

    horizon_range(args.horizon)
    quantiles = parse_quantiles(args.quantiles)
    step = args.granularity
    try:
        return _train_from(args, gnocchi.make_client(args.gnocchi,
                                                     args.user),
                           quantiles, step)
    except (gnocchi.MetricSourceError, gexc.ClientException) as exc:
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
    if root is None:
        day = "20110303"
        skipped = sorted({r.day for r in refs if r.day != day})
        refs = [r for r in refs if r.day == day]
        print(f"note: no --traces-root with planetlab/; checking only the "
              f"embedded day {day} (not {', '.join(skipped)})",
              file=sys.stderr)

    else:
        missing = sorted({r.day for r in refs
                          if not (Path(root) / "planetlab" / r.day).is_dir()})
        if missing:
            raise UsageError(f"--traces-root {root}: planetlab/ lacks "
                             f"{', '.join(missing)}")

    def load(day: str):
        return resolve.resolve_trace(f"planetlab:{day}", root)

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
