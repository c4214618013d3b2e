"""Migration history in Gnocchi: each finished ``adaptive_migrate``
leaves one point per known figure on ``adaptive.migration.<figure>``
metrics of its instance resource (see
:data:`watcher_adaptive.core.migration.HISTORY_FIELDS`), stored with
their own archive policy (one point a minute kept for a year: a figure
per migration, not a series).

Writing is best effort: a Gnocchi that is down or does not know the
instance yet costs a log line, never the migration.
"""
from __future__ import annotations

import datetime
import logging
from typing import Optional
from typing import Sequence

from watcher_adaptive.core.migration import HISTORY_FIELDS
from watcher_adaptive.core.migration import MigrationRecord
from watcher_adaptive.core.migration import history_measures

LOG = logging.getLogger(__name__)

METRIC_PREFIX = "adaptive.migration."
ARCHIVE_POLICY = "watcher-adaptive-migration"
GRANULARITY_S = 60


def ensure_archive_policy(client, name: str = ARCHIVE_POLICY,
                          prefix: str = METRIC_PREFIX) -> bool:
    """Create the history's archive policy and a rule sending
    ``adaptive.migration.*`` to it, unless they exist (the longer
    pattern wins over the profiles' ``adaptive.*`` rule).  Returns
    whether anything was created."""
    from watcher_adaptive.adapters.gnocchi import ensure_policy_and_rule

    return ensure_policy_and_rule(
        client, name, f"{prefix}*",
        ["last", "mean", "max", "min", "count"],
        [{"granularity": f"{GRANULARITY_S}s", "timespan": "365 days"}])


def _stamp(ts: float) -> str:
    return datetime.datetime.fromtimestamp(
        ts, datetime.timezone.utc).isoformat()


def batch_body(record: MigrationRecord, archive_policy: str,
               prefix: str = METRIC_PREFIX) -> dict:
    """Gnocchi's batch-measures body for one finished migration."""
    stamp = _stamp(record.ended_at)
    return {record.instance_uuid: {
        prefix + suffix: {"archive_policy_name": archive_policy,
                          "measures": [{"timestamp": stamp,
                                        "value": value}]}
        for suffix, value in history_measures(record).items()}}


class MigrationHistory:
    """Writer and reader of the history of one Gnocchi."""

    def __init__(self, client, archive_policy: str = ARCHIVE_POLICY,
                 prefix: str = METRIC_PREFIX) -> None:
        self.client = client
        self.archive_policy = archive_policy
        self.prefix = prefix
        self._policy_checked = False

    def record(self, record: MigrationRecord) -> bool:
        """Store ``record``; ``False`` (logged) when it could not be."""
        try:
            if not self._policy_checked:
                ensure_archive_policy(self.client, self.archive_policy,
                                      self.prefix)
                self._policy_checked = True
            self.client.metric.batch_resources_metrics_measures(
                batch_body(record, self.archive_policy, self.prefix),
                create_metrics=True)
        except Exception as exc:  # noqa: BLE001 - history is best effort
            LOG.warning("migration history of %s not recorded (%s: %s)",
                        record.instance_uuid, type(exc).__name__, exc)
            return False
        return True

    def read(self, instance_uuid: str,
             fields: Sequence[str] = tuple(HISTORY_FIELDS.values()),
             start: Optional[float] = None) -> list[dict[str, float]]:
        """The instance's past migrations, oldest first: one mapping
        per minute that has figures (``ts`` plus each figure found).

        :raises Exception: gnocchiclient's error when Gnocchi cannot be
            read (the caller decides whether that matters).
        """
        from gnocchiclient import exceptions as gexc

        rows: dict[float, dict[str, float]] = {}
        kwargs = {}
        if start is not None:
            kwargs["start"] = _stamp(start)
        for suffix in fields:
            try:
                points = self.client.metric.get_measures(
                    self.prefix + suffix, resource_id=instance_uuid,
                    aggregation="last", granularity=GRANULARITY_S,
                    refresh=True, **kwargs)
            except gexc.NotFound:
                continue
            for ts, _gran, value in points:
                when = ts.timestamp() if hasattr(ts, "timestamp") else \
                    datetime.datetime.fromisoformat(str(ts)).timestamp()
                rows.setdefault(when, {"ts": when})[suffix] = float(value)
        return [rows[k] for k in sorted(rows)]
