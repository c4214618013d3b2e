"""The replay report: ``results.json``, PNG plots and ``report.html``.

The page answers the newcomer's question first — is ``adaptive`` better
than each other strategy, and by how much (:mod:`~watcher_adaptive.
replay.verdict`) — then shows the metrics, the plots
(:mod:`~watcher_adaptive.replay.plots`) and a footer with what was run:
the strategies and their parameters, the project's version, the world
and where the trace comes from.
"""
from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any
from typing import Optional
from typing import Sequence

import numpy as np

from watcher_adaptive.replay import plots
from watcher_adaptive.replay import results
from watcher_adaptive.replay import verdict
from watcher_adaptive.replay import worlds
from watcher_adaptive.traces import attribution
from watcher_adaptive.traces.model import TraceSet

_SERIES = (
    ("active_hosts", "Active hosts", "hosts"),
    ("overloaded_hosts", "Hosts short of CPU (SLA violation)", "hosts"),
    ("migrations", "Live migrations per interval", "migrations"),
)

#: the HTML class of ``adaptive``'s rows in every table
OURS_CLASS = "ours"


def write_report(output_dir: Path, trace: TraceSet,
                 runs: Sequence[results.StrategyRun],
                 extra: Optional[dict[str, Any]] = None,
                 world: Optional[worlds.World] = None,
                 fluid_bound_kwh: Optional[float] = None,
                 fluid_curve: Optional[tuple[np.ndarray, np.ndarray]] = None,
                 version: Optional[str] = None) -> Path:
    """Write everything into ``output_dir``; returns the HTML path.

    :param world: the world every run ran in (``constraints`` in
        ``results.json``, the report's header).
    :param fluid_bound_kwh: the trace's physical energy floor.
    :param fluid_curve: the floor accumulated over time
        (``(times_s, kwh)``), drawn beside the strategies' cumulative
        energy; without it the total is drawn as a level line.
    :param version: the project's version for the footer (default: the
        installed distribution's, see :func:`project_version`).
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    extra = dict(extra or {})
    if world is not None:
        extra["constraints"] = world.name
    comparisons = verdict.verdict(runs)
    doc = results.to_json_dict(trace.name, list(runs), extra,
                               fluid_bound_kwh=fluid_bound_kwh)
    if comparisons is not None:
        doc["verdict"] = {c.baseline: c.as_dict() for c in comparisons}
    (output_dir / "results.json").write_text(
        json.dumps(doc, indent=2, default=_json_default) + "\n")
    if fluid_curve is None and fluid_bound_kwh:
        ends = [r.timeline.time_s for r in runs if r.timeline is not None
                and r.timeline.time_s.size]
        if ends:
            # only the total is known: a level line at it
            span = np.array([min(e[0] for e in ends),
                             max(e[-1] for e in ends)])
            fluid_curve = (span, np.full(2, fluid_bound_kwh))
    images = [(plots.metric_bars(output_dir, runs),
               "Energy, SLAV and migrations per strategy")]
    images += [(plots.series(output_dir, runs, *spec), spec[1])
               for spec in _SERIES]
    images.append((plots.cumulative_energy(output_dir, runs, fluid_curve),
                   "Cumulative energy and the physical floor"))
    images.append((plots.host_heatmaps(output_dir, runs),
                   "Host utilisation over time, per strategy"))
    page = output_dir / "report.html"
    page.write_text(_html(trace, runs, [(f, t) for f, t in images if f],
                          extra, world, fluid_bound_kwh, comparisons,
                          version or project_version()))
    return page


def project_version() -> str:
    """The installed distribution's version (pbr writes it from git)."""
    try:
        from pbr import version as pbr_version

        return pbr_version.VersionInfo("watcher-adaptive").version_string()
    except Exception:  # noqa: BLE001 - a report without it is still one
        return "unknown"


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def fmt(value: Optional[float], kind: str) -> str:
    """A metric for a table cell: ``pct`` and ``sci`` (SLAV) in percent,
    ``int`` with thousands separators, else two decimals; – for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "pct":
        return f"{value * 100:.2f}"
    if kind == "sci":
        # SLAV spans decades and is often ~1e-5 %: fixed point showed 0
        return "0" if value == 0 else f"{value * 100:.3e}"
    if kind == "int":
        return f"{int(value):,}"
    return f"{value:.2f}"


def _ratio(value: Optional[float]) -> str:
    return "– (baseline 0)" if value is None else f"{value:.3g}"


def _words(items: Sequence[str]) -> str:
    return (items[0] if len(items) == 1
            else ", ".join(items[:-1]) + " and " + items[-1])


def _outcome_text(c: verdict.Comparison, outcome: str) -> str:
    """``better on energy (0.876 x) and SLA (0.5 x)``: the metrics of one
    outcome, with their ratios where there is one."""
    items = []
    for word, o in c.outcomes:
        if o == outcome:
            r = c.ratio_of(word)
            items.append(word if r is None else f"{word} ({r:.3g} x)")
    return f"{outcome} on {_words(items)}" if items else ""


def verdict_sentence(comparisons: Sequence[verdict.Comparison],
                     ours: str = verdict.OURS) -> str:
    """The sentences on top of the report: which strategies ``ours``
    dominates, then against each of the others where it is better and
    where worse, with the ratios."""
    if not comparisons:
        return f"{ours} ran alone: there is nothing to compare it with."
    won = [c.baseline for c in comparisons if c.dominates]
    if won:
        out = [f"{ours} is no worse on energy, SLAV and migrations than "
               f"{len(won)} of the {len(comparisons)} other strategies "
               f"({', '.join(won)})."]
    else:
        out = [f"{ours} is not at least as good on energy, SLAV and "
               f"migrations together as any of the {len(comparisons)} "
               "other strategies."]
    for c in comparisons:
        if c.dominates:
            continue
        parts = [t for t in (_outcome_text(c, "better"),
                             _outcome_text(c, "equal"),
                             _outcome_text(c, "worse")) if t]
        out.append(f"Against {c.baseline} it is {'; '.join(parts)}.")
    return " ".join(out)


def _verdict_html(comparisons: Optional[Sequence[verdict.Comparison]],
                  names: Sequence[str]) -> list[str]:
    esc = html.escape
    if comparisons is None:
        why = ("it was not among the strategies run"
               if verdict.OURS not in names else "its run failed")
        return ["<h2 id='verdict'>Verdict</h2>",
                f"<p>No verdict: {esc(verdict.OURS)} is what the verdict "
                f"speaks for, and {why}.</p>"]
    out = ["<h2 id='verdict'>Verdict</h2>",
           f"<p class='sentence'>{esc(verdict_sentence(comparisons))}</p>",
           "<table class='verdict'><tr><th>against</th><th>energy ratio"
           "</th><th>SLAV ratio</th><th>migrations ratio</th>"
           "<th>dominates</th></tr>"]
    for c in comparisons:
        cls = "yes" if c.dominates else "no"
        out.append(f"<tr class='{cls}'><td>{esc(c.baseline)}</td>"
                   f"<td>{_ratio(c.energy_ratio)}</td>"
                   f"<td>{_ratio(c.slav_ratio)}</td>"
                   f"<td>{_ratio(c.migrations_ratio)}</td>"
                   f"<td>{'yes' if c.dominates else 'no'}</td></tr>")
    out.append(f"</table><p class='small'>Ratios are {esc(verdict.OURS)} "
               "÷ the other strategy, so below 1 is better for "
               f"{esc(verdict.OURS)}; dominates = no worse on energy, "
               "SLAV and migrations at once.</p>")
    return out


#: the CSS of the replay's pages (the sweep's page shares it)
STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1200px}"
    "table{border-collapse:collapse}td,th{border:1px solid #bbb;"
    "padding:3px 8px;text-align:right}td:first-child{text-align:left}"
    "img{max-width:100%}td{white-space:nowrap}td.text{white-space:normal;"
    "text-align:left}.wide{overflow-x:auto}"
    f"tr.{OURS_CLASS} td{{background:#fbe3e5;font-weight:bold}}"
    f"tr.{OURS_CLASS} td:first-child{{border-left:4px solid "
    f"{plots.OURS_COLOUR}}}"
    "table.verdict tr.yes td:last-child{color:#1a7f37}"
    "table.verdict tr.no td:last-child{color:#b2182b}"
    ".sentence{font-size:1.15em}.small,footer{font-size:.85em;color:#444}"
    "footer{margin-top:3em;border-top:1px solid #bbb}")


def _html(trace: TraceSet, runs, images: list[tuple[str, str]],
          extra: Optional[dict[str, Any]],
          world: Optional[worlds.World] = None,
          fluid_bound_kwh: Optional[float] = None,
          comparisons: Optional[Sequence[verdict.Comparison]] = None,
          version: str = "unknown") -> str:
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
            cells += [fmt(m.energy_kwh, "f"), vs_floor,
                      f"{m.served_fraction * 100:.4f}",
                      fmt(m.migrations, "int"),
                      fmt(m.slatah, "pct"), fmt(m.pdm, "pct"),
                      fmt(m.slav, "sci"), f"{m.esv:.3e}",
                      fmt(m.host_shutdowns, "int")]
        cells += [f"{r.wall_s:.1f}", f"{r.audit_interval_s:g}",
                  f"{r.audits} / {r.failed_audits}",
                  esc(r.error or "")]
        cls = f" class='{OURS_CLASS}'" if r.name == verdict.OURS else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells)
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
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Replay of {esc(trace.name)}</h1>",
        f"<p>{trace.n_vms} VMs, {trace.n_samples} samples of "
        f"{trace.interval_s:g} s.</p>",
        *_verdict_html(comparisons, [r.name for r in runs]),
        (f"<p><b>World</b>: {esc(world.header())}.</p>" if world else ""),
        (f"<p><b>Physical floor</b> (all demand served on the most "
         f"efficient host model at its most efficient utilisation, "
         f"fractional hosts, free migrations): "
         f"{fluid_bound_kwh:.2f} kWh. A strategy below it left demand "
         "unserved (see served).</p>" if fluid_bound_kwh else ""),
        # wide: the table scrolls on its own rather than push the page
        "<h2>Metrics</h2><div class='wide'><table class='metrics'><tr>"
        + "".join(f"<th>{h}</th>" for h in header) + "</tr>",
        *rows, "</table></div>",
        "<p class='small'>SLATAH: share of active-host time with CPU "
        "demand unmet; PDM: share of demanded CPU lost to migrations; "
        "SLAV = SLATAH x PDM; ESV = energy x SLAV (CloudSim's "
        "definitions).</p>",
    ]
    if failed:
        parts.append("<h2>Failures</h2><ul>")
        for r in failed:
            what = r.error or f"{r.failed_audits} audit(s) failed"
            parts.append(f"<li><b>{esc(r.name)}</b>: {esc(what)}</li>")
        parts.append("</ul>")
    parts.append(f"<h2>Plots</h2><p class='small'>{esc(verdict.OURS)} is "
                 "the thick dark-red line or bar, drawn over the "
                 "others.</p>")
    parts += [f"<h3>{esc(title)}</h3><p><img src='{esc(i)}' "
              f"alt='{esc(title)}'></p>" for i, title in images]
    parts.append("<h2>Trace</h2><ul>")
    parts += [f"<li>{esc(line)}</li>" for line in trace.report.lines()]
    parts.append("</ul>")
    if notes or (extra and extra.get("notes")):
        parts.append("<h2>Notes</h2><ul>")
        for n in [*notes, *(extra or {}).get("notes", [])]:
            parts.append(f"<li>{esc(str(n))}</li>")
        parts.append("</ul>")
    parts += _footer(trace, runs, world, version)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _footer(trace: TraceSet, runs, world: Optional[worlds.World],
            version: str) -> list[str]:
    """What was run, for whoever reads the page later: the strategies
    with their parameters, the version, the world, the trace's source."""
    esc = html.escape
    out = ["<footer><h2>Parameters</h2><table class='parameters'>"
           "<tr><th>strategy</th><th>audit every (s)</th>"
           "<th>description</th></tr>"]
    for r in runs:
        cls = f" class='{OURS_CLASS}'" if r.name == verdict.OURS else ""
        out.append(f"<tr{cls}><td>{esc(r.name)}</td>"
                   f"<td>{r.audit_interval_s:g}</td>"
                   f"<td class='text'>{esc(r.description)}"
                   "</td></tr>")
    out.append("</table>")
    out.append(f"<p><b>watcher-adaptive</b> {esc(version)}; "
               f"<b>constraints</b>: "
               f"{esc(world.name) if world else 'not recorded'}"
               f"{' (' + esc(world.header()) + ')' if world else ''}.</p>")
    out.append("<p><b>Trace</b>: "
               f"{esc(attribution.attribution(trace.report.source))}</p>")
    out.append("</footer>")
    return out
