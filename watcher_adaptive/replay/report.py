"""The replay report: ``results.json``, PNG plots and ``report.html``."""
from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any
from typing import Optional
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from watcher_adaptive.replay import results
from watcher_adaptive.replay import worlds  # noqa: E402
from watcher_adaptive.traces.model import TraceSet  # noqa: E402

_SERIES = (
    ("active_hosts", "Active hosts", "hosts"),
    ("overloaded_hosts", "Hosts short of CPU (SLA violation)", "hosts"),
    ("migrations", "Live migrations per interval", "migrations"),
)


def write_report(output_dir: Path, trace: TraceSet,
                 runs: Sequence[results.StrategyRun],
                 extra: Optional[dict[str, Any]] = None,
                 world: Optional[worlds.World] = None,
                 fluid_bound_kwh: Optional[float] = None) -> Path:
    """Write everything into ``output_dir``; returns the HTML path.

    :param world: the world every run ran in (``constraints`` in
        ``results.json``, the report's header).
    :param fluid_bound_kwh: the trace's physical energy floor.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    extra = dict(extra or {})
    if world is not None:
        extra["constraints"] = world.name
    doc = results.to_json_dict(trace.name, list(runs), extra,
                               fluid_bound_kwh=fluid_bound_kwh)
    (output_dir / "results.json").write_text(
        json.dumps(doc, indent=2, default=_json_default) + "\n")
    images = [_plot_series(output_dir, runs, *spec) for spec in _SERIES]
    images.append(_plot_bars(output_dir, runs))
    page = output_dir / "report.html"
    page.write_text(_html(trace, runs, [i for i in images if i], extra,
                          world, fluid_bound_kwh))
    return page


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _plot_series(out: Path, runs, key: str, title: str,
                 unit: str) -> Optional[str]:
    ok = [r for r in runs if r.timeline is not None]
    if not ok:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for run in ok:
        tl = run.timeline
        ax.plot(tl.time_s / 3600.0, getattr(tl, key), label=run.name,
                linewidth=1.1)
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    name = f"{key}.png"
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def _plot_bars(out: Path, runs) -> Optional[str]:
    ok = [r for r in runs if r.metrics is not None]
    if not ok:
        return None
    names = [r.name for r in ok]
    panels = (("energy_kwh", "Energy (kWh)", 1.0),
              ("slav", "SLAV (%)", 100.0),
              ("migrations", "Migrations", 1.0))
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    for ax, (key, label, scale) in zip(axes, panels, strict=True):
        values = [getattr(r.metrics, key) * scale for r in ok]
        ax.bar(range(len(ok)), values, color="#4a78b5")
        ax.set_xticks(range(len(ok)))
        ax.set_xticklabels(names, rotation=35, ha="right", fontsize=7)
        ax.set_title(label)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "metrics.png", dpi=110)
    plt.close(fig)
    return "metrics.png"


def _fmt(value: Optional[float], kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "pct":
        return f"{value * 100:.2f}"
    if kind == "pct5":
        return f"{value * 100:.5f}"
    if kind == "int":
        return f"{int(value):,}"
    return f"{value:.2f}"


def _html(trace: TraceSet, runs, images: list[str],
          extra: Optional[dict[str, Any]],
          world: Optional[worlds.World] = None,
          fluid_bound_kwh: Optional[float] = None) -> str:
    esc = html.escape
    rows = []
    for r in runs:
        m = r.metrics
        cells = [esc(r.name)]
        if m is None:
            cells += ["–"] * 9
        else:
            vs_floor = (f"{m.energy_kwh / fluid_bound_kwh:.3f}"
                        if fluid_bound_kwh else "–")
            cells += [_fmt(m.energy_kwh, "f"), vs_floor,
                      f"{m.served_fraction * 100:.4f}",
                      _fmt(m.migrations, "int"),
                      _fmt(m.slatah, "pct"), _fmt(m.pdm, "pct"),
                      _fmt(m.slav, "pct5"), f"{m.esv:.6f}",
                      _fmt(m.host_shutdowns, "int")]
        cells += [f"{r.wall_s:.1f}", f"{r.audit_interval_s:g}",
                  f"{r.audits} / {r.failed_audits}",
                  esc(r.error or "")]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells)
                    + "</tr>")
    header = ("strategy", "energy (kWh)", "energy / floor", "served (%)",
              "migrations", "SLATAH (%)",
              "PDM (%)", "SLAV (%)", "ESV", "host shutdowns", "wall (s)",
              "audit every (s)", "audits / failed", "error")
    notes = sorted({n for r in runs for n in r.notes})
    failed = [r for r in runs if r.error or r.failed_audits]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>watcher-adaptive replay: {esc(trace.name)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;"
        "padding:3px 8px;text-align:right}td:first-child{text-align:left}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>Replay of {esc(trace.name)}</h1>",
        f"<p>{trace.n_vms} VMs, {trace.n_samples} samples of "
        f"{trace.interval_s:g} s.</p>",
        (f"<p><b>World</b>: {esc(world.header())}.</p>" if world else ""),
        (f"<p><b>Physical floor</b> (all demand served on the most "
         f"efficient host model at its most efficient utilisation, "
         f"fractional hosts, free migrations): "
         f"{fluid_bound_kwh:.2f} kWh. A strategy below it left demand "
         "unserved (see served).</p>" if fluid_bound_kwh else ""),
        "<h2>Metrics</h2><table><tr>"
        + "".join(f"<th>{h}</th>" for h in header) + "</tr>",
        *rows, "</table>",
        "<p>SLATAH: share of active-host time with CPU demand unmet; PDM: "
        "share of demanded CPU lost to migrations; SLAV = SLATAH x PDM; "
        "ESV = energy x SLAV (CloudSim's definitions).</p>",
    ]
    if failed:
        parts.append("<h2>Failures</h2><ul>")
        for r in failed:
            what = r.error or f"{r.failed_audits} audit(s) failed"
            parts.append(f"<li><b>{esc(r.name)}</b>: {esc(what)}</li>")
        parts.append("</ul>")
    parts.append("<h2>Plots</h2>")
    parts += [f"<p><img src='{esc(i)}' alt='{esc(i)}'></p>" for i in images]
    parts.append("<h2>Trace</h2><ul>")
    parts += [f"<li>{esc(line)}</li>" for line in trace.report.lines()]
    parts.append("</ul>")
    if notes or (extra and extra.get("notes")):
        parts.append("<h2>Notes</h2><ul>")
        for n in [*notes, *(extra or {}).get("notes", [])]:
            parts.append(f"<li>{esc(str(n))}</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
