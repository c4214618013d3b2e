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
import sys
import time
import warnings
from pathlib import Path
from typing import Optional
from typing import Sequence

from watcher_adaptive.cmd import checks
from watcher_adaptive.cmd import progress as console_progress
from watcher_adaptive.cmd.parser import build_parser
from watcher_adaptive.exceptions import MetricSourceError
from watcher_adaptive.exceptions import TraceError
from watcher_adaptive.exceptions import UnknownStrategy
from watcher_adaptive.exceptions import UsageError
from watcher_adaptive.traces import resolve


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
        checks.check_paths(args)
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "backtest":
            return _backtest(args)
        if args.command == "sweep":
            return _sweep(args)
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
    except (UsageError, TraceError,
            UnknownStrategy, ValueError, OSError) as exc:
        # NOTE(wa): OSError too: a disk full or a permission refused while
        # writing is the user's environment, not a bug to trace back
        text = str(exc) if not isinstance(exc, OSError) or \
            not exc.filename else f"{exc.filename}: {exc.strerror}"
        print(f"watcher-adaptive {args.command}: error: {text}",
              file=sys.stderr)
        return 2


def _zipapp(args: argparse.Namespace) -> int:
    from watcher_adaptive.profiler import zipapp

    print(zipapp.build(args.output))
    return 0


def _no_warning(*args: object, **kwargs: object) -> None:
    return None


def _simulate(args: argparse.Namespace) -> int:
    from watcher_adaptive.evaluate import strategies as with_models
    from watcher_adaptive.replay import report
    from watcher_adaptive.replay import runner
    from watcher_adaptive.replay import verdict

    checks.check_csv_options(args, [args.trace])
    # a trace that names nothing is refused before the strategies are
    # built (Watcher's import alone is seconds), a named one is read after
    load_trace = resolve.locate(args.trace, args.traces_root,
                                args.interval, args.memory)
    strategies = with_models.build_strategies(args.strategies)
    trace = load_trace()
    # before the first line of output: an error is then all there is
    dropped = checks.start_fit(trace, strategies, args.hosts,
                               args.allow_drop, args.constraints)
    print(f"trace {trace.name}: {trace.n_vms} VMs, {trace.n_samples} "
          f"samples of {trace.interval_s:g} s; strategies: "
          f"{', '.join(s.name for s in strategies)}", file=sys.stderr)
    notes = checks.trace_notes(trace)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    notes += dropped
    scenario = runner.build_scenario(trace, args.hosts, args.constraints)
    floor_curve = scenario.engine.fluid_bound_curve()
    floor = float(floor_curve[1][-1]) if floor_curve[1].size else 0.0
    print(f"{scenario.world.header()}; physical floor {floor:.2f} kWh",
          file=sys.stderr)
    bar = console_progress.for_console(not args.no_progress,
                                       [s.name for s in strategies])
    try:
        runs = runner.run_all(trace, strategies, progress=bar.update,
                              scenario=scenario)
    finally:
        bar.close()
    page = report.write_report(args.output, trace, runs,
                               {"notes": notes} if notes else None,
                               world=scenario.world, fluid_bound_kwh=floor,
                               fluid_curve=floor_curve)
    for run in runs:
        m = run.metrics
        if m is None:
            print(f"{run.name:40s} FAILED: {run.error}")
        else:
            print(f"{run.name:40s} {m.energy_kwh:9.2f} kWh "
                  f"({m.energy_kwh / floor if floor else float('nan'):.2f}"
                  " x floor) "
                  f"{m.migrations:7d} migrations  SLAV "
                  # scientific: SLAV is often ~1e-5 %, 0.00000 in fixed
                  f"{m.slav * 100:9.3e} %  served "
                  f"{m.served_fraction * 100:.3f} %  ({run.wall_s:.1f} s)")
    comparisons = verdict.verdict(runs)
    if comparisons is None:
        print(f"no verdict: {verdict.OURS} was not run or failed")
    else:
        print("\n".join(verdict.console_lines(comparisons)))
    print(f"report: {page}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    import joblib

    from watcher_adaptive.evaluate import grid
    from watcher_adaptive.evaluate import strategies as with_models
    from watcher_adaptive.evaluate import sweep
    from watcher_adaptive.evaluate import sweep_report
    from watcher_adaptive.replay import report
    from watcher_adaptive.replay import runner
    from watcher_adaptive.traces import attribution

    tables = grid.load(args.grid)
    settings = grid.settings(args.strategies, tables)
    traces = checks.load_traces(args, args.traces or ["embedded:planetlab"])
    # one setting of each strategy: the settings of one share its start
    # placement
    built = with_models.build_strategies(",".join(
        {s.family: s.spec for s in settings}.values()))
    floors = {}
    for trace in traces:
        checks.start_fit(trace, built, None, False, args.constraints)
        for note in checks.trace_notes(trace):
            print(f"note: {note}", file=sys.stderr)
        scenario = runner.build_scenario(trace, None, args.constraints)
        floors[trace.name] = scenario.engine.fluid_bound_kwh()
    jobs = args.jobs or joblib.cpu_count()
    todo = sweep.tasks(traces, settings, args.constraints)
    print(f"sweep: {len(settings)} settings x {len(traces)} trace(s) = "
          f"{len(todo)} runs in {jobs} process(es), world "
          f"{args.constraints}", file=sys.stderr)
    bar = console_progress.runs_for_console(not args.no_progress,
                                            len(todo))
    started = time.perf_counter()
    try:
        outcomes = sweep.run(todo, jobs, on_done=lambda o: bar.done(
            o.id + (" FAILED" if o.error else "")))
    finally:
        bar.close()
    wall = time.perf_counter() - started
    doc = sweep.document(todo, outcomes, floors)
    header = {"constraints": args.constraints, "jobs": jobs,
              "wall_s": round(wall, 1),
              "version": report.project_version(),
              # the tables the settings came from (not the ones of
              # strategies run once)
              "grid": {s.family: tables[s.family] for s in settings
                       if s.params},
              "attribution": sorted({attribution.attribution(
                  t.report.source) for t in traces})}
    page = sweep_report.write(args.output, doc, header)
    print("\n".join(sweep_report.console_lines(doc)))
    print(f"{len(todo)} runs in {wall:.0f} s "
          f"({len(todo) / wall * 60 if wall else 0:.1f} runs/min)")
    print(f"report: {page}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from watcher_adaptive.evaluate import membership
    from watcher_adaptive.predict import backtest
    from watcher_adaptive.predict import predictor
    from watcher_adaptive.predict import report

    checks.horizon_range(args.horizon)
    quantiles = checks.parse_quantiles(args.quantiles)
    specs = [s for arg in (args.traces or ["embedded:planetlab"])
             for s in arg.split(",") if s]
    # a trace given twice: a later fold would test on a trace it was
    # trained on
    traces = checks.load_traces(args, specs)
    if len({t.interval_s for t in traces}) != 1:
        raise UsageError("all traces of a backtest need the same interval")
    notes = [n for t in traces for n in checks.trace_notes(t)]
    for note in notes:
        print(f"note: {note}", file=sys.stderr)

    def say(msg: str) -> None:
        print(f"  {msg}", file=sys.stderr, flush=True)

    horizons = sorted({args.horizon, 900.0, 1800.0})
    # each trace's LR-MMT replay runs once, for every horizon and the fit
    members = membership.LrMmtMembership(args.constraints)
    results = {h: backtest.backtest_horizon(traces, h, members, quantiles,
                                            progress=say)
               for h in horizons}
    main = results[args.horizon]
    others = [r for h, r in results.items() if h != args.horizon]
    doc = report.results_document(
        [t.name for t in traces], main, others, quantiles,
        interval_s=traces[0].interval_s,
        starts={t.name: t.start_epoch_s for t in traces})
    # the world whose LR-MMT replay gave the host membership
    doc["constraints"] = {t.name: members.world_of(t).name
                          for t in traces}
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
                                       members)
        files = predictor.save(model, args.save_model)
        print(f"model: {files[0]} ({files[1].name})")
    print(f"report: {page}")
    return 0


def _profile_backtest(args: argparse.Namespace) -> int:
    import json

    from watcher_adaptive.predict import profile_backtest as pb

    data_set = args.run is None
    try:
        horizons = [int(h) for h in (args.horizons or (
            "60,300" if data_set else "1,5,15")).split(",") if h.strip()]
    except ValueError:
        horizons = []
    if not horizons or min(horizons) < 1:
        raise UsageError("--horizons: positive whole numbers, e.g. "
                         + ("60,300 (seconds)" if data_set
                            else "1,5,15 (samples)"))
    if data_set:
        from watcher_adaptive.predict import app_backtest as ab
        from watcher_adaptive.predict import app_dataset

        root = args.data or app_dataset.source_tree_data()
        runs = app_dataset.read_dir(root)
        print(f"{len(runs)} recorded runs in {root}; fitting on the "
              "development runs, one horizon at a time", file=sys.stderr)
        report = {"data": str(root),
                  **ab.run(runs, horizons, args.max_iter)}
        text, draw = ab.table(report), ab.plot
    else:
        report = pb.run(args.run, horizons, args.max_iter)
        text, draw = pb.table(report), pb.plot
    print(text)
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / "results.json").write_text(
            json.dumps(report, indent=1))
        print(draw(report, args.output / "profile_backtest.png"))
    return 0


def _hotset_backtest(args: argparse.Namespace) -> int:
    import json

    from watcher_adaptive.predict import hotset_backtest as hb

    results = hb.run(args.run, seed=args.seed)
    print(hb.table(results))
    if args.output:
        args.output.write_text(json.dumps(results, indent=1))
    return 0


def _gnocchi_client(args: argparse.Namespace):
    """The Gnocchi client ``--gnocchi``/``--user`` (basic auth) or
    ``--auth-config`` (Keystone) describe, built before any work (no
    request yet: Keystone is asked on the first one)."""
    from watcher_adaptive.adapters import keystone
    from watcher_adaptive.conf.cli import GROUP as AUTH_GROUP

    if args.auth_config is None:
        return keystone.gnocchi_client(keystone.basic_session(
            args.gnocchi, args.user))
    conf = keystone.load_conf_file(str(args.auth_config), AUTH_GROUP)
    return keystone.gnocchi_client(
        keystone.keystone_session(conf, AUTH_GROUP), endpoint=args.gnocchi)


def _gnocchi_where(args: argparse.Namespace) -> str:
    if args.auth_config is None:
        return f"Gnocchi at {args.gnocchi}"
    return (f"Gnocchi ({'at ' + args.gnocchi + ', ' if args.gnocchi else ''}"
            f"Keystone from {args.auth_config})")


def _profiler_setup(args: argparse.Namespace) -> int:
    from gnocchiclient import exceptions as gexc
    from keystoneauth1 import exceptions as kexc

    from watcher_adaptive.profiler import sink

    client = _gnocchi_client(args)
    try:
        created = sink.ensure_archive_policy(
            client, args.archive_policy, granularity_s=args.granularity)
    except (gexc.ClientException, kexc.ClientException) as exc:
        raise UsageError(f"{_gnocchi_where(args)}: {exc}") from None
    print(f"archive policy {args.archive_policy} and rule "
          f"'{sink.METRIC_PREFIX}*': "
          f"{'created' if created else 'already there'}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from gnocchiclient import exceptions as gexc
    from keystoneauth1 import exceptions as kexc

    checks.horizon_range(args.horizon)
    quantiles = checks.parse_quantiles(args.quantiles)
    step = args.granularity
    client = _gnocchi_client(args)
    try:
        return _train_from(args, client, quantiles, step)
    except (MetricSourceError, gexc.ClientException,
            kexc.ClientException) as exc:
        raise UsageError(f"{_gnocchi_where(args)}: {exc}") from None


def _train_from(args: argparse.Namespace, client, quantiles: list[float],
                step: int) -> int:
    import datetime

    import numpy as np

    from watcher_adaptive.adapters import gnocchi
    from watcher_adaptive.evaluate import membership
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
    print(f"read {len(ids):,} instances from {_gnocchi_where(args)} in "
          f"{window.requests} request(s), {time.perf_counter() - started:.1f}"
          f" s; history: {len(merged.resource_ids):,} instances x "
          f"{merged.times.size} samples in {args.history}")
    if merged.times.size < args.min_samples or not merged.resource_ids:
        print(f"history too short to train ({merged.times.size} samples, "
              f"need {args.min_samples}); model unchanged")
        return 0
    # the host rows' membership: an LR-MMT replay of the history
    model = training.fit_predictor([merged.to_trace()], args.horizon,
                                   quantiles, membership.LrMmtMembership())
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
