"""The ``watcher-adaptive`` command line: its subcommands and options.

Every subcommand's ``--help`` says what it does and ends with an example;
option types refuse bad values (argparse's usage line and one error
line, exit status 2) before any command runs.
"""
from __future__ import annotations

import argparse
import os
import textwrap
import urllib.parse
from pathlib import Path

from watcher_adaptive.replay import worlds
from watcher_adaptive.traces import resolve

#: the baselines and Watcher peers that fit the default run's 3-minute
#: budget on a 2-core machine (each peer at its own audit interval)
DEFAULT_STRATEGIES = ("adaptive,adaptive-reactive,dvfs,thr-mmt,lr-mmt,"
                      "watcher:vm_workload_consolidation,"
                      "watcher:workload_stabilization,"
                      "watcher:workload_balance,watcher:basic")
#: what ``sweep`` sweeps by default (each over its default grid)
SWEEP_STRATEGIES = "adaptive,lr-mmt,thr-mmt"


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


def _several_traces(parser: argparse.ArgumentParser, help_text: str) -> None:
    """A repeatable ``--trace`` (into ``traces``) and what reading one
    takes."""
    parser.add_argument("--trace", action="append", dest="traces",
                        help=help_text)
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


def _http_url(text: str) -> str:
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(
            f"not an http(s) URL: {text!r} (e.g. http://gnocchi:8041)")
    return text


def _gnocchi_options(parser: argparse.ArgumentParser) -> None:
    """Gnocchi with basic auth (``--gnocchi URL``) or Keystone
    (``--auth-config FILE``); one of the two is needed."""
    parser.add_argument("--gnocchi", metavar="URL", type=_http_url,
                        help="Gnocchi endpoint: the server, with basic "
                             "auth; with --auth-config, an override of "
                             "the catalog's metric endpoint")
    parser.add_argument("--user", default="admin",
                        help="basic-auth user (default: %(default)s)")
    parser.add_argument("--auth-config", type=Path, metavar="FILE",
                        help="Keystone instead of basic auth: a config "
                             "file whose [gnocchi_auth] section has "
                             "keystoneauth1's options (auth_type = "
                             "password, auth_url, username, password, "
                             "project_name, user_domain_name, "
                             "project_domain_name); see "
                             "etc/watcher-adaptive-cli.conf.sample")


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
    sim.add_argument(
        "--constraints", choices=sorted(worlds.WORLDS),
        default=worlds.DEFAULT,
        help="the world every strategy runs in: realistic (host RAM and "
             "vCPUs at Nova's default allocation ratios 1.0 / 4.0 limit "
             "placement and every migration) or cloudsim (CloudSim 3.0.3: "
             "CPU only) (default: %(default)s)")
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

    sw = _sub(sub, "sweep", "replay every setting of every strategy "
              "on every trace, in parallel, and draw the energy / SLA / "
              "migrations frontier",
              "watcher-adaptive sweep --trace planetlab:20110303 "
              "--trace planetlab:20110306 --jobs 2 --output sweep",
              "Writes sweep.json (every point, adaptive's front, which "
              "LR-MMT and THR-MMT points an adaptive point dominates), "
              "two frontier plots and sweep.html.  The grid and every "
              "trace are checked before the first run.")
    _several_traces(sw, "a trace (same forms as simulate); repeat it for "
                        "several (default: embedded:planetlab)")
    sw.add_argument(
        "--strategies", default=SWEEP_STRATEGIES,
        help="comma-separated strategy names to sweep; adaptive, "
             "adaptive-reactive, lr-mmt and thr-mmt run every setting of "
             "their grid, others (dvfs, watcher:<name>) and an entry "
             "given with its parameter (lr-mmt:1.1) run once "
             "(default: %(default)s)")
    sw.add_argument(
        "--grid", type=Path, metavar="FILE",
        help="TOML: a table per strategy, each key a parameter with a "
             "list of values, e.g. [lr-mmt] safety = [1.0, 1.2]; a "
             "strategy without a table runs the shipped default grid")
    sw.add_argument(
        "--constraints", choices=sorted(worlds.WORLDS),
        default=worlds.DEFAULT,
        help="the world every run is in, as for simulate "
             "(default: %(default)s)")
    sw.add_argument("--jobs", type=_positive_int,
                    help="worker processes (default: all cores)")
    sw.add_argument("--output", default="sweep", type=Path,
                    help="directory for sweep.json, sweep.html and the "
                         "frontier plots (default: %(default)s)")
    sw.add_argument("--no-progress", action="store_true",
                    help="no progress bar or progress lines")

    bt = _sub(sub, "backtest", "rolling-origin backtest of the "
              "resource predictor against the classic baselines",
              "watcher-adaptive backtest --trace planetlab:20110303 "
              "--trace planetlab:20110306 --output backtest",
              "With one trace it trains on the first half and tests on "
              "the second (the training targets end before the test "
              "starts); with several, each is tested by a model trained "
              "on the ones before it.")
    _several_traces(bt, "a trace (same forms as simulate); repeat it or "
                        "give a comma list for a rolling origin over "
                        "several (default: embedded:planetlab, split in "
                        "half)")
    bt.add_argument(
        "--constraints", choices=sorted(worlds.WORLDS),
        help="the world of the LR-MMT replay that gives each VM's host "
             "(default: cloudsim for PlanetLab days, realistic otherwise)")
    bt.add_argument("--horizon", type=_positive_float, default=1800.0,
                    help="forecast horizon in seconds, 300-7200 "
                         "(default: %(default)s); 900 and 1800 are always "
                         "scored too")
    # NOTE(wa): five levels, not just the two scored (P50, P90): the
    # report's calibration plot needs several points to show a curve
    bt.add_argument("--quantiles", default="0.1,0.25,0.5,0.75,0.9",
                    help="comma-separated quantile levels, must include "
                         "one near 0.5 and one near 0.9; each is a point "
                         "of the report's calibration plot "
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
              "what is new since the last one. Gnocchi with Keystone: "
              "--auth-config FILE instead of --gnocchi.")
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
              "Run it once per cloud, before the first collector starts. "
              "Gnocchi with Keystone: --auth-config FILE instead of "
              "--gnocchi.")
    _gnocchi_options(ps)
    ps.add_argument("--archive-policy", default="watcher-adaptive-profile",
                    metavar="NAME",
                    help="name of the archive policy to create "
                         "(default: %(default)s)")
    ps.add_argument("--granularity", type=_positive_int, default=30,
                    metavar="SECONDS",
                    help="finest granularity in seconds: the guest "
                         "agent's interval (default: %(default)s)")

    pb = _sub(sub, "profile-backtest", "do behaviour profiles help the "
              "CPU forecast? a backtest on the recorded applications "
              "(fitted on the development runs, reported on the "
              "evaluation runs and the held-out kind), or on one "
              "recorded run of the guest agent",
              "watcher-adaptive profile-backtest --output profile-bt")
    pb.add_argument("run", type=Path, nargs="?",
                    help="one run recorded by tools/record_profile_run.py "
                         "(.jsonl or .jsonl.gz) instead of the data set")
    pb.add_argument("--data", type=Path, metavar="DIR",
                    help="the recorded applications, <kind>-<seed>.jsonl.gz "
                         "(default: tools/data/profile-apps of the source "
                         "tree this package runs from)")
    pb.add_argument("--horizons", default=None,
                    help="forecast horizons: seconds for the data set "
                         "(default: 60,300), samples for one run "
                         "(default: 1,5,15)")
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
