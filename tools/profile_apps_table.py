"""The recorded application runs as an RST table for the docs: split,
records, the machine's load while recording (a busy machine understates
what the application got, so each row says how busy it was), the guest
agent's own CPU and the median demand (cores got + waited) of each
phase.

    python tools/profile_apps_table.py [DIR]          # print it
    python tools/profile_apps_table.py --docs [DIR]   # into the docs

``--docs`` rewrites the table between the ``.. profile-apps-table-start``
and ``.. profile-apps-table-end`` comments of
``doc/source/user/profiler.rst``; everything else is left alone.
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
PAGE = Path(__file__).resolve().parents[1] / "doc" / "source" / "user" \
    / "profiler.rst"
START = ".. profile-apps-table-start\n"
END = ".. profile-apps-table-end"


def into_page(page: str, table: str) -> str:
    """``page`` with ``table`` between the markers."""
    if START not in page or END not in page:
        raise ProfileDataError(f"{PAGE}: no {START.strip()} / {END} "
                               "markers")
    head, rest = page.split(START, 1)
    return head + START + "\n" + table + "\n\n" + END + \
        rest.split(END, 1)[1]


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
    docs = "--docs" in args
    args = [a for a in args if a != "--docs"]
    root = Path(args[0]) if args else DATA
    try:
        table = rst(rows(root))
        if docs:
            PAGE.write_text(into_page(PAGE.read_text(), table))
            print(f"wrote the table into {PAGE}")
        else:
            print(table)
    except ProfileDataError as exc:
        print(f"profile_apps_table: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
