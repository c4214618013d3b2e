"""Pure decisions of the ``adaptive_migrate`` action: what one look at
Nova means (go on waiting, completed, failed, timed out), how long to
wait before the next look, and which figures of a finished migration go
into its history.

No I/O: the action's adapters read the server and its migration record
into an :class:`Observation` and act on the returned :class:`Step`.
"""
from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any
from typing import Mapping
from typing import Optional

#: Nova migration record states after which nothing moves any more
#: (``done`` is cold migration's, kept for completeness)
SUCCEEDED_STATES = frozenset({"completed", "done"})
FAILED_STATES = frozenset({"error", "failed", "cancelled", "aborted"})
#: states in which Nova's live_migration_abort can still act
#: (queued/preparing only from compute API 2.65 on)
ABORTABLE_STATES = frozenset({"queued", "preparing", "running"})


class Verdict(enum.Enum):
    WAIT = "wait"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


@dataclasses.dataclass(frozen=True)
class Observation:
    """One look at the server and its newest live-migration record.

    :param server_status: Nova's ``status`` (``ACTIVE``, ``MIGRATING``,
        ``ERROR``...); ``None`` when the server is gone.
    :param server_host: ``OS-EXT-SRV-ATTR:host``.
    :param task_state: ``OS-EXT-STS:task_state`` (``None`` when idle).
    :param migration_status: the record's ``status``; ``None`` when no
        record was found (yet).
    """

    server_status: Optional[str]
    server_host: Optional[str]
    task_state: Optional[str] = None
    migration_id: Optional[str] = None
    migration_status: Optional[str] = None
    memory_total_bytes: Optional[int] = None
    memory_processed_bytes: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Step:
    verdict: Verdict
    reason: str


def judge(obs: Observation, source: str, destination: str,
          elapsed_s: float, timeout_s: float) -> Step:
    """What ``obs``, taken ``elapsed_s`` after Nova accepted the live
    migration, means."""
    idle = obs.server_status == "ACTIVE" and not obs.task_state
    status = (obs.migration_status or "").lower() or None
    if obs.server_status is None:
        return Step(Verdict.FAILED, "server disappeared")
    if obs.server_status == "ERROR":
        return Step(Verdict.FAILED, "server went to ERROR")
    if status in FAILED_STATES:
        return Step(Verdict.FAILED, f"migration {status}")
    if idle and obs.server_host == destination and \
            (status in SUCCEEDED_STATES or status is None):
        return Step(Verdict.COMPLETED,
                    f"on {destination}, migration {status or 'not listed'}")
    if idle and obs.server_host == source and status in SUCCEEDED_STATES:
        return Step(Verdict.FAILED,
                    f"migration {status} but the server is still on "
                    f"{source}")
    if idle and obs.server_host not in (source, destination) and \
            status in SUCCEEDED_STATES:
        return Step(Verdict.FAILED,
                    f"server landed on {obs.server_host}, not "
                    f"{destination}")
    if elapsed_s >= timeout_s:
        return Step(Verdict.TIMED_OUT,
                    f"not finished after {elapsed_s:.0f} s (migration "
                    f"{status or 'not listed'}, server "
                    f"{obs.server_status}/{obs.task_state})")
    return Step(Verdict.WAIT, f"migration {status or 'not listed'}")


def next_delay(elapsed_s: float, interval_s: float,
               first_s: float = 0.5) -> float:
    """Seconds before the next look: ``first_s`` at the start, doubling
    up to ``interval_s`` (short migrations are seen finishing early,
    long ones cost few API calls)."""
    if elapsed_s <= 0:
        return min(first_s, interval_s)
    grown = first_s * 2 ** math.floor(math.log2(1 + elapsed_s / first_s))
    return float(min(max(grown, first_s), interval_s))


class Outcome(enum.IntEnum):
    """Stored as the value of ``adaptive.migration.outcome``."""

    COMPLETED = 0
    FAILED = 1
    TIMED_OUT = 2
    REFUSED = 3
    ABORTED = 4


@dataclasses.dataclass(frozen=True)
class MigrationRecord:
    """What the action knows about one migration when it ends.

    Sizes in KiB.  ``None``: not known (Nova does not report downtime;
    the agent reports page temperatures only when it measured them).
    """

    instance_uuid: str
    outcome: Outcome
    ended_at: float
    duration_s: Optional[float] = None
    downtime_ms: Optional[float] = None
    postcopy_requests: Optional[float] = None
    memory_total_bytes: Optional[int] = None
    memory_processed_bytes: Optional[int] = None
    expected_hot_kib: Optional[float] = None
    hot_kib: Optional[float] = None
    warm_kib: Optional[float] = None
    cold_kib: Optional[float] = None
    miss_ratio: Optional[float] = None
    agent_prepared: Optional[bool] = None


#: MigrationRecord field -> Gnocchi metric suffix (after
#: ``adaptive.migration.``)
HISTORY_FIELDS = {
    "outcome": "outcome", "duration_s": "duration_s",
    "downtime_ms": "downtime_ms",
    "postcopy_requests": "postcopy_requests",
    "memory_total_bytes": "memory_total_bytes",
    "memory_processed_bytes": "memory_processed_bytes",
    "expected_hot_kib": "expected_hot_kib", "hot_kib": "hot_kib",
    "warm_kib": "warm_kib", "cold_kib": "cold_kib",
    "miss_ratio": "miss_ratio", "agent_prepared": "agent_prepared",
}
#: what the destination agent may put in its ``completed`` answer (or
#: a ``measured`` mapping in it), and the record field each fills
AGENT_FIGURES = {"hot_kib": "hot_kib", "warm_kib": "warm_kib",
                 "cold_kib": "cold_kib", "miss_ratio": "miss_ratio",
                 "postcopy_requests": "postcopy_requests",
                 "downtime_ms": "downtime_ms"}


def history_measures(record: MigrationRecord) -> dict[str, float]:
    """Metric suffix -> value of every known, finite figure."""
    out: dict[str, float] = {}
    for field, suffix in HISTORY_FIELDS.items():
        value = getattr(record, field)
        if value is None or isinstance(value, str):
            continue
        value = float(value)
        if math.isfinite(value):
            out[suffix] = value
    return out


def agent_figures(answer: Optional[Mapping[str, Any]]) -> dict[str, float]:
    """The measured figures in an agent's ``completed`` answer (top
    level or under ``measured``); anything not a finite number >= 0 is
    ignored."""
    if not isinstance(answer, Mapping):
        return {}
    merged = dict(answer)
    nested = answer.get("measured")
    if isinstance(nested, Mapping):
        merged.update(nested)
    out = {}
    for key, field in AGENT_FIGURES.items():
        value = merged.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(value) and value >= 0:
            out[field] = float(value)
    return out


def status_figures(answer: Optional[Mapping[str, Any]]) -> dict[str, float]:
    """The destination agent's measured figures from its ``status``
    answer (``status.figures`` in bytes, as the agent journals them),
    in the record's fields; empty when the agent knows nothing."""
    if not isinstance(answer, Mapping) or not answer.get("found"):
        return {}
    status = answer.get("status")
    figures = status.get("figures") if isinstance(status, Mapping) else None
    if not isinstance(figures, Mapping):
        return {}
    out: dict[str, float] = {}
    for key, field in (("hot_bytes", "hot_kib"), ("warm_bytes", "warm_kib"),
                       ("cold_bytes", "cold_kib")):
        value = figures.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value) and value >= 0:
            out[field] = float(value) / 1024.0
    ratio = figures.get("miss_ratio")
    if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) \
            and math.isfinite(ratio) and 0 <= ratio <= 1:
        out["miss_ratio"] = float(ratio)
    return out
