"""Put the development data's sweeps on the results page.

Reads one or more ``watcher-adaptive sweep`` output directories (the
five PlanetLab development days, the Bitbrains development VMs; see
``../shared/SPLIT.md``), draws their frontier plots together (one panel
per trace) into ``doc/source/user/images/``, keeps a summary in
``doc/source/_static/sweep-dev.json`` and re-renders
``doc/source/user/results-dev.rst`` (tools/dev_results.py) with its
*Frontiers* section.  Nothing is replayed here::

    watcher-adaptive sweep --traces-root ../shared/traces \
        --trace planetlab:20110303 ... --output /tmp/sweep-planetlab
    watcher-adaptive sweep --traces-root ../shared/traces \
        --trace 'bitbrains:*[13579].csv.gz' --output /tmp/sweep-bitbrains
    python tools/dev_sweep.py /tmp/sweep-planetlab /tmp/sweep-bitbrains
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools import dev_results
from watcher_adaptive.evaluate import pareto
from watcher_adaptive.evaluate import sweep
from watcher_adaptive.evaluate import sweep_report

IMAGES = dev_results.ROOT / "doc" / "source" / "user" / "images"
SUMMARY = dev_results.SWEEP
PLOTS = dev_results.SWEEP_PLOTS


def merge(docs: list[dict]) -> dict:
    """One document of several sweeps: their points together (a later
    sweep may add settings on a trace an earlier one ran), the front,
    dominance and counts computed again over all of them."""
    merged: dict = {"points": [], "traces": [], "runs": {}, "sweeps": []}
    for doc in docs:
        merged["points"] += doc["points"]
        merged["runs"].update(doc["runs"])
        known = {t["name"] for t in merged["traces"]}
        merged["traces"] += [t for t in doc["traces"]
                             if t["name"] not in known]
        merged["sweeps"].append({
            "traces": [t["name"] for t in doc["traces"]],
            "runs": len(doc["points"]), "wall_s": doc["wall_s"],
            "cpu_s": round(sum(r.get("cpu_s", 0.0)
                               for r in doc["runs"].values()), 1),
            "jobs": doc["jobs"], "constraints": doc["constraints"],
            "grid": doc["grid"],
            "given": sorted({p["id"].split(" ", 1)[1]
                             for p in doc["points"] if not p["params"]}),
            "version": doc["version"]})
    compared = [sweep.as_point(p) for p in merged["points"]]
    merged["frontier"] = pareto.fronts(compared, sweep.OURS)
    merged["dominance"] = pareto.dominance(compared, sweep.OURS,
                                           sweep.BASELINES)
    merged["summary"] = sweep.summary(merged["points"],
                                      merged["dominance"])
    return merged


def summary(merged: dict) -> dict:
    """What the page needs: the counts, the sweeps, and every baseline
    point no adaptive point dominates, with its figures."""
    by_id = {p["id"]: p for p in merged["points"]}
    keys = ("energy_kwh", "slav", "migrations")
    return {
        "sweeps": merged["sweeps"],
        "summary": merged["summary"],
        "verdict": sweep_report.verdict_sentence(merged),
        "frontier": {trace: [{"id": i, **{k: by_id[i][k] for k in keys}}
                             for i in ids]
                     for trace, ids in merged["frontier"].items()},
        "not_dominated": [{"id": i, **{k: by_id[i][k] for k in keys}}
                          for i, by in merged["dominance"].items()
                          if by is None],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path,
                        help="sweep output directories (sweep.json)")
    args = parser.parse_args(argv)
    docs = [json.loads((d / "sweep.json").read_text())
            for d in args.sweeps]
    merged = merge(docs)
    IMAGES.mkdir(parents=True, exist_ok=True)
    for key, label, scale, _ in sweep_report.PLOTS:
        sweep_report.frontier_plot(IMAGES, merged, key, label, scale,
                                   PLOTS[key])
    SUMMARY.write_text(json.dumps(summary(merged), indent=1) + "\n")
    page_docs = json.loads(dev_results.DATA.read_text())
    dev_results.PAGE.write_text(dev_results.render(page_docs, []))
    print(f"wrote {SUMMARY}, {dev_results.PAGE} and "
          f"{', '.join(PLOTS.values())} in {IMAGES}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
