"""The online forecasters across audits: what they learnt is loaded,
the samples of this audit's window they have not seen are fed to them,
and what they learnt then is saved.

Watcher builds a new strategy object for every audit, so the state of
:class:`~watcher_adaptive.core.online.Selector` (plain arrays) lives in
one ``.npz`` file beside the move journal (``moves.json`` ->
``moves.forecasters.npz``), written atomically (temporary file +
rename) and read without pickle.  Rows follow the instances by uuid;
host groups are hosts of one shape (physical cores and RAM), by name.

The selector sees each sample once, in time order, and forecasts after
each as the replay's ``adaptive`` does at every step, so that its
choice rests on the same evidence; the first audit feeds its whole
window (``period``) from its first sample on.  Samples at the window's
end that the store has not finished writing wait for a later audit.
A state that cannot be read, that was built for other settings
(forecaster, window, granularity) or that is more than a week behind is
replaced by a fresh one, and the reason is returned for the log: a lost
state only makes the reactive rule speak until the evidence is gathered
again.
"""
from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path
from typing import Optional
from typing import Sequence

import numpy as np

from watcher_adaptive.core import online
from watcher_adaptive.core.types import ClusterSnapshot
from watcher_adaptive.core.types import DemandForecast
from watcher_adaptive.core.types import ForecastSettings
from watcher_adaptive.exceptions import StaleForecasterState
from watcher_adaptive.strategy import journal

#: the state file's name is the journal's stem plus this
STATE_SUFFIX = ".forecasters.npz"
#: a column is written when it holds a sample for at least this share
#: of the instances the fullest column has (Gnocchi's metricd and a
#: Prometheus remote write may still be behind on the last points)
COMPLETE_SHARE = 0.5
#: the audit's own entries in the file, beside the selector's
_META = "audit."


def state_path(journal_path: str) -> Path:
    """Where the forecasters' state lives, beside the move journal."""
    journal = Path(journal_path)
    return journal.with_name(journal.stem + STATE_SUFFIX)


def host_groups(snapshot: ClusterSnapshot) -> list[str]:
    """Each VM's host group: hosts of one shape (physical cores, RAM)
    behave alike (the replay groups by host model)."""
    label = [f"{cores:g}-cores-{ram:g}-mb" for cores, ram in zip(
        snapshot.host_cpu_capacity, snapshot.host_ram_mb, strict=True)]
    return [label[h] for h in snapshot.vm_host]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One audit's online forecast.

    :param fed: steps the forecasters observed this audit (gaps
        included).
    :param restarted: why the forecasters started afresh this audit
        (``None``: they went on from the saved state).
    """

    forecast: DemandForecast
    fed: int
    restarted: Optional[str]


@dataclasses.dataclass
class _Loaded:
    selector: online.Selector
    names: list[str]
    groups: list[str]
    last_s: Optional[float]


def _fresh(n: int, settings: ForecastSettings, interval_s: float
           ) -> _Loaded:
    return _Loaded(online.Selector(n, int(round(86400.0 / interval_s)),
                                   window=settings.window,
                                   forecaster=settings.forecaster),
                   [], [], None)


def _load(path: Path, settings: ForecastSettings, interval_s: float
          ) -> _Loaded:
    """The saved state; :raises ValueError: why it cannot be used."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            state = {k: saved[k] for k in saved.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} unreadable ({exc})") from None
    try:
        saved_interval = float(state[_META + "interval_s"])
        names = [str(v) for v in state[_META + "names"]]
        groups = [str(v) for v in state[_META + "groups"]]
        last_s = float(state[_META + "last_s"])
    except KeyError as exc:
        raise ValueError(f"{path} lacks {exc}") from None
    selector = online.Selector.from_state(
        {k: v for k, v in state.items() if not k.startswith(_META)})
    if saved_interval != interval_s:
        raise ValueError(f"saved for a granularity of {saved_interval:g} s, "
                         f"the audit's is {interval_s:g} s")
    if (selector.mode, selector.window) != (settings.forecaster,
                                            settings.window):
        raise ValueError(f"saved for forecaster {selector.mode} and window "
                         f"{selector.window}, the audit's are "
                         f"{settings.forecaster} and {settings.window}")
    if len(names) != selector.n_vms:
        raise ValueError(f"{len(names)} names for {selector.n_vms} rows")
    return _Loaded(selector, names, groups, last_s)


def _save(path: Path, loaded: _Loaded, interval_s: float) -> None:
    state = loaded.selector.state()
    state.update({
        _META + "names": np.asarray(loaded.names, dtype=str),
        _META + "groups": np.asarray(loaded.groups, dtype=str),
        _META + "last_s": np.asarray(loaded.last_s, dtype=float),
        _META + "interval_s": np.asarray(interval_s)})
    journal.write_atomically(
        path, lambda handle: np.savez(handle, **state))  # type: ignore[arg-type]


def forecast(path: Path, names: Sequence[str], groups: Sequence[str],
             history: np.ndarray, times_s: np.ndarray, size: np.ndarray,
             settings: ForecastSettings, interval_s: float) -> Outcome:
    """This audit's forecast from the online forecasters kept at
    ``path``, which are brought up to the window's last written sample.

    :param names: the instances (uuids), one row of ``history`` each.
    :param groups: each instance's host group (:func:`host_groups`).
    :param history: ``(n, k)`` usage, fractions of each instance's size,
        on the window's grid ``times_s`` (epoch seconds).
    :param size: each instance's size (the forecast's unit).
    :raises ValueError: the window's times do not increase.
    """
    n = len(names)
    if len(times_s) != history.shape[1]:
        raise ValueError(f"{len(times_s)} sample times for "
                         f"{history.shape[1]} columns of usage")
    restarted: Optional[str] = None
    if path.exists():
        try:
            loaded = _load(path, settings, interval_s)
        except ValueError as exc:
            restarted = str(exc)
            loaded = _fresh(n, settings, interval_s)
    else:
        restarted = "no saved state yet"
        loaded = _fresh(n, settings, interval_s)
    counts = np.isfinite(history).sum(axis=0)
    complete = (counts > 0) & (counts >= COMPLETE_SHARE * max(
        int(counts.max(initial=0)), 1))
    if loaded.last_s is not None:
        try:
            plan = online.steps_to_feed(times_s, complete, loaded.last_s,
                                        interval_s)
        except StaleForecasterState as exc:
            restarted = str(exc)
            loaded = _fresh(n, settings, interval_s)
    if loaded.last_s is None:
        # afresh: from the window's first sample (the columns before it,
        # a window reaching back before the instances' usage, hold none)
        first = int(np.argmax(counts > 0)) if counts.any() else 0
        plan = [None if col is None else col + first
                for col in online.steps_to_feed(
                    np.asarray(times_s)[first:], complete[first:], None,
                    interval_s)]
    selector = loaded.selector
    # the instances of this audit, in its order: rows follow the uuids
    if list(names) != loaded.names:
        old = {name: i for i, name in enumerate(loaded.names)}
        rows = np.array([old.get(name, -1) for name in names],
                        dtype=np.int64)
        selector.reindex(rows)
        new = rows < 0
        if new.any() and loaded.last_s is not None:
            seen = np.asarray(times_s, dtype=float) <= loaded.last_s \
                + interval_s / 2
            if seen.any() and abs(float(np.asarray(times_s)[seen][-1])
                                  - loaded.last_s) < interval_s / 2:
                selector.backfill(new, history[:, seen])
        loaded.names = list(names)
    for label in dict.fromkeys(groups):
        if label not in loaded.groups:
            loaded.groups.append(label)
    code = {label: i for i, label in enumerate(loaded.groups)}
    vm_group = np.array([code[label] for label in groups], dtype=np.int64)
    steps = max(1, int(np.ceil(settings.horizon_s / interval_s)))
    gap = np.full(n, np.nan)
    for i, col in enumerate(plan):
        selector.observe(gap if col is None else history[:, col], vm_group)
        # a forecast at every step with a sample, as the replay audits,
        # so that the choice rests on as many scored outcomes; the last
        # one is the audit's (below)
        if col is not None and i < len(plan) - 1:
            selector.forecast(settings.quantile, steps, vm_group)
    result = online.demand_forecast(selector, history, size, vm_group,
                                    settings, interval_s)
    if plan:
        last = plan[-1]
        assert last is not None  # a plan ends on a column, not a gap
        loaded.last_s = float(np.asarray(times_s, dtype=float)[last])
        _save(path, loaded, interval_s)
    return Outcome(result, len(plan), restarted)
