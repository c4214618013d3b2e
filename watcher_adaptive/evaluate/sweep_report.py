"""The sweep's report: ``sweep.json``, two frontier plots, ``sweep.html``.

The page leads with the verdict (how many LR-MMT and THR-MMT settings an
``adaptive`` setting dominates, per trace), then the plots — energy
against SLAV and against migrations, one panel per trace, adaptive's
front as a line, the physical floor as a vertical line — then every
point, in the style of the replay's report
(:mod:`watcher_adaptive.replay.report`).
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any
from typing import Optional
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from watcher_adaptive.evaluate import sweep  # noqa: E402
from watcher_adaptive.replay import plots  # noqa: E402
from watcher_adaptive.replay import report  # noqa: E402

PLOTS = (("slav", "SLAV (%)", 100.0, "pareto-energy-slav.png"),
         ("migrations", "migrations", 1.0, "pareto-energy-migrations.png"))
#: colour and marker of each baseline family; other strategies cycle
_FAMILY_STYLE = {"lr-mmt": ("#4575b4", "s"), "thr-mmt": ("#1b9e77", "^"),
                 "dvfs": ("#666666", "D"),
                 "adaptive-reactive": ("#e6ab02", "o")}
_OTHER_STYLES = (("#7570b3", "v"), ("#a6761d", "P"), ("#e7298a", "X"),
                 ("#17becf", "h"), ("#8c564b", "*"))


def write(output_dir: Path, doc: dict[str, Any],
          header: dict[str, Any]) -> Path:
    """Write ``sweep.json`` (``doc`` with ``header`` first), the plots
    and ``sweep.html`` into ``output_dir``; returns the page's path."""
    output_dir.mkdir(parents=True, exist_ok=True)
    full = {**header, **doc}
    (output_dir / "sweep.json").write_text(json.dumps(full, indent=1)
                                           + "\n")
    images = [(frontier_plot(output_dir, doc, *spec), spec[1])
              for spec in PLOTS]
    page = output_dir / "sweep.html"
    page.write_text(_html(full, images))
    return page


def verdict_sentence(doc: dict[str, Any]) -> str:
    """``adaptive dominates 48 of the 50 LR-MMT and THR-MMT points...``"""
    s = doc["summary"]
    total, won = s["baseline_points"], s["dominated"]
    if not total:
        return (f"No verdict: no {' or '.join(sweep.BASELINES)} point was "
                "run.")
    missed = [f"{trace}: {c['points'] - c['dominated']} of {c['points']} "
              f"{family}"
              for trace, fams in s["per_trace"].items()
              for family, c in fams.items() if c["dominated"] < c["points"]]
    head = (f"An {sweep.OURS} setting is no worse on energy, SLAV and "
            f"migrations at once than {won} of the {total} "
            f"{' and '.join(sweep.BASELINES)} points")
    if not missed:
        return head + ": all of them."
    return head + "; not dominated: " + "; ".join(missed) + "."


def console_lines(doc: dict[str, Any]) -> list[str]:
    """Per trace and baseline how many points are dominated, the failed
    runs, the verdict: what the command prints at the end."""
    out = []
    for trace, fams in doc["summary"]["per_trace"].items():
        for family, c in fams.items():
            out.append(f"{trace:30s} {family:8s} {c['dominated']} of "
                       f"{c['points']} dominated by an adaptive point"
                       + (f" ({c['failed']} failed)" if c["failed"]
                          else ""))
    out += [f"FAILED {p['id']}: {p['error']}" for p in doc["points"]
            if p["error"]]
    return out + [verdict_sentence(doc)]


# ----------------------------------------------------------------------
# plots
def frontier_plot(out: Path, doc: dict[str, Any], key: str, label: str,
                  scale: float, name: str) -> Optional[str]:
    """Energy against ``key``, one panel per trace: every point, the
    front of adaptive as a line, the floor as a vertical line."""
    ok = [p for p in doc["points"] if p["error"] is None
          and p["energy_kwh"] is not None]
    if not ok:
        return None
    traces = [t for t in doc["traces"]
              if any(p["trace"] == t["name"] for p in ok)]
    cols = min(3, len(traces))
    rows = -(-len(traces) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.2 * rows),
                             squeeze=False)
    for ax, trace in zip(axes.flat, traces, strict=False):
        pts = [p for p in ok if p["trace"] == trace["name"]]
        _panel(ax, pts, set(doc["frontier"].get(trace["name"], [])),
               trace, key, label, scale)
    for ax in list(axes.flat)[len(traces):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for ax in list(axes.flat)[1:len(traces)]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)),
               fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 if rows == 1 else 0.03, 1, 1))
    fig.savefig(out / name, dpi=plots.DPI, bbox_inches="tight")
    plt.close(fig)
    return name


def _panel(ax, pts: Sequence[dict], front: set[str], trace: dict,
           key: str, label: str, scale: float) -> None:
    ys = [float(p[key]) * scale for p in pts]
    xs = [float(p["energy_kwh"]) for p in pts]
    floor = trace.get("fluid_bound_kwh")
    log_y = plots.spans_decades(ys)
    bottom = min((y for y in ys if y > 0), default=1.0) / 3.0
    # on a log axis a 0 (no migration, no SLAV) sits at the bottom
    ys = [max(y, bottom) if log_y else y for y in ys]
    if log_y:
        ax.set_yscale("log")
    if plots.spans_decades(xs + ([floor] if floor else [])):
        ax.set_xscale("log")
    families = list(dict.fromkeys(p["strategy"] for p in pts))
    others = iter(_OTHER_STYLES * 4)
    for family in families:
        if family == sweep.OURS:
            continue
        colour, marker = _FAMILY_STYLE.get(family) or next(others)
        sel = [i for i, p in enumerate(pts) if p["strategy"] == family]
        ax.scatter([xs[i] for i in sel], [ys[i] for i in sel], s=30,
                   marker=marker, color=colour, label=family, zorder=3,
                   alpha=0.85)
    ours = [i for i, p in enumerate(pts) if p["strategy"] == sweep.OURS]
    if ours:
        ax.scatter([xs[i] for i in ours], [ys[i] for i in ours], s=18,
                   facecolors="none", edgecolors=plots.OURS_COLOUR,
                   label=f"{sweep.OURS} (every setting)", zorder=4)
        on = sorted((xs[i], ys[i]) for i in ours if pts[i]["id"] in front)
        if on:
            ax.plot([x for x, _ in on], [y for _, y in on], "-o",
                    color=plots.OURS_COLOUR, linewidth=2.2, markersize=5,
                    label=f"{sweep.OURS}: front (energy, SLAV, "
                          "migrations)", zorder=5)
    if floor:
        ax.axvline(floor, color="black", linestyle=":", linewidth=1.2,
                   label="physical floor (fluid_bound_kwh)")
    ax.set_title(trace["name"], fontsize=9)
    ax.set_xlabel("energy (kWh)" + (" — log" if ax.get_xscale() == "log"
                                    else ""), fontsize=8)
    ax.set_ylabel(label + (" — log, 0 at the bottom" if log_y else ""),
                  fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, which="both")


# ----------------------------------------------------------------------
# page
def _html(doc: dict[str, Any], images: list[tuple[Optional[str], str]]
          ) -> str:
    esc = html.escape
    floors = {t["name"]: t["fluid_bound_kwh"] for t in doc["traces"]}
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>watcher-adaptive sweep</title>",
        f"<style>{report.STYLE}</style></head><body>",
        "<h1>Sweep: the energy / SLA / migrations frontier</h1>",
        f"<p>{len(doc['points'])} runs: {len(doc['traces'])} trace(s) x "
        f"{len(doc['points']) // max(1, len(doc['traces']))} settings, "
        f"world {esc(str(doc.get('constraints')))}.</p>",
        "<h2 id='verdict'>Verdict</h2>",
        f"<p class='sentence'>{esc(verdict_sentence(doc))}</p>",
        *_verdict_table(doc),
        "<h2>Frontiers</h2>",
        f"<p class='small'>Every run is a point; {esc(sweep.OURS)}'s "
        "front (no other of its settings is at least as good on all "
        "three and better on one) is the dark-red line; the dotted "
        "vertical line is the physical floor (all demand served on the "
        "most efficient host model at its most efficient load, fractional "
        "hosts, free migrations).</p>",
    ]
    parts += [f"<h3>Energy against {esc(title)}</h3><p><img "
              f"src='{esc(i)}' alt='energy against {esc(title)}'></p>"
              for i, title in images if i]
    failed = [p for p in doc["points"] if p["error"]]
    if failed:
        parts.append("<h2>Failures</h2><ul>")
        parts += [f"<li><b>{esc(p['id'])}</b>: {esc(p['error'])}</li>"
                  for p in failed]
        parts.append("</ul>")
    for trace in doc["traces"]:
        parts += _points_table(doc, trace["name"], floors[trace["name"]])
    parts.append("<footer><h2>Parameters</h2>")
    parts.append(f"<p><b>watcher-adaptive</b> "
                 f"{esc(str(doc.get('version', 'unknown')))}; "
                 f"<b>constraints</b>: {esc(str(doc.get('constraints')))}; "
                 f"<b>jobs</b>: {esc(str(doc.get('jobs')))}; <b>wall "
                 f"time</b>: {doc.get('wall_s', 0):.0f} s.</p>")
    parts.append("<p><b>Grid</b>: <code>"
                 f"{esc(json.dumps(doc.get('grid', {})))}</code></p>")
    parts += [f"<p><b>Trace</b>: {esc(line)}</p>"
              for line in doc.get("attribution", [])]
    parts.append("</footer></body></html>")
    return "\n".join(parts) + "\n"


def _verdict_table(doc: dict[str, Any]) -> list[str]:
    per_trace = doc["summary"]["per_trace"]
    if not per_trace:
        return []
    out = ["<table class='verdict'><tr><th>trace</th><th>baseline</th>"
           "<th>points</th><th>dominated</th><th>failed</th>"
           "<th>all dominated</th></tr>"]
    for trace, fams in per_trace.items():
        for family, c in fams.items():
            ok = c["dominated"] == c["points"]
            out.append(f"<tr class='{'yes' if ok else 'no'}'><td>"
                       f"{html.escape(trace)}</td><td>{html.escape(family)}"
                       f"</td><td>{c['points']}</td><td>{c['dominated']}"
                       f"</td><td>{c['failed']}</td>"
                       f"<td>{'yes' if ok else 'no'}</td></tr>")
    out.append("</table>")
    return out


def _points_table(doc: dict[str, Any], trace: str,
                  floor: Optional[float]) -> list[str]:
    esc = html.escape
    front = set(doc["frontier"].get(trace, []))
    header = ("strategy", "params", "energy (kWh)", "energy / floor",
              "SLAV (%)", "migrations", "served (%)", "on front",
              "dominated by", "wall (s)")
    out = [f"<h2>{esc(trace)}</h2>"
           + (f"<p>Floor {floor:.2f} kWh.</p>" if floor else ""),
           "<div class='wide'><table class='metrics'><tr>"
           + "".join(f"<th>{h}</th>" for h in header) + "</tr>"]
    for p in (p for p in doc["points"] if p["trace"] == trace):
        e = p["energy_kwh"]
        params = ", ".join(f"{k}={v}" for k, v in p["params"].items())
        by = doc["dominance"].get(p["id"], "")
        cells = [esc(p["strategy"]), esc(params or "defaults"),
                 report.fmt(e, "f"),
                 f"{e / floor:.3f}" if e is not None and floor else "–",
                 report.fmt(p["slav"], "sci"),
                 report.fmt(p["migrations"], "int"),
                 report.fmt(p["served_fraction"], "pct"),
                 "yes" if p["id"] in front else "",
                 esc(by.split(" ", 1)[1] if by else
                     ("no" if p["id"] in doc["dominance"] else "")),
                 f"{doc['runs'][p['id']]['wall_s']:.1f}"]
        cls = f" class='{report.OURS_CLASS}'" \
            if p["strategy"] == sweep.OURS else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells)
                   + "</tr>")
    out.append("</table></div>")
    return out

