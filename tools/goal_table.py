#!/usr/bin/env python3
"""Print the adaptive-vs-LR-MMT goal table (reStructuredText) from the
``results.json`` files of ``watcher-adaptive simulate`` runs.

    python tools/goal_table.py [--plot ratios.png] report-*/results.json

For every trace: energy, migrations and SLAV of ``adaptive`` as ratios
to LR-MMT 1.2 in the same run (goals: <= 1.1, <= 0.1, <= 0.5) and, for
PlanetLab days, to the paper-era LR-MMT figures (the stretch goal).
"""
from __future__ import annotations

import json
import sys

from watcher_adaptive.replay import validation

GOALS = {"energy": 1.1, "migrations": 0.1, "slav": 0.5}


def main(argv: list[str]) -> int:
    plot = None
    if argv[:1] == ["--plot"]:
        plot, argv = argv[1], argv[2:]
    rows, bars = [], []
    paths = argv
    for path in paths:
        with open(path) as handle:
            data = json.load(handle)
        runs = data["strategies"]
        ours, ref = runs.get("adaptive"), runs.get("lr-mmt")
        if not ours or not ref or ours.get("error") or ref.get("error"):
            print(f"{path}: no adaptive and lr-mmt runs", file=sys.stderr)
            continue
        trace = data["trace"]
        ratios = (ours["energy_kwh"] / ref["energy_kwh"],
                  ours["migrations"] / max(1, ref["migrations"]),
                  ours["slav"] / ref["slav"] if ref["slav"] else float("inf"))
        day = trace.split(":")[-1]
        paper = validation.CLOUDSIM_PAPER_ERA_LR_MMT.get(day)
        stretch = ("–" if paper is None else
                   " / ".join(f"{v:.2f}" for v in (
                       ours["energy_kwh"] / paper[0],
                       ours["migrations"] / paper[1],
                       ours["slav"] / paper[2])))
        bars.append((trace.replace("planetlab:", ""), ratios))
        met = all(r <= g for r, g in zip(ratios, GOALS.values(),
                                         strict=True))
        rows.append((trace,
                     f"{ours['energy_kwh']:.1f} / {ref['energy_kwh']:.1f}",
                     f"{ours['migrations']:,} / {ref['migrations']:,}",
                     f"{ours['slav'] * 100:.6f} / {ref['slav'] * 100:.6f}",
                     " / ".join(f"{r:.3f}" for r in ratios),
                     "yes" if met else "**no**", stretch))
    head = ("trace", "energy kWh (ours / LR-MMT)", "migrations",
            "SLAV % (ours / LR-MMT)", "ratios E / M / SLAV",
            "goals met", "vs paper-era LR-MMT E / M / SLAV")
    if plot:
        _plot(bars, plot)
    print(".. list-table::\n   :header-rows: 1\n")
    for row in (head, *rows):
        print("   * - " + row[0])
        for cell in row[1:]:
            print(f"     - {cell}")
    return 0


def _plot(bars, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    names = [b[0] for b in bars]
    for k, (ax, (metric, goal)) in enumerate(zip(axes, GOALS.items(),
                                                  strict=True)):
        values = [b[1][k] for b in bars]
        colors = ["tab:green" if v <= goal else "tab:red" for v in values]
        ax.bar(np.arange(len(names)), values, color=colors)
        ax.axhline(goal, color="black", ls="--", lw=1,
                   label=f"goal <= {goal:g}x")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(np.arange(len(names)), names, rotation=30,
                      ha="right", fontsize=8)
        ax.set_title(f"{metric}: adaptive / LR-MMT 1.2")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
