#!/usr/bin/env python3
"""Rewrite the default run's table in ``doc/source/user/replay.rst`` from
the ``results.json`` of a ``bash tools/run-main.sh`` run, so the page's
figures and timings are the ones a run produced, not typed by hand.

    bash tools/run-main.sh /tmp/main && \\
        python tools/doc_default_run.py /tmp/main/results.json

The table sits between the ``.. default-run-table-start`` and
``.. default-run-table-end`` comments; everything else is left alone.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "doc" / "source" / "user" \
    / "replay.rst"
START = ".. default-run-table-start"
END = ".. default-run-table-end"
HEADER = ("strategy", "energy kWh", "x floor", "migrations", "SLATAH",
          "PDM", "SLAV", "served %", "audit every s", "wall s")


def rows(doc: dict) -> list[tuple[str, ...]]:
    """One row per strategy of a results.json, in its order."""
    out = []
    for name, run in doc["strategies"].items():
        if run.get("error"):
            out.append((name, "failed") + ("",) * (len(HEADER) - 2))
            continue
        out.append((name, f"{run['energy_kwh']:.1f}",
                    f"{run['energy_vs_bound']:.2f}",
                    f"{run['migrations']:,}", f"{run['slatah']:.1e}",
                    f"{run['pdm']:.1e}", f"{run['slav']:.1e}",
                    f"{100 * run['served_fraction']:.3f}",
                    f"{run['audit_interval_s']:g}", f"{run['wall_s']:.1f}"))
    return out


def table(doc: dict) -> str:
    """The reStructuredText block: a caption line and a simple table."""
    body = [HEADER, *rows(doc)]
    widths = [max(len(r[i]) for r in body) for i in range(len(HEADER))]
    rule = "  ".join("=" * w for w in widths)

    def line(row: tuple[str, ...]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(c.ljust(w) for c, w in cells).rstrip()

    world = doc.get("constraints", "?")
    total = sum(r["wall_s"] for r in doc["strategies"].values())
    caption = (f"World ``{world}``, physical floor "
               f"{doc['fluid_bound_kwh']:.1f} kWh; the replays took "
               f"{total:.0f} s together (written by "
               "``tools/doc_default_run.py``).")
    return "\n".join([caption, "", rule, line(HEADER), rule,
                      *(line(r) for r in body[1:]), rule])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: doc_default_run.py RESULTS_JSON", file=sys.stderr)
        return 2
    try:
        doc = json.loads(Path(argv[0]).read_text())
    except (OSError, ValueError) as exc:
        print(f"error: {argv[0]}: {exc}", file=sys.stderr)
        return 2
    text = PAGE.read_text()
    head, sep, rest = text.partition(START)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        print(f"error: {PAGE} lacks the {START} / {END} markers",
              file=sys.stderr)
        return 2
    PAGE.write_text(f"{head}{START}\n\n{table(doc)}\n\n{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
