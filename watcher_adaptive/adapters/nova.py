"""The part of the Compute API the ``adaptive_migrate`` action uses,
through python-novaclient: show a server, the compute service of a
host, start a live migration, find its migration record, abort it.

Every call returns plain values or :class:`~watcher_adaptive.core.
migration.Observation`; novaclient's errors become :class:`NovaRefused`
(Nova said no: 4xx) or :class:`NovaUnavailable` (no answer, 5xx), so the
action never handles novaclient types itself.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any
from typing import Optional

from watcher_adaptive.core.migration import Observation
from watcher_adaptive.exceptions import NovaError
from watcher_adaptive.exceptions import NovaRefused
from watcher_adaptive.exceptions import NovaUnavailable
from watcher_adaptive.exceptions import ServerNotFound

LOG = logging.getLogger(__name__)
#: the oldest microversion with block_migration "auto" and a host
MIN_VERSION = (2, 25)


@dataclasses.dataclass(frozen=True)
class ComputeService:
    host: str
    status: str      # enabled / disabled
    state: str       # up / down


def check_version(version: str) -> tuple[int, int]:
    """``"2.65"`` -> ``(2, 65)``; refuses versions below 2.25."""
    try:
        major, minor = (int(p) for p in version.split(".", 1))
    except ValueError:
        raise ValueError(f"bad compute API microversion {version!r}") \
            from None
    if (major, minor) < MIN_VERSION:
        raise ValueError(f"compute API microversion {version} is below "
                         "2.25 (no block_migration 'auto')")
    return major, minor


def make_client(session, version: str = "2.65",
                endpoint_type: str = "publicURL",
                region_name: Optional[str] = None,
                endpoint_override: Optional[str] = None):
    """A novaclient on a keystoneauth1 ``session`` (Watcher's
    ``osc.session`` in the applier; a ``noauth`` session with the
    endpoint in tests)."""
    from novaclient import client as nova_client

    check_version(version)
    kwargs: dict[str, Any] = {"session": session,
                              "endpoint_type": endpoint_type}
    if region_name:
        kwargs["region_name"] = region_name
    if endpoint_override:
        kwargs["endpoint_override"] = endpoint_override
    return nova_client.Client(version, **kwargs)


def _translate(exc: Exception, what: str) -> NovaError:
    from keystoneauth1 import exceptions as kexc
    from novaclient import exceptions as nexc

    if isinstance(exc, nexc.ClientException):
        code = int(getattr(exc, "code", 0) or 0)
        if 400 <= code < 500:
            return NovaRefused(code, f"{what}: {exc}")
        return NovaUnavailable(f"{what}: Nova {code}: {exc}")
    if isinstance(exc, (kexc.ConnectionError, kexc.HttpServerError,
                        kexc.RequestTimeout, ConnectionError)):
        return NovaUnavailable(f"{what}: {type(exc).__name__}: {exc}")
    if isinstance(exc, kexc.HttpError):
        return NovaRefused(int(exc.http_status or 0), f"{what}: {exc}")
    raise exc


class ComputeApi:
    """Thin wrapper of one novaclient ``Client``."""

    def __init__(self, client) -> None:
        self.nova = client

    def server(self, uuid: str) -> Observation:
        """The server alone (no migration record).

        :raises ServerNotFound: Nova does not know ``uuid``.
        """
        from novaclient import exceptions as nexc

        try:
            srv = self.nova.servers.get(uuid)
        except nexc.NotFound:
            raise ServerNotFound(uuid) from None
        except Exception as exc:  # noqa: BLE001 - translated or re-raised
            raise _translate(exc, f"show server {uuid}") from exc
        return Observation(
            server_status=getattr(srv, "status", None),
            server_host=getattr(srv, "OS-EXT-SRV-ATTR:host", None),
            task_state=getattr(srv, "OS-EXT-STS:task_state", None))

    def observe(self, uuid: str) -> Observation:
        """The server and its newest live-migration record (with the
        memory figures of ``/servers/{id}/migrations`` while it runs); a
        server that is gone is ``server_status=None``."""
        try:
            obs = self.server(uuid)
        except ServerNotFound:
            return Observation(server_status=None, server_host=None)
        record = self.newest_migration(uuid)
        if record is None:
            return obs
        status = str(record.get("status") or "").lower() or None
        total = processed = None
        if status is not None and status.startswith("running"):
            live = self._in_progress(uuid, record.get("id"))
            if live:
                total = live.get("memory_total_bytes")
                processed = live.get("memory_processed_bytes")
        return dataclasses.replace(
            obs, migration_id=str(record.get("id")),
            migration_status=status, memory_total_bytes=total,
            memory_processed_bytes=processed)

    def newest_migration(self, uuid: str) -> Optional[dict]:
        """The newest live-migration record of ``uuid`` (``None`` when
        Nova lists none)."""
        try:
            records = self.nova.migrations.list(
                instance_uuid=uuid, migration_type="live-migration")
        except Exception as exc:  # noqa: BLE001 - translated or re-raised
            raise _translate(exc, f"list migrations of {uuid}") from exc
        best = None
        for rec in records:
            doc = rec.to_dict() if hasattr(rec, "to_dict") else dict(rec)
            if doc.get("instance_uuid") not in (None, uuid):
                continue
            mtype = doc.get("migration_type")
            if mtype not in (None, "live-migration"):
                continue
            if best is None or _order(doc) > _order(best):
                best = doc
        return best

    def _in_progress(self, uuid: str, migration_id) -> Optional[dict]:
        try:
            for rec in self.nova.server_migrations.list(uuid):
                doc = rec.to_dict()
                if str(doc.get("id")) == str(migration_id):
                    return doc
        except Exception as exc:  # noqa: BLE001 - figures are optional
            LOG.debug("no in-progress figures for %s: %s", uuid, exc)
        return None

    def compute_service(self, host: str) -> Optional[ComputeService]:
        """The ``nova-compute`` service of ``host`` (``None``: none)."""
        try:
            services = self.nova.services.list(host=host,
                                               binary="nova-compute")
        except Exception as exc:  # noqa: BLE001 - translated or re-raised
            raise _translate(exc, f"list services of {host}") from exc
        for svc in services:
            if getattr(svc, "host", None) == host:
                return ComputeService(host, str(svc.status),
                                      str(svc.state))
        return None

    def live_migrate(self, uuid: str, host: str) -> None:
        """Ask Nova to live-migrate ``uuid`` to ``host`` (block
        migration ``auto``).

        :raises NovaRefused: Nova said no (400 bad host, 409 state).
        :raises NovaUnavailable: Nova did not answer.
        """
        try:
            self.nova.servers.live_migrate(uuid, host=host,
                                           block_migration="auto")
        except Exception as exc:  # noqa: BLE001 - translated or re-raised
            raise _translate(exc, f"live-migrate {uuid} to {host}") \
                from exc

    def abort(self, uuid: str, migration_id: str) -> None:
        """Ask Nova to abort the running migration ``migration_id``."""
        try:
            self.nova.server_migrations.live_migration_abort(
                uuid, migration_id)
        except Exception as exc:  # noqa: BLE001 - translated or re-raised
            raise _translate(exc, f"abort migration {migration_id} of "
                                  f"{uuid}") from exc


def _order(doc: dict) -> tuple:
    mid = doc.get("id")
    try:
        mid = int(mid)
    except (TypeError, ValueError):
        mid = -1
    return (str(doc.get("created_at") or ""), mid)
