"""One guest's admission: rate limit, order and counters.

A :class:`GuestGate` sits between one guest's channel and the spool.
It charges the guest's token bucket *before* parsing, so a flood costs
the host a counter increment per line, not a JSON parse; it keeps the
guest's timestamps strictly increasing; and it counts every refusal by
reason.  Pure: the caller passes the clock.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Optional
from typing import Union

from watcher_adaptive.exceptions import RecordRejected
from watcher_adaptive.profiler import framing
from watcher_adaptive.profiler import record as R


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst = rate, burst
        self._tokens, self._last = burst, now

    def take(self, now: float) -> bool:
        elapsed = max(0.0, now - self._last)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._last = max(self._last, now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclasses.dataclass
class GatePolicy:
    records_per_minute: float = 6.0
    burst: int = 4
    max_bytes: int = R.schema.MAX_RECORD_BYTES
    max_future_s: float = 60.0
    max_age_s: float = 3600.0
    #: channels that re-read the same file see old records again: skip
    #: them quietly (counted as duplicates) instead of as hostile
    rereads: bool = False


class GuestGate:
    def __init__(self, guest_id: str, policy: GatePolicy, now: float
                 ) -> None:
        self.guest_id = guest_id
        self.policy = policy
        self.bucket = TokenBucket(policy.records_per_minute / 60.0,
                                  policy.burst, now)
        self.last_ts: Optional[float] = None
        self.last_seq: Optional[int] = None
        self.counters: collections.Counter = collections.Counter()

    def admit(self, item: Union[bytes, framing.Oversize], now: float
              ) -> Optional[R.ProfileRecord]:
        """The accepted record, or ``None`` (refused and counted)."""
        if isinstance(item, framing.Oversize):
            self.counters["oversize"] += 1
            return None
        if self.policy.rereads:
            # the file channel hands back the same records every poll:
            # parse first, so a re-read does not spend the rate budget
            return self._admit_reread(item, now)
        if not self.bucket.take(now):
            self.counters["rate_limited"] += 1
            return None
        return self._check(item, now)

    def _parse(self, line: bytes, now: float) -> Optional[R.ProfileRecord]:
        try:
            return R.parse(line, now, self.policy.max_bytes,
                           self.policy.max_future_s, self.policy.max_age_s)
        except RecordRejected as exc:
            self.counters[exc.reason] += 1
            return None

    def _seen(self, rec: R.ProfileRecord) -> bool:
        return self.last_ts is not None and rec.ts <= self.last_ts

    def _admit_reread(self, line: bytes, now: float
                      ) -> Optional[R.ProfileRecord]:
        rec = self._parse(line, now)
        if rec is None:
            return None
        if self._seen(rec):
            self.counters["duplicate"] += 1
            return None
        if not self.bucket.take(now):
            self.counters["rate_limited"] += 1
            return None
        return self._accept(rec)

    def _check(self, line: bytes, now: float) -> Optional[R.ProfileRecord]:
        rec = self._parse(line, now)
        if rec is None:
            return None
        if self._seen(rec):
            self.counters["backwards"] += 1
            return None
        return self._accept(rec)

    def _accept(self, rec: R.ProfileRecord) -> R.ProfileRecord:
        if self.last_seq is not None and rec.seq > self.last_seq + 1:
            # records the guest numbered but we never saw (its backlog
            # overflowed, or they were refused above)
            self.counters["seq_gap"] += rec.seq - self.last_seq - 1
        self.last_ts, self.last_seq = rec.ts, rec.seq
        self.counters["accepted"] += 1
        if rec.unknown:
            self.counters["unknown_features"] += rec.unknown
        return rec

    def rejected(self) -> int:
        return sum(self.counters[r] for r in R.REASONS)
