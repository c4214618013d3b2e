"""Parse and check one profile record from an untrusted guest.

Everything a guest sends is hostile until this module says otherwise:
size, JSON syntax (no NaN/Infinity, no numbers that overflow to
infinity, no duplicate keys), the schema's types, every known feature's
range, and the timestamp against the host's clock.  Unknown feature
names (a newer minor version) are dropped and counted, not trusted.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any
from typing import Mapping

from watcher_adaptive.exceptions import RecordRejected
from watcher_adaptive.profiler.guest import schema

#: the reasons a record is refused, each counted on its own
REASONS = ("oversize", "malformed", "schema", "version", "range",
           "future", "stale", "backwards", "rate_limited")
MAX_SOURCE_LEN = 16


@dataclasses.dataclass(frozen=True)
class ProfileRecord:
    ts: float
    seq: int
    interval_s: float
    features: Mapping[str, float]
    sources: Mapping[str, str]
    #: feature names the guest sent that this host does not know
    unknown: int = 0


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse(line: bytes, now: float, max_bytes: int = schema.MAX_RECORD_BYTES,
          max_future_s: float = 60.0, max_age_s: float = 3600.0
          ) -> ProfileRecord:
    """The record in ``line``, or :class:`RecordRejected`.

    :param now: the host's wall clock (seconds since the epoch).
    :param max_future_s: how far ahead of the host a guest clock may run.
    :param max_age_s: older records are stale (a replay, or a clock far
        behind).
    """
    if len(line) > max_bytes:
        raise RecordRejected("oversize", f"{len(line)} bytes > {max_bytes}")
    try:
        doc = json.loads(line.decode("utf-8", "strict"),
                         parse_float=_finite_float, parse_constant=_constant,
                         object_pairs_hook=_unique)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise RecordRejected("malformed", str(exc)[:120]) from None
    if not isinstance(doc, dict):
        raise RecordRejected("malformed", "not a JSON object")
    extra = set(doc) - {"v", "ts", "seq", "interval_s", "sources", "f"}
    if extra:
        raise RecordRejected("schema", f"unexpected keys {sorted(extra)[:5]}")
    version = doc.get("v")
    if not isinstance(version, str):
        raise RecordRejected("schema", "'v' must be a string")
    if version.split(".")[0] != schema.VERSION.split(".")[0]:
        raise RecordRejected("version", f"unsupported version "
                                        f"{version[:16]!r}")
    ts, seq, interval = doc.get("ts"), doc.get("seq"), doc.get("interval_s")
    if not _number(ts) or not isinstance(seq, int) or \
            isinstance(seq, bool) or not _number(interval):
        raise RecordRejected("schema", "ts, seq and interval_s must be "
                                       "numbers (seq an integer)")
    if not 0 <= seq < 2 ** 63:
        raise RecordRejected("range", "seq out of range")
    if not schema.MIN_INTERVAL_S <= interval <= schema.MAX_INTERVAL_S:
        raise RecordRejected("range", f"interval_s {interval!r}")
    features = doc.get("f")
    sources = doc.get("sources", {})
    if not isinstance(features, dict) or not isinstance(sources, dict):
        raise RecordRejected("schema", "'f' and 'sources' must be objects")
    if any(not isinstance(v, str) or len(v) > MAX_SOURCE_LEN
           or k not in schema.SOURCE_KEYS for k, v in sources.items()):
        raise RecordRejected("schema", "sources: known keys, short strings")
    known, unknown = {}, 0
    for name, value in features.items():
        bounds = schema.FEATURES.get(name)
        if bounds is None:
            unknown += 1
            continue
        if not _number(value):
            raise RecordRejected("schema", f"{name[:40]} is not a number")
        lo, hi, _ = bounds
        if not lo <= value <= hi:
            raise RecordRejected("range", f"{name} = {value!r} outside "
                                          f"[{lo:g}, {hi:g}]")
        known[name] = float(value)
    if ts > now + max_future_s:
        raise RecordRejected("future", f"ts {ts - now:.0f} s ahead of host")
    if ts < now - max_age_s:
        raise RecordRejected("stale", f"ts {now - ts:.0f} s old")
    return ProfileRecord(float(ts), seq, float(interval), known,
                         dict(sources), unknown)
