"""The replay report's PNG plots, one function per file.

Every plot draws ``adaptive`` (:data:`~watcher_adaptive.replay.verdict.
OURS`) the same distinct way — thick, dark red, drawn last so no
baseline hides it — and gives the other strategies distinct colours
*and* line styles, so lines that run on top of each other stay apart.
Each function takes the output directory and returns the file name it
wrote, or ``None`` when it had nothing to draw.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from watcher_adaptive.replay import results  # noqa: E402
from watcher_adaptive.replay.verdict import OURS  # noqa: E402

OURS_COLOUR = "#b2182b"
_COLOURS = ("#4575b4", "#1b9e77", "#7570b3", "#e6ab02", "#66a61e",
            "#a6761d", "#e7298a", "#666666", "#17becf", "#8c564b")
_STYLES = ("-", "--", "-.", ":")
#: the heatmap keeps at most this many host rows per strategy
MAX_HEATMAP_ROWS = 200
#: a bar panel switches to a log scale when its positive values span
#: this factor (two decades): SLAV runs over four between strategies
LOG_SPAN = 100.0
DPI = 110

Runs = Sequence[results.StrategyRun]


def ours_last(runs: Runs) -> list[results.StrategyRun]:
    """The runs with ``adaptive`` moved to the end: drawn last, on top."""
    return ([r for r in runs if r.name != OURS]
            + [r for r in runs if r.name == OURS])


def line_style(name: str, index: int) -> dict:
    """Matplotlib keywords for strategy ``name``, the ``index``-th other
    strategy (colour and dash pattern cycle at different lengths, so two
    strategies share neither within the first 20)."""
    if name == OURS:
        return {"color": OURS_COLOUR, "linestyle": "-", "linewidth": 2.4,
                "zorder": 10}
    return {"color": _COLOURS[index % len(_COLOURS)],
            "linestyle": _STYLES[index % len(_STYLES)], "linewidth": 1.1,
            "alpha": 0.9, "zorder": 2}


def _styled(runs: Runs) -> list[tuple[results.StrategyRun, dict]]:
    others = [r for r in runs if r.name != OURS]
    out = [(r, line_style(r.name, i)) for i, r in enumerate(others)]
    return out + [(r, line_style(r.name, 0)) for r in runs
                  if r.name == OURS]


def _save(fig, out: Path, name: str) -> str:
    # tight: long tick labels (strategy names) are not clipped
    fig.savefig(out / name, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return name


def series(out: Path, runs: Runs, key: str, title: str,
           unit: str) -> Optional[str]:
    """One timeline series (``Timeline`` attribute ``key``) per strategy
    over simulated time: ``<key>.png``."""
    ok = [r for r in runs if r.timeline is not None]
    if not ok:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for run, style in _styled(ok):
        tl = run.timeline
        ax.plot(tl.time_s / 3600.0, getattr(tl, key), label=run.name,
                **style)
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=3)
    return _save(fig, out, f"{key}.png")


def cumulative_energy(out: Path, runs: Runs,
                      floor: Optional[tuple[np.ndarray, np.ndarray]] = None,
                      ) -> Optional[str]:
    """Energy used so far per strategy, with the physical floor's own
    curve: ``energy_cumulative.png``."""
    ok = [r for r in runs if r.timeline is not None
          and r.timeline.energy_kwh is not None]
    if not ok:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for run, style in _styled(ok):
        tl = run.timeline
        ax.plot(tl.time_s / 3600.0, tl.energy_kwh, label=run.name, **style)
    if floor is not None and floor[0].size:
        ax.plot(floor[0] / 3600.0, floor[1], color="black",
                linestyle=(0, (1, 1)), linewidth=1.6, zorder=11,
                label="physical floor")
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel("energy so far (kWh)")
    ax.set_title("Cumulative energy (lower is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=3)
    return _save(fig, out, "energy_cumulative.png")


def _bar_label(value: float, kind: str) -> str:
    if kind == "sci":
        return "0" if value == 0 else f"{value:.2e}"
    if kind == "int" or value >= 100:
        # whole kWh above 100: 1.75e+03 reads worse than 1,746
        return f"{value:,.0f}"
    return f"{value:.3g}"


def spans_decades(values: Sequence[float], span: float = LOG_SPAN) -> bool:
    """True when the positive values differ by at least ``span`` times,
    so a linear axis would flatten the small ones to nothing."""
    pos = [v for v in values if v > 0]
    return len(pos) >= 2 and max(pos) / min(pos) >= span


def metric_bars(out: Path, runs: Runs) -> Optional[str]:
    """Energy, SLAV and migrations as bars, values printed on them, a
    log axis where the values span decades: ``metrics.png``."""
    ok = [r for r in runs if r.metrics is not None]
    if not ok:
        return None
    names = [r.name for r in ok]
    colours = [OURS_COLOUR if n == OURS else "#4a78b5" for n in names]
    panels = (("energy_kwh", "Energy (kWh)", 1.0, "g"),
              ("slav", "SLAV (%)", 100.0, "sci"),
              ("migrations", "Migrations", 1.0, "int"))
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    x = np.arange(len(ok))
    for ax, (key, label, scale, kind) in zip(axes, panels, strict=True):
        values = [float(getattr(r.metrics, key)) * scale for r in ok]
        log = spans_decades(values)
        if log:
            ax.set_yscale("log")
            floor = min(v for v in values if v > 0) / 3.0
            heights = [max(v, floor) for v in values]
            bottom = floor
            # bars start at the floor so a 0 shows as a stub labelled 0
            ax.bar(x, np.array(heights) - bottom, bottom=bottom,
                   color=colours)
        else:
            heights = values
            ax.bar(x, heights, color=colours)
        for xi, h, v in zip(x, heights, values, strict=True):
            ax.annotate(_bar_label(v, kind), (xi, h), ha="center",
                        va="bottom", fontsize=6, rotation=90,
                        xytext=(0, 2), textcoords="offset points")
        ax.margins(y=0.25)
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=35, ha="right", fontsize=7)
        for tick, name in zip(ax.get_xticklabels(), names, strict=True):
            if name == OURS:
                tick.set_fontweight("bold")
                tick.set_color(OURS_COLOUR)
        ax.set_title(label + (" — log scale" if log else ""), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, out, "metrics.png")


def heatmap_rows(host_util: np.ndarray,
                 max_rows: int = MAX_HEATMAP_ROWS) -> np.ndarray:
    """The heatmap's matrix for one run: ``(rows, frames)`` utilisation
    (0..1, NaN where off), hosts that were never on left out, the busiest
    (most time on) first, and at most ``max_rows`` rows (neighbouring
    hosts in that order averaged, off ones not counted).

    :param host_util: ``(frames, n_hosts)`` coded as in
        :class:`~watcher_adaptive.replay.results.Timeline`.
    """
    coded = np.asarray(host_util)
    on = coded > 0
    used = np.flatnonzero(on.any(axis=0))
    if used.size == 0:
        return np.full((0, coded.shape[0]), np.nan)
    order = used[np.argsort(-on[:, used].sum(axis=0), kind="stable")]
    util = np.where(on[:, order], (coded[:, order] - 1.0) / 254.0, np.nan).T
    if util.shape[0] <= max_rows:
        return util
    groups = np.array_split(np.arange(util.shape[0]), max_rows)
    with warnings.catch_warnings():
        # a group off at a frame: NaN is the answer, not a problem
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.stack([np.nanmean(util[g], axis=0) for g in groups])


def host_heatmaps(out: Path, runs: Runs) -> Optional[str]:
    """Host x time utilisation per strategy, small multiples on one
    colour scale: ``host_utilisation.png``."""
    ok = [r for r in runs if r.timeline is not None
          and r.timeline.host_util is not None
          and r.timeline.host_util.size]
    if not ok:
        return None
    # ours first here: the reader compares it with each panel after it
    ok = [r for r in ok if r.name == OURS] + [r for r in ok
                                                if r.name != OURS]
    cols = min(3, len(ok))
    rows = -(-len(ok) // cols)
    # constrained: titles, axis labels and the shared colour bar get
    # their room without overlapping the panel above
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows),
                             squeeze=False, layout="constrained")
    # off: no energy, no colour
    cmap = plt.get_cmap("viridis").with_extremes(bad="#eeeeee")
    image = None
    # more panels than runs: the extra ones are blanked below
    for ax, run in zip(axes.flat, ok, strict=False):
        tl = run.timeline
        mat = heatmap_rows(tl.host_util)
        t = tl.host_util_time_s / 3600.0
        extent = (float(t[0]), float(t[-1]) if t.size > 1 else
                  float(t[0]) + 1.0, mat.shape[0], 0)
        image = ax.imshow(np.ma.masked_invalid(mat), aspect="auto",
                          cmap=cmap, vmin=0.0, vmax=1.0, extent=extent,
                          interpolation="nearest")
        # the mean, not "ever on": right after the start placement a
        # strategy may wake every host for one frame
        on = (tl.host_util > 0).sum(axis=1).mean()
        ax.set_title(f"{run.name} ({on:.0f} hosts on, mean)", fontsize=8,
                     color=OURS_COLOUR if run.name == OURS else "black",
                     fontweight="bold" if run.name == OURS else "normal")
        ax.set_xlabel("simulated time (h)", fontsize=7)
        ax.set_ylabel("hosts, busiest first", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(ok):]:
        ax.axis("off")
    if image is not None:
        bar = fig.colorbar(image, ax=list(axes.flat), shrink=0.8)
        bar.set_label("CPU utilisation (grey: host off)", fontsize=8)
    return _save(fig, out, "host_utilisation.png")
