"""Accepted profiles into Gnocchi: one batch request for many guests.

Each feature becomes a metric ``adaptive.<feature>`` of the guest's
``instance`` resource (the libvirt domain UUID is the Nova instance
UUID), created on first write with the profile archive policy.  Gnocchi
refuses a whole batch that names an instance it does not know; the
sink then retries without those instances and hands them back, so the
collector keeps them spooled for later instead of losing the rest.
"""
from __future__ import annotations

import dataclasses
import datetime
import logging
from typing import Sequence

from watcher_adaptive.exceptions import SinkRefused
from watcher_adaptive.exceptions import SinkUnavailable
from watcher_adaptive.profiler.spool import Spooled

LOG = logging.getLogger(__name__)

METRIC_PREFIX = "adaptive."
ARCHIVE_POLICY = "watcher-adaptive-profile"


@dataclasses.dataclass(frozen=True)
class PushResult:
    landed: list[int]
    #: spool ids whose instance Gnocchi does not know (yet)
    unknown: list[int]


def _stamp(ts: float) -> str:
    return datetime.datetime.fromtimestamp(
        ts, datetime.timezone.utc).isoformat()


def batch_body(items: Sequence[Spooled], archive_policy: str,
               prefix: str = METRIC_PREFIX) -> dict:
    """The body of Gnocchi's batch-measures call for ``items``."""
    body: dict = {}
    for item in items:
        metrics = body.setdefault(item.resource_id, {})
        stamp = _stamp(item.ts)
        for name, value in item.features.items():
            metric = metrics.setdefault(prefix + name, {
                "archive_policy_name": archive_policy, "measures": []})
            metric["measures"].append({"timestamp": stamp, "value": value})
    return body


def _unknown_resources(exc) -> set[str]:
    """Instance ids in Gnocchi's "Unknown resources" refusal (the client
    keeps Gnocchi's structured description as the exception's
    ``message``)."""
    desc = getattr(exc, "message", None)
    if not isinstance(desc, dict) or desc.get("cause") != "Unknown resources":
        return set()
    ids = set()
    for entry in desc.get("detail") or ():
        if isinstance(entry, dict):
            ids.add(str(entry.get("original_resource_id")
                        or entry.get("resource_id")))
    return ids


class GnocchiProfileSink:
    def __init__(self, client, archive_policy: str = ARCHIVE_POLICY,
                 prefix: str = METRIC_PREFIX) -> None:
        self.client = client
        self.archive_policy = archive_policy
        self.prefix = prefix

    def push(self, items: Sequence[Spooled]) -> PushResult:
        from gnocchiclient import exceptions as gexc
        from keystoneauth1 import exceptions as kexc

        pending = list(items)
        unknown: list[int] = []
        while pending:
            try:
                self.client.metric.batch_resources_metrics_measures(
                    batch_body(pending, self.archive_policy, self.prefix),
                    create_metrics=True)
                return PushResult([i.id for i in pending], unknown)
            except gexc.BadRequest as exc:
                missing = _unknown_resources(exc)
                if not missing:
                    raise SinkRefused(f"Gnocchi refused the profiles: "
                                      f"{exc}") from exc
                unknown += [i.id for i in pending
                            if i.resource_id in missing]
                pending = [i for i in pending
                           if i.resource_id not in missing]
            except (gexc.ConnectionFailure, kexc.ConnectionError,
                    ConnectionError, kexc.HttpServerError) as exc:
                raise SinkUnavailable(f"{type(exc).__name__}: {exc}") \
                    from exc
            except gexc.ClientException as exc:
                if getattr(exc, "code", 0) and exc.code >= 500:
                    raise SinkUnavailable(f"Gnocchi {exc.code}: {exc}") \
                        from exc
                raise SinkRefused(f"Gnocchi refused the profiles: "
                                  f"{exc}") from exc
        return PushResult([], unknown)


def ensure_archive_policy(client, name: str = ARCHIVE_POLICY,
                          prefix: str = METRIC_PREFIX,
                          granularity_s: int = 30) -> bool:
    """Create the profile archive policy and a rule sending
    ``adaptive.*`` metrics to it, unless they exist.  Returns whether
    anything was created.  Used by ``watcher-adaptive profiler-setup``
    and the devstack plugin."""
    from watcher_adaptive.adapters.gnocchi import ensure_policy_and_rule

    return ensure_policy_and_rule(
        client, name, f"{prefix}*",
        ["mean", "max", "min", "last", "count"],
        [{"granularity": f"{granularity_s}s", "timespan": "2 days"},
         {"granularity": "300s", "timespan": "30 days"}])
