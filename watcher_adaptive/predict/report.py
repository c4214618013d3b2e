"""The backtest report: ``results.json``, plots and ``report.html``."""
from __future__ import annotations

import datetime
import html
import json
from pathlib import Path
from typing import Any
from typing import Optional
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from watcher_adaptive.predict import backtest  # noqa: E402

_COLUMNS = ("mae", "pinball_p50", "pinball_p90", "coverage_p90",
            "overload_precision", "overload_recall", "overload_f1")
#: an overload score where no actual overload happened: nothing to find
NOT_APPLICABLE = "n/a"


def score_text(value, column: str, actual_events: int,
               fmt: str = ".4f") -> str:
    """A score for the report: "n/a" for an overload score of a test
    without any actual overload event, "–" where the model was not
    scored at all."""
    if value is not None:
        return f"{value:{fmt}}"
    if column.startswith("overload") and actual_events == 0:
        return NOT_APPLICABLE
    return "–"


def actual_events(doc: dict[str, Any]) -> int:
    return sum(f["host_events"] for f in doc["folds"])


def clock(sample: int, interval_s: Optional[float],
          start_epoch_s: Optional[float] = None) -> str:
    """When sample ``sample`` starts: UTC date and time where the trace's
    start is known, else hours:minutes from its start (a PlanetLab day's
    time of day: its samples start at midnight)."""
    if not interval_s:
        return "?"
    offset = sample * interval_s
    if start_epoch_s is not None:
        return datetime.datetime.fromtimestamp(
            start_epoch_s + offset, datetime.timezone.utc
        ).strftime("%Y-%m-%d %H:%M")
    minutes = int(round(offset / 60.0))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def fold_line(fold: dict[str, Any]) -> str:
    """One fold's train and test ranges, in words: samples and times, so
    that a split of one trace by time does not read as leakage."""
    if fold.get("train_origins") and fold.get("test_origins"):
        h = fold["horizon_samples"]
        (a, b), (c, d) = fold["train_origins"], fold["test_origins"]
        step, start = fold.get("interval_s"), fold.get("start_epoch_s")

        def span(first: int, last: int) -> str:
            # a range of samples runs to the end of its last one
            return (f"samples {first}–{last} ({clock(first, step, start)}"
                    f"–{clock(last + 1, step, start)})")

        return (f"{fold['test']} split by time; train: {span(0, b + h)}, "
                f"trained on origins {a}-{b} (targets up to sample "
                f"{b + h}); test: {span(c + 1, d + h)}, tested on "
                f"origins {c}-{d} (targets from sample {c + 1}); no "
                "sample is a target in both")
    return (f"tested on {fold['test']}, trained on "
            f"{', '.join(fold['train'])} (other traces)")


def results_document(traces: Sequence[str], main: backtest.HorizonResult,
                     others: Sequence[backtest.HorizonResult],
                     quantiles: Sequence[float],
                     interval_s: Optional[float] = None,
                     starts: Optional[dict[str, Optional[float]]] = None,
                     ) -> dict[str, Any]:
    """The ``results.json`` content; ``models`` holds the main horizon.

    :param interval_s: the traces' sample interval, and ``starts`` each
        trace's start (epoch s, ``None`` unknown): the folds' ranges are
        then also stated as times.
    """
    starts = starts or {}
    by_h = {f"{r.horizon_s:g}": r.scores for r in (main, *others)}
    return {
        "traces": list(traces),
        "horizon_s": main.horizon_s,
        "quantiles": list(quantiles),
        "models": main.scores,
        "by_horizon": by_h,
        "resources": main.resources,
        "train_s": round(main.train_s, 2),
        "predict_s": round(main.predict_s, 3),
        "folds": [{"test": f.test_trace, "train": list(f.train_traces),
                   "vm_rows": int(f.vm.y.size),
                   "host_rows": int(f.host.y.size),
                   "host_events": int(np.sum(f.host.event)),
                   "train_origins": (list(f.train_origins)
                                     if f.train_origins else None),
                   "test_origins": (list(f.test_origins)
                                    if f.test_origins else None),
                   "horizon_samples": f.horizon,
                   "interval_s": interval_s,
                   "start_epoch_s": starts.get(f.test_trace)}
                  for f in main.folds],
    }


def write_report(out: Path, doc: dict[str, Any],
                 main: backtest.HorizonResult,
                 quantiles: Sequence[float]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    images = [_calibration(out, main, quantiles),
              _forecast_vs_actual(out, main, quantiles)]
    page = out / "report.html"
    page.write_text(_html(doc, [i for i in images if i]))
    return page


def calibration_points(main: backtest.HorizonResult,
                       quantiles: Sequence[float]
                       ) -> dict[str, list[float]]:
    """Per model, the share of actual peaks at or below each of its
    quantile forecasts (one point per level; a calibrated model's shares
    equal the levels)."""
    out = {}
    for name in backtest.MODELS:
        folds = [f for f in main.folds if name in f.vm_quantiles]
        if not folds:
            continue
        y = np.concatenate([f.vm.y for f in folds])
        vq = np.concatenate([f.vm_quantiles[name] for f in folds])
        out[name] = [float((y <= vq[:, i]).mean())
                     for i in range(len(quantiles))]
    return out


def _calibration(out: Path, main: backtest.HorizonResult,
                 quantiles: Sequence[float]) -> str:
    fig, ax = plt.subplots(figsize=(5, 4.5))
    q = np.asarray(quantiles)
    for name, observed in calibration_points(main, quantiles).items():
        style = ({"color": "#b2182b", "linewidth": 2.4, "zorder": 10}
                 if name == "adaptive" else {"linewidth": 1.1})
        ax.plot(q, observed, marker="o", label=name, **style)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8,
            label="perfect")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("nominal quantile")
    ax.set_ylabel("observed share of peaks below it")
    ax.set_title(f"Calibration, H = {main.horizon_s:g} s, "
                 f"{q.size} quantiles")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, out, "calibration.png")


def _forecast_vs_actual(out: Path, main: backtest.HorizonResult,
                        quantiles: Sequence[float]) -> str:
    fold = main.folds[-1]
    series = fold.vm.series
    # three VMs with the most variable actual peaks
    ids = np.unique(series)
    spread = np.array([np.std(fold.vm.y[series == v]) for v in ids])
    picks = ids[np.argsort(-spread)[:3]]
    q = np.asarray(quantiles)
    i50 = int(np.argmin(np.abs(q - 0.5)))
    i90 = int(np.argmin(np.abs(q - 0.9)))
    fig, axes = plt.subplots(len(picks), 1, figsize=(9, 2.4 * len(picks)),
                             squeeze=False)
    for ax, vm in zip(axes[:, 0], picks, strict=True):
        m = series == vm
        order = np.argsort(fold.vm.origins[m])
        t = fold.vm.origins[m][order]
        ours = fold.vm_quantiles["adaptive"][m][order]
        ax.fill_between(t, ours[:, i50], ours[:, i90], alpha=0.3,
                        label="adaptive P50-P90")
        ax.plot(t, fold.vm.y[m][order], color="black", linewidth=0.9,
                label="actual peak")
        if "lr" in fold.vm_quantiles:
            ax.plot(t, fold.vm_quantiles["lr"][m][order][:, i50],
                    linewidth=0.8, label="lr P50")
        ax.set_ylim(bottom=0)  # CPU: nothing below 0
        ax.set_ylabel(f"VM {vm}\npeak CPU")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=3)
    axes[-1, 0].set_xlabel("origin (sample)")
    fig.suptitle(f"Forecast vs actual peak CPU over {main.horizon_s:g} s, "
                 f"{fold.test_trace}")
    fig.tight_layout()
    return _save(fig, out, "forecast_vs_actual.png")


def _save(fig, out: Path, name: str) -> str:
    # tight: the y-axis labels are not clipped at the figure's edge
    fig.savefig(out / name, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return name


def _row_class(name: str) -> str:
    # our model's row stands out, as in the replay report
    return " class='ours'" if name == "adaptive" else ""


def _html(doc: dict[str, Any], images: list[str]) -> str:
    esc = html.escape
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             "<title>watcher-adaptive backtest</title><style>"
             "body{font-family:sans-serif;margin:2em;max-width:1100px}"
             "table{border-collapse:collapse}td,th{border:1px solid #bbb;"
             "padding:3px 8px;text-align:right}td:first-child{text-align:"
             "left}img{max-width:100%}"
             "tr.ours td{background:#fbe3e5;font-weight:bold}"
             "</style></head><body>",
             "<h1>Predictor backtest</h1>",
             f"<p>Traces: {esc(', '.join(doc['traces']))}; quantiles "
             f"{esc(str(doc['quantiles']))}; training took "
             f"{doc['train_s']} s, predicting {doc['predict_s']} s.</p>",
             *(f"<p>Note: {esc(n)}</p>" for n in doc.get("notes", [])),
             "<p>Train and test: "
             + "; ".join(esc(fold_line(f)) for f in doc["folds"])
             + ".</p>"]
    events = actual_events(doc)
    if events == 0:
        parts.append(f"<p>No host overloaded in the test: the overload "
                     f"scores are {NOT_APPLICABLE}.</p>")
    for horizon, scores in doc["by_horizon"].items():
        parts.append(f"<h2>Horizon {esc(horizon)} s</h2><table><tr><th>"
                     "model</th>" + "".join(f"<th>{c}</th>"
                                            for c in _COLUMNS) + "</tr>")
        for name, entry in scores.items():
            cells = "".join(
                f"<td>{score_text(entry[c], c, events)}</td>"
                for c in _COLUMNS)
            parts.append(f"<tr{_row_class(name)}><td>{esc(name)}</td>"
                         f"{cells}</tr>")
        parts.append("</table>")
    for res, scores in doc.get("resources", {}).items():
        cols = ("mae", "pinball_p50", "pinball_p90", "coverage_p90")
        parts.append(f"<h2>{esc(res)} (VM level, horizon "
                     f"{doc['horizon_s']:g} s)</h2><table><tr><th>model"
                     "</th>" + "".join(f"<th>{c}</th>" for c in cols)
                     + "</tr>")
        for name, entry in scores.items():
            cells = "".join("<td>–</td>" if entry.get(c) is None
                            else f"<td>{entry[c]:.4f}</td>" for c in cols)
            parts.append(f"<tr{_row_class(name)}><td>{esc(name)}</td>"
                         f"{cells}</tr>")
        parts.append("</table>")
    parts.append("<p>VM level: the peak CPU (fraction of the VM) over the "
                 "horizon. Host level: overload = the host's demand exceeds "
                 "its capacity within the horizon, for LR-MMT's placement; "
                 "lr is LR-MMT's own rule.</p>")
    parts += [f"<p><img src='{esc(i)}' alt='{esc(i)}'></p>" for i in images]
    parts.append("<h2>Folds</h2><ul>")
    for f in doc["folds"]:
        parts.append(f"<li>{esc(fold_line(f))}: {f['vm_rows']} VM "
                     f"rows, {f['host_rows']} host rows, "
                     f"{f['host_events']} overload events</li>")
    parts.append("</ul></body></html>")
    return "\n".join(parts) + "\n"
