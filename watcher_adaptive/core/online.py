"""Online demand forecasters with calibrated quantiles, and the choice
between them on evidence.  Pure: numpy only, state in plain arrays.

A forecaster sees one new sample per VM per step (CPU as a fraction of
the VM's size, NaN when missing) and answers, for every VM, the expected
demand over the horizon and the demand at the audit's quantile.  Nothing
here reads history twice: each keeps a compact per-VM state.

``reactive``
    the mean and the empirical quantile of the last ``window`` samples
    (the rule the strategy used alone before).
``seasonal``
    an exponentially weighted level plus a daily profile (one value per
    time-of-day slot, itself smoothed across days), so a month of history
    shapes the forecast without being re-read; its upper quantile is the
    expected value plus a *calibrated* multiple of each VM's recent error
    scale (split-conformal: the multiple is the empirical quantile of the
    standardised errors of forecasts whose outcome is now known).
``fleet``
    what the VMs share: the fleet's mean as a first-order autoregression
    around its slow mean, plus each VM's smoothed offset from it, with
    the same calibrated upper quantile (opt-in: :data:`OPT_IN`).

:class:`Selector` keeps, per group of hosts, a decaying pinball loss of
every forecaster at the audit's quantile on outcomes it did not see when
it forecast, and uses the challenger only while its loss is clearly lower
than the reactive rule's (by :data:`MARGIN`); otherwise the reactive rule
speaks; :meth:`Selector.forecast` returns, per VM, the name of the one
that spoke, for the report and the action's reason.

Everything a selector has learnt is plain arrays: :meth:`Selector.state`
gives them, :meth:`Selector.from_state` builds the selector back and
:meth:`Selector.reindex` follows the VMs when the set of VMs changes (the
Watcher strategy keeps them between audits; the replay keeps the object).
:func:`steps_to_feed` places a store's sample times on the selector's
steps, and :func:`demand_forecast` turns the chosen forecasts into the
planner's :class:`~watcher_adaptive.core.types.DemandForecast`: one
definition for the replay and the strategy.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Optional
from typing import Protocol

import numpy as np

from watcher_adaptive.core import demand
from watcher_adaptive.core.types import DemandForecast
from watcher_adaptive.core.types import ForecastSettings
from watcher_adaptive.exceptions import StaleForecasterState

#: a challenger replaces the reactive rule only when its decayed pinball
#: loss is lower by this fraction (it must earn its place; on white noise
#: the challengers come within 1 % of the rule and stay silent)
MARGIN = 0.02
#: outcomes a group must have scored before a challenger may speak
MIN_EVIDENCE = 24
#: decay of the loss averages per scored step (half-life about a day at
#: 300 s steps)
LOSS_DECAY = 0.9976
#: standardised errors kept for the conformal multiple
CONFORMAL_MEMORY = 2000
#: forecasters that speak only when asked for by name, never in
#: ``auto``
OPT_IN = frozenset({"fleet"})
#: what a replay spec or an audit may ask for: ``auto`` (choose on
#: evidence) or one forecaster by name (the members of :class:`Selector`)
CHOICES = ("auto", "reactive", "seasonal", "seasonal-fast", "fleet")
#: least error scale of a VM (fraction of its size), so that a flat VM
#: keeps a spread
SCALE_FLOOR = 0.002


#: the layout of :meth:`Selector.state`; a state of another version is
#: refused by :meth:`Selector.from_state`
STATE_VERSION = 1

#: (due step, expected per VM, error scale per VM)
_Pending = tuple[int, np.ndarray, np.ndarray]
#: (due step, quantile, each forecaster's upper per VM)
_Scored = tuple[int, float, dict[str, np.ndarray]]


class Forecaster(Protocol):
    """What the selector runs: one sample per VM in, a forecast out; what
    it has learnt as named arrays, rows following the VMs."""

    name: str

    def observe(self, values: np.ndarray) -> None: ...

    def forecast(self, q: float, steps: int
                 ) -> tuple[np.ndarray, np.ndarray]: ...

    def peak(self, q: float, steps: int
             ) -> tuple[np.ndarray, np.ndarray]: ...

    def state(self) -> dict[str, np.ndarray]: ...

    def restore(self, state: dict[str, np.ndarray]) -> None: ...

    def reindex(self, rows: np.ndarray) -> None: ...


def pinball(y: np.ndarray, forecast: np.ndarray, q: float) -> np.ndarray:
    """Quantile (pinball) loss of ``forecast`` at level ``q``."""
    diff = y - forecast
    loss: np.ndarray = np.where(diff >= 0, q * diff, (q - 1.0) * diff)
    return loss


def _take(array: np.ndarray, rows: np.ndarray, fill: float | bool,
          axis: int = 0) -> np.ndarray:
    """``array``'s entries ``rows`` along ``axis``; a row of -1 is a new
    VM and holds ``fill``."""
    rows = np.asarray(rows, dtype=np.int64)
    if array.shape[axis] == 0:
        shape = list(array.shape)
        shape[axis] = rows.size
        return np.full(shape, fill, dtype=array.dtype)
    out: np.ndarray = np.take(array, np.maximum(rows, 0), axis=axis)
    new: list[slice | np.ndarray] = [slice(None)] * out.ndim
    new[axis] = rows < 0
    out[tuple(new)] = fill
    return out


class _Stateful:
    """:meth:`state`, :meth:`restore` and :meth:`reindex` from two class
    tables: the per-VM arrays (with the value a new VM starts from) and
    the scalars; a subclass adds what the tables cannot say through the
    ``_extra`` hooks."""

    #: attribute -> the value of a VM not seen before
    _ROWS: dict[str, float | bool] = {}
    _SCALARS: tuple[str, ...] = ()

    def state(self) -> dict[str, np.ndarray]:
        out = {name: np.asarray(getattr(self, name)) for name in self._ROWS}
        out.update({name: np.asarray(getattr(self, name))
                    for name in self._SCALARS})
        out.update(self._extra_state())
        return out

    def restore(self, state: dict[str, np.ndarray]) -> None:
        for name in self._ROWS:
            setattr(self, name, np.array(state[name]))
        for name in self._SCALARS:
            # the constructor's type (step an int, levels floats)
            setattr(self, name, type(getattr(self, name))(
                state[name].item()))
        self._restore_extra(state)

    def reindex(self, rows: np.ndarray) -> None:
        """Keep row ``rows[i]`` as row ``i`` (-1: a new VM)."""
        for name, fill in self._ROWS.items():
            setattr(self, name, _take(getattr(self, name), rows, fill))
        self._reindex_extra(rows)

    def _extra_state(self) -> dict[str, np.ndarray]:
        return {}

    def _restore_extra(self, state: dict[str, np.ndarray]) -> None:
        return None

    def _reindex_extra(self, rows: np.ndarray) -> None:
        return None


class Reactive(_Stateful):
    """The last ``window`` samples' mean and empirical quantile, exactly
    as :func:`~watcher_adaptive.core.demand.reactive_forecast` gives it."""

    name = "reactive"
    _ROWS = {"buf": np.nan}
    _SCALARS: tuple[str, ...] = ("pos",)

    def __init__(self, n_vms: int, window: int = 12) -> None:
        self.window = window
        self.buf = np.full((n_vms, window), np.nan)
        self.pos = 0

    def observe(self, values: np.ndarray) -> None:
        self.buf[:, self.pos % self.window] = values
        self.pos += 1

    def forecast(self, q: float, steps: int) -> tuple[np.ndarray,
                                                      np.ndarray]:
        oldest_first = np.roll(self.buf, -(self.pos % self.window), axis=1)
        f = demand.reactive_forecast(oldest_first,
                                     np.ones(self.buf.shape[0]), q, 0.0,
                                     window=self.window)
        return f.expected, f.upper

    def peak(self, q: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """The rule sees no further than its window: its forecast."""
        return self.forecast(q, steps)

    def backfill(self, new: np.ndarray, recent: np.ndarray) -> None:
        """Give the VMs ``new`` marks their ``recent`` samples (oldest
        first, the last one at the step last observed), so that a VM that
        joins late is not judged on its first sample alone."""
        rows = np.flatnonzero(new)
        for back in range(min(self.window, recent.shape[1], self.pos)):
            self.buf[rows, (self.pos - 1 - back) % self.window] = \
                recent[rows, -1 - back]


class Seasonal(_Stateful):
    """EWMA level + smoothed daily profile + conformal upper quantile."""

    name = "seasonal"
    _ROWS = {"level": np.nan, "profile": 0.0, "seen": False,
             "scale": np.nan, "offset": 0.0}
    _SCALARS: tuple[str, ...] = ("q", "step")

    def __init__(self, n_vms: int, slots_per_day: int,
                 alpha: float = 0.3, beta: float = 0.2,
                 scale_decay: float = 0.05, track: float = 0.0) -> None:
        self.slots = max(1, slots_per_day)
        self.alpha, self.beta, self.scale_decay = alpha, beta, scale_decay
        self.level = np.full(n_vms, np.nan)
        self.profile = np.zeros((n_vms, self.slots))
        self.seen = np.zeros((n_vms, self.slots), dtype=bool)
        self.scale = np.full(n_vms, np.nan)
        # per-VM correction of the conformal multiple (a quantile
        # tracker: raised after a miss, lowered slowly after a hit)
        self.track = track
        self.offset = np.zeros(n_vms)
        self.q = 0.9
        self._last_upper: Optional[np.ndarray] = None
        self.step = 0
        # forecasts waiting for their outcome: (due step, expected, scale)
        self.pending: collections.deque[_Pending] = collections.deque()
        # the last CONFORMAL_MEMORY standardised errors, oldest first (an
        # array: a step scores about 6 x n_vms of them)
        self.errors = np.empty(0)

    def _seasonal(self, slot: int) -> np.ndarray:
        return np.where(self.seen[:, slot], self.profile[:, slot], 0.0)

    def observe(self, values: np.ndarray) -> None:
        slot = self.step % self.slots
        y = np.asarray(values, dtype=float)
        have = np.isfinite(y)
        if self.track and self._last_upper is not None:
            ok = have & np.isfinite(self._last_upper)
            miss = (y > self._last_upper).astype(float)
            self.offset[ok] += self.track * (miss[ok] - (1.0 - self.q))
        # score forecasts that come due now (their outcome is new data)
        fresh_errors = [self.errors]
        while self.pending and self.pending[0][0] <= self.step:
            _, expected, scale = self.pending.popleft()
            ok = have & np.isfinite(expected) & (scale > 0)
            if ok.any():
                fresh_errors.append((y[ok] - expected[ok]) / scale[ok])
        if len(fresh_errors) > 1:
            self.errors = np.concatenate(fresh_errors)[-CONFORMAL_MEMORY:]
        season = self._seasonal(slot) + self._common_now(y)
        base = y - season
        fresh = have & ~np.isfinite(self.level)
        self.level[fresh] = base[fresh]
        upd = have & ~fresh
        one_step = self.level + season
        err = np.abs(y - one_step)
        self.level[upd] += self.alpha * (base[upd] - self.level[upd])
        # the error scale: an EWMA of one-step errors, never below a floor
        # so that a flat VM does not get a zero spread
        init = have & ~np.isfinite(self.scale)
        self.scale[init] = SCALE_FLOOR * 5
        sc = upd & np.isfinite(err)
        self.scale[sc] += self.scale_decay * (np.maximum(err[sc], SCALE_FLOOR)
                                              - self.scale[sc])
        # the profile learns what the level does not explain
        dev = y - self.level
        first = have & ~self.seen[:, slot]
        self.profile[first, slot] = 0.0
        self.seen[have, slot] = True
        self.profile[have, slot] += self.beta * (dev[have]
                                                 - self.profile[have, slot])
        self.step += 1

    def _path(self, steps: int) -> np.ndarray:
        """Level plus the daily profile for the next ``steps`` steps."""
        ahead = (self.step + np.arange(max(1, steps))) % self.slots
        seasons = np.where(self.seen[:, ahead], self.profile[:, ahead], 0.0)
        path: np.ndarray = self.level[:, None] + seasons \
            + self._common_path(max(1, steps))[None, :]
        return path

    def _common_now(self, values: np.ndarray) -> np.ndarray | float:
        """What every VM shares in this sample (none here)."""
        return 0.0

    def _common_path(self, steps: int) -> np.ndarray:
        """What every VM shares over the next ``steps`` (none here)."""
        return np.zeros(steps)

    def _summarise(self, path: np.ndarray, q: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean, peak at quantile ``q`` and the calibrated margin of a
        path."""
        margin = (self.multiple(q) + self.offset) * self.scale
        return (np.clip(path.mean(axis=1), 0.0, None),
                np.clip(path.max(axis=1), 0.0, None) + margin, margin)

    def peak(self, q: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and peak at quantile ``q`` over the next ``steps``
        steps, read only (nothing is kept for scoring)."""
        expected, upper, _ = self._summarise(self._path(steps), q)
        return expected, upper

    def forecast(self, q: float, steps: int) -> tuple[np.ndarray,
                                                      np.ndarray]:
        steps = max(1, steps)
        path = self._path(steps)
        expected, upper, margin = self._summarise(path, q)
        self.q = q
        self._last_upper = path[:, 0] + margin
        # remember the forecast of every step of the horizon for scoring
        for k in range(steps):
            self.pending.append((self.step + k, path[:, k].copy(),
                                 self.scale.copy()))
        return expected, upper

    def _extra_state(self) -> dict[str, np.ndarray]:
        n = self.level.size
        return {
            "errors": self.errors,
            # an empty array stands for "no forecast yet"
            "last_upper": np.empty(0) if self._last_upper is None
            else self._last_upper,
            "pending_due": np.array([p[0] for p in self.pending],
                                    dtype=np.int64),
            "pending_expected": np.array([p[1] for p in self.pending])
            .reshape(len(self.pending), n),
            "pending_scale": np.array([p[2] for p in self.pending])
            .reshape(len(self.pending), n)}

    def _restore_extra(self, state: dict[str, np.ndarray]) -> None:
        self.errors = np.array(state["errors"], dtype=float)
        last = state["last_upper"]
        self._last_upper = None if last.size == 0 and self.level.size \
            else np.array(last, dtype=float)
        self.pending = collections.deque(
            (int(due), np.array(expected), np.array(scale))
            for due, expected, scale in zip(
                state["pending_due"], state["pending_expected"],
                state["pending_scale"], strict=True))

    def _reindex_extra(self, rows: np.ndarray) -> None:
        if self._last_upper is not None:
            self._last_upper = _take(self._last_upper, rows, np.nan)
        self.pending = collections.deque(
            (due, _take(expected, rows, np.nan), _take(scale, rows, np.nan))
            for due, expected, scale in self.pending)

    def multiple(self, q: float) -> float:
        """The conformal multiple: the ``q`` quantile of standardised
        errors seen so far (a Gaussian guess while there are few)."""
        if self.errors.size < 50:
            return 1.28 if q >= 0.85 else 0.0
        return float(np.quantile(self.errors, q))


class Fleet(Seasonal):
    """The fleet's mean, forecast as a first-order autoregression around
    its slow mean, plus each VM's own EWMA offset from it and the same
    conformal upper quantile as :class:`Seasonal` (no daily profile).

    Why: where each VM's series is close to white noise, the fleet's
    mean still moves slowly and persistently (PlanetLab: the per-VM lag-1
    autocorrelation is low, the fleet mean's high), so the common part is
    forecastable when the VM's own part is not, and needs no day of
    history to be.
    """

    name = "fleet"
    _SCALARS = Seasonal._SCALARS + ("fleet", "mean", "cov1", "var")
    #: weight of a new sample in the fleet's slow mean and in the
    #: moments its autocorrelation is estimated from (a day or so)
    SLOW = 0.01

    def __init__(self, n_vms: int, alpha: float = 0.1,
                 scale_decay: float = 0.05, track: float = 0.05) -> None:
        super().__init__(n_vms, 1, alpha=alpha, beta=0.0,
                         scale_decay=scale_decay, track=track)
        self.fleet = np.nan          # the fleet's mean at the last sample
        self.mean = np.nan           # its slow mean
        self.cov1 = 0.0              # lag-1 autocovariance around it
        self.var = 0.0               # variance around it

    def _common_now(self, values: np.ndarray) -> np.ndarray | float:
        have = np.isfinite(values)
        if not have.any():
            return 0.0 if not np.isfinite(self.fleet) else self.fleet
        now = float(values[have].mean())
        if not np.isfinite(self.mean):
            self.mean = now
        else:
            prev = self.fleet - self.mean
            dev = now - self.mean
            self.cov1 += self.SLOW * (dev * prev - self.cov1)
            self.var += self.SLOW * (prev * prev - self.var)
            self.mean += self.SLOW * (now - self.mean)
        self.fleet = now
        return now

    def persistence(self) -> float:
        """The fleet mean's estimated lag-1 autocorrelation, in [0, 1)."""
        if self.var <= 0:
            return 0.0
        return float(np.clip(self.cov1 / self.var, 0.0, 0.999))

    def _common_path(self, steps: int) -> np.ndarray:
        if not np.isfinite(self.fleet):
            return np.zeros(steps)
        phi = self.persistence()
        path: np.ndarray = self.mean + phi ** np.arange(1, steps + 1) * (
            self.fleet - self.mean)
        return path


@dataclasses.dataclass
class _Score:
    loss: dict[str, float]
    weight: float = 0.0
    n: int = 0


class Selector:
    """Runs every forecaster on every step and lets the one with the
    lowest recent loss speak, per group of hosts; see the module
    docstring.

    :param n_vms: VMs in the cluster (rows of every sample).
    :param slots_per_day: samples in a day (288 at 300 s).
    :param window: the reactive rule's samples.
    :param forecaster: ``auto`` (choose on evidence), or the name of one
        forecaster to use always.
    """

    def __init__(self, n_vms: int, slots_per_day: int, window: int = 12,
                 forecaster: str = "auto") -> None:
        self.members: dict[str, Forecaster] = {
            "reactive": Reactive(n_vms, window),
            # a slow level for noisy series, a fast one for series that
            # hold their value (tuned on the development traces only)
            "seasonal": Seasonal(n_vms, slots_per_day, alpha=0.3,
                                 beta=0.2, scale_decay=0.05, track=0.05),
            "seasonal-fast": Seasonal(n_vms, slots_per_day, alpha=0.9,
                                      beta=0.1, scale_decay=0.2,
                                      track=0.05),
            "fleet": Fleet(n_vms)}
        if forecaster != "auto" and forecaster not in self.members:
            raise ValueError(f"unknown forecaster {forecaster!r}; choose "
                             f"auto or {', '.join(self.members)}")
        if forecaster == "auto":
            # never chosen there: not run either (each costs every step)
            for name in OPT_IN:
                del self.members[name]
        self.mode = forecaster
        self.n_vms = n_vms
        self.window = window
        self.slots_per_day = max(1, slots_per_day)
        self.scores: dict[int, _Score] = {}
        # (due step, quantile, {name: upper}) waiting for the outcome
        self.pending: collections.deque[_Scored] = collections.deque()
        self.step = 0

    # -- what it has learnt, as arrays ---------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """Everything the selector has learnt, as named arrays (none of
        them an object array: the state may be saved without pickle)."""
        names = list(self.members)
        groups = sorted(self.scores)
        out = {
            "version": np.asarray(STATE_VERSION),
            "mode": np.asarray(self.mode),
            "members": np.asarray(names),
            "n_vms": np.asarray(self.n_vms),
            "window": np.asarray(self.window),
            "slots_per_day": np.asarray(self.slots_per_day),
            "step": np.asarray(self.step),
            "score_groups": np.asarray(groups, dtype=np.int64),
            "score_loss": np.array([[self.scores[g].loss[m] for m in names]
                                    for g in groups]).reshape(len(groups),
                                                              len(names)),
            "score_weight": np.array([self.scores[g].weight
                                      for g in groups]),
            "score_n": np.array([self.scores[g].n for g in groups],
                                dtype=np.int64),
            "pending_due": np.array([p[0] for p in self.pending],
                                    dtype=np.int64),
            "pending_q": np.array([p[1] for p in self.pending]),
            "pending_upper": np.array(
                [[p[2][m] for m in names] for p in self.pending]).reshape(
                    len(self.pending), len(names), self.n_vms)}
        for name, member in self.members.items():
            for key, value in member.state().items():
                out[f"{name}.{key}"] = value
        return out

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "Selector":
        """The selector :meth:`state` described.

        :raises ValueError: a state of another version or with other
            members, or one that lacks an array.
        """
        try:
            if int(state["version"]) != STATE_VERSION:
                raise ValueError(f"state version {int(state['version'])}, "
                                 f"expected {STATE_VERSION}")
            selector = cls(int(state["n_vms"]), int(state["slots_per_day"]),
                           window=int(state["window"]),
                           forecaster=str(state["mode"]))
            names = [str(m) for m in state["members"]]
            if names != list(selector.members):
                raise ValueError(f"members {names}, expected "
                                 f"{list(selector.members)}")
            for name, member in selector.members.items():
                prefix = name + "."
                member.restore({
                    k[len(prefix):]: v for k, v in state.items()
                    if k.startswith(prefix)})
            selector.step = int(state["step"])
            for g, loss, weight, n in zip(
                    state["score_groups"], state["score_loss"],
                    state["score_weight"], state["score_n"], strict=True):
                selector.scores[int(g)] = _Score(
                    {m: float(v) for m, v in zip(names, loss, strict=True)},
                    float(weight), int(n))
            for due, q, uppers in zip(state["pending_due"],
                                      state["pending_q"],
                                      state["pending_upper"], strict=True):
                selector.pending.append((int(due), float(q), {
                    m: np.array(u) for m, u in zip(names, uppers,
                                                   strict=True)}))
        except KeyError as exc:
            raise ValueError(f"state lacks {exc}") from None
        return selector

    def reindex(self, rows: np.ndarray) -> None:
        """Follow the VMs: row ``rows[i]`` of the old state becomes row
        ``i`` (-1: a VM not seen before, which starts afresh)."""
        rows = np.asarray(rows, dtype=np.int64)
        for member in self.members.values():
            member.reindex(rows)
        self.pending = collections.deque(
            (due, q, {m: _take(u, rows, np.nan) for m, u in uppers.items()})
            for due, q, uppers in self.pending)
        self.n_vms = rows.size

    def backfill(self, new: np.ndarray, recent: np.ndarray) -> None:
        """Give the VMs ``new`` marks their ``recent`` samples (oldest
        first, ending at the step last observed) where a forecaster can
        use them without replaying the steps (the reactive rule)."""
        for member in self.members.values():
            if isinstance(member, Reactive):
                member.backfill(new, recent)

    # -- one step --------------------------------------------------------
    def observe(self, values: np.ndarray, vm_group: np.ndarray) -> None:
        """One new sample per VM (NaN where none) and each VM's host
        group now (-1: not placed)."""
        y = np.asarray(values, dtype=float)
        while self.pending and self.pending[0][0] <= self.step:
            _, q, uppers = self.pending.popleft()
            self._score(y, q, uppers, vm_group)
        for member in self.members.values():
            member.observe(y)
        self.step += 1

    def _score(self, y: np.ndarray, q: float,
               uppers: dict[str, np.ndarray],
               vm_group: np.ndarray) -> None:
        ok = np.isfinite(y) & (vm_group >= 0)
        for upper in uppers.values():
            ok &= np.isfinite(upper)
        if not ok.any():
            return
        for g in np.unique(vm_group[ok]):
            sel = ok & (vm_group == g)
            score = self.scores.setdefault(
                int(g), _Score({n: 0.0 for n in self.members}))
            for name, upper in uppers.items():
                loss = float(pinball(y[sel], upper[sel], q).mean())
                score.loss[name] = (LOSS_DECAY * score.loss[name]
                                    + (1 - LOSS_DECAY) * loss)
            score.weight = LOSS_DECAY * score.weight + (1 - LOSS_DECAY)
            score.n += 1

    def choose(self, group: int) -> str:
        """The forecaster that speaks for ``group`` now."""
        if self.mode != "auto":
            return self.mode
        score = self.scores.get(group)
        # a seasonal forecaster without a whole day seen has no season:
        # it is an EWMA, and on the one-day PlanetLab traces its few
        # different decisions went either way (development days); the
        # opt-in members, which would need no day, are not run here
        if score is None or score.n < MIN_EVIDENCE \
                or self.step < self.slots_per_day:
            return "reactive"
        best = min(score.loss, key=lambda n: (score.loss[n], n))
        if best != "reactive" and score.loss[best] < \
                (1 - MARGIN) * score.loss["reactive"]:
            return best
        return "reactive"

    def forecast(self, q: float, steps: int, vm_group: np.ndarray,
                 horizon_steps_scored: int = 1
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(expected, upper, chosen)`` per VM, fractions of its size;
        ``chosen`` holds the name of the forecaster that spoke."""
        outputs = {name: m.forecast(q, steps)
                   for name, m in self.members.items()}
        n = vm_group.size
        expected = np.full(n, np.nan)
        upper = np.full(n, np.nan)
        chosen = np.empty(n, dtype=object)
        groups = np.unique(vm_group)
        for g in groups:
            name = self.choose(int(g))
            sel = vm_group == g
            expected[sel] = outputs[name][0][sel]
            upper[sel] = outputs[name][1][sel]
            chosen[sel] = name
        # score each forecaster's upper on the next sample it did not see
        self.pending.append((self.step + max(0, horizon_steps_scored - 1),
                             q, {name: o[1].copy()
                                 for name, o in outputs.items()}))
        return expected, upper, chosen

    def peak(self, q: float, steps: int, chosen: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """``(expected, upper)`` per VM over a longer horizon of
        ``steps``, from the forecaster ``chosen`` names for each VM (as
        :meth:`forecast` returned it); read only."""
        n = chosen.size
        expected = np.full(n, np.nan)
        upper = np.full(n, np.nan)
        for name in {str(c) for c in chosen if c is not None}:
            sel = chosen == name
            e, u = self.members[name].peak(q, steps)
            expected[sel] = e[sel]
            upper[sel] = u[sel]
        return expected, upper


#: the longest gap (in days) a selector is carried across by steps of
#: no sample; after a longer one what it learnt is stale and it starts
#: afresh
MAX_GAP_DAYS = 7


def steps_to_feed(times_s: np.ndarray, complete: np.ndarray,
                  last_s: Optional[float], interval_s: float
                  ) -> list[Optional[int]]:
    """Which of a window's columns a selector that last observed the
    sample of ``last_s`` must observe next, in order: a column index, or
    ``None`` for a step the window has no column for (a gap).

    :param times_s: the columns' times (epoch seconds, increasing).
    :param complete: columns the store has finished writing; the
        incomplete ones at the window's end wait for a later read (a
        store that writes late would otherwise be scored on its gaps).
    :param last_s: ``None``: nothing observed yet (feed the window).
    :raises StaleForecasterState: a gap longer than
        :data:`MAX_GAP_DAYS` (start afresh).
    :raises ValueError: times that do not increase.
    """
    times = np.asarray(times_s, dtype=float)
    if times.size > 1 and not np.all(np.diff(times) > 0):
        raise ValueError("the window's sample times do not increase")
    done_writing = np.flatnonzero(np.asarray(complete, dtype=bool))
    ready = int(done_writing[-1]) + 1 if done_writing.size else 0
    if ready == 0:
        return []
    # nothing observed yet: the window's first column is the first step
    anchor = times[0] - interval_s if last_s is None else last_s
    out: list[Optional[int]] = []
    done = 0
    for col in range(ready):
        step = int(round((times[col] - anchor) / interval_s))
        if step <= done:
            continue
        gap = step - done - 1
        if gap > MAX_GAP_DAYS * 86400.0 / interval_s:
            raise StaleForecasterState(f"{gap} steps without a sample "
                                       "since the last one observed")
        out.extend([None] * gap)
        out.append(col)
        done = step
    return out


def demand_forecast(selector: Selector, history: np.ndarray,
                    size: np.ndarray, vm_group: np.ndarray,
                    settings: ForecastSettings, interval_s: float
                    ) -> DemandForecast:
    """The forecast of the audit that follows the selector's last
    observed sample, in the units of ``size``.

    The chosen forecaster speaks per host group; a VM it has nothing for
    takes the reactive rule on ``history`` (the recent samples,
    fractions of each VM's size, oldest first); the longer horizon's
    peak covers the shorter one's.  The forecast is recorded for
    scoring, so call this once per step.
    """
    steps = max(1, int(np.ceil(settings.horizon_s / interval_s)))
    expected, upper, chosen = selector.forecast(settings.quantile, steps,
                                                vm_group)
    fallback = demand.reactive_forecast(history, np.ones(len(size)),
                                        settings.quantile,
                                        settings.horizon_s,
                                        window=settings.window)
    expected, upper = combine(expected, upper, fallback.expected,
                              fallback.upper)
    upper = np.clip(np.maximum(upper, expected), 0.0, 1.0)
    expected = np.clip(expected, 0.0, 1.0)
    long_steps = max(steps, int(np.ceil(
        settings.consolidation_horizon_s / interval_s)))
    expected_long, upper_long = selector.peak(settings.quantile, long_steps,
                                              chosen)
    expected_long, upper_long = combine(expected_long, upper_long,
                                        expected, upper)
    upper_long = np.clip(np.maximum(upper_long, upper), 0.0, 1.0)
    expected_long = np.clip(expected_long, 0.0, 1.0)
    placed = chosen[vm_group >= 0]
    return DemandForecast(expected=expected * size, upper=upper * size,
                          expected_long=expected_long * size,
                          upper_long=upper_long * size,
                          quantile=settings.quantile,
                          horizon_s=settings.horizon_s,
                          source="+".join(sorted(set(placed))) or "reactive",
                          cold_start=fallback.cold_start,
                          forecaster=chosen)


def combine(expected: np.ndarray, upper: np.ndarray,
            fallback_expected: np.ndarray, fallback_upper: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Fill VMs a forecaster has nothing for from the fallback."""
    missing = ~(np.isfinite(expected) & np.isfinite(upper))
    return (np.where(missing, fallback_expected, expected),
            np.where(missing, fallback_upper, upper))
