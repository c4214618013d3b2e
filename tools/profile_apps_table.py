"""The recorded application runs as an RST table for the docs: split,
records, the machine's load while recording (a busy machine understates
what the application got, so each row says how busy it was), the guest
agent's own CPU and the median demand (cores got + waited) of each
phase.

    python tools/profile_apps_table.py [DIR]
"""
from __future__ import annotations

import gzip
import json
import statistics
import sys
from pathlib import Path

from watcher_adaptive.exceptions import ProfileDataError
from watcher_adaptive.predict import app_dataset

DATA = Path(__file__).resolve().parents[1] / "tools" / "data" \
    / "profile-apps"


def rows(root: Path) -> list[list[str]]:
    out = []
    for run in app_dataset.read_dir(root):
        path = root / f"{run.name}.jsonl.gz"
        docs = [json.loads(line) for line in gzip.open(path, "rt")]
        load = [d["load1"] for d in docs]
        # recorded since the recorder measured it
        agent = [d["agent_cpu_ms"] for d in docs if "agent_cpu_ms" in d]
        phases: dict[str, list[float]] = {}
        for phase, demand in zip(run.phases, run.demand, strict=True):
            phases.setdefault(phase, []).append(float(demand))
        out.append([
            run.name, run.split.replace("_", " "), str(run.demand.size),
            f"{statistics.median(load):.2f} / {max(load):.2f}",
            f"{sum(agent) / (len(agent) * run.interval_s * 10):.2f}"
            if agent else "not recorded",
            ", ".join(f"{p} {statistics.median(v):.2f}"
                      for p, v in phases.items())])
    return out


def rst(table: list[list[str]]) -> str:
    head = ["run", "split", "records", "load average median / max",
            "agent CPU (% of one core)", "median demand per phase (cores)"]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [head, *table]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else DATA
    try:
        print(rst(rows(root)))
    except ProfileDataError as exc:
        print(f"profile_apps_table: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
