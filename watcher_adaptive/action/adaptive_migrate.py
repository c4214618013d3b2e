"""``adaptive_migrate``: the Watcher action that tells the destination
host's agent what is coming, drives the Nova live migration and keeps
its outcome.

Order of one execution:

1. ``prepare`` to the destination agent (the hint: profile, forecast,
   expected hot working set, thresholds), a short RPC call; an agent
   that does not answer is logged and the migration goes on without
   pre-configuration;
2. ``servers.live_migrate(host=destination, block_migration="auto")``;
3. ``started`` to the agent, then looks at the server and its migration
   record (:func:`watcher_adaptive.core.migration.judge`) until it
   completed, failed or timed out (``migration_timeout``; on timeout
   the running migration is aborted);
4. ``completed`` (or ``aborted``) to the agent, then its ``status``
   (what it measured: hot / warm / cold sizes, miss ratio), and the
   outcome with those figures into
   Gnocchi as ``adaptive.migration.*`` of the instance.

``abort`` (Watcher cancelling the action plan) and ``revert`` stop the
waiting, ask Nova to abort a migration still in progress and tell the
agent ``aborted``; a migration that already completed is not moved
back.  The agent's messages follow :mod:`nova_hooks.core.contract`.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid as uuidlib
from typing import Any
from typing import Callable
from typing import Optional

import jsonschema
from watcher._i18n import _
from watcher.applier.actions import base
from watcher.common import exception

from nova_hooks.core import hint as hint_contract
from nova_hooks.exceptions import ContractError
from watcher_adaptive.adapters import nova
from watcher_adaptive.adapters.agent_rpc import AgentNotifier
from watcher_adaptive.conf import action as action_conf
from watcher_adaptive.core import migration as M
from watcher_adaptive.exceptions import NovaError
from watcher_adaptive.exceptions import NovaRefused
from watcher_adaptive.exceptions import ServerNotFound

LOG = logging.getLogger(__name__)
NAME = "adaptive_migrate"

_UUID = ("^([a-fA-F0-9]){8}-([a-fA-F0-9]){4}-([a-fA-F0-9]){4}-"
         "([a-fA-F0-9]){4}-([a-fA-F0-9]){12}$")
_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
#: the hint the strategy attaches (all optional): the JSON Schema
#: derived from :class:`nova_hooks.core.hint.MigrationHint`
HINT_SCHEMA = hint_contract.params_schema()

SCHEMA = {
    "type": "object",
    "properties": {
        "resource_id": {"type": "string", "pattern": _UUID},
        "resource_name": _NAME,
        "migration_type": {"type": "string", "enum": ["live"]},
        "source_node": _NAME,
        "destination_node": _NAME,
        "hint": HINT_SCHEMA,
    },
    "required": ["resource_id", "migration_type", "source_node",
                 "destination_node"],
    "additionalProperties": False,
}


@dataclasses.dataclass
class _Run:
    """What one execution learnt so far (shared with abort/revert,
    which Watcher calls from another thread)."""

    correlation_id: str
    prepared: Optional[bool] = None
    accepted_at: Optional[float] = None
    #: when the waiting saw the end (the duration does not include the
    #: messages to the agent after it)
    ended_at: Optional[float] = None
    last: Optional[M.Observation] = None
    migration_id: Optional[str] = None
    finished: bool = False
    outcome: Optional[M.Outcome] = None
    agent_told_aborted: bool = False


class AdaptiveMigrate(base.BaseAction):
    """Live-migrate one server, with the destination agent told first.

    :param config: the options of ``[watcher_actions.adaptive_migrate]``
        (a mapping, as Watcher's loader builds it).
    :param osc: Watcher's ``OpenStackClients``: ``session`` for
        novaclient, ``gnocchi()`` for the history.
    :param clock: monotonic seconds (tests give a fake one).
    :param wall: epoch seconds for the history's timestamps.
    """

    def __init__(self, config, osc=None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        super().__init__(config, osc)
        self._clock = clock
        self._wall = wall
        self._stop = threading.Event()
        self._compute: Optional[nova.ComputeApi] = None
        self._notifier: Optional[AgentNotifier] = None
        self._run: Optional[_Run] = None
        self._lock = threading.Lock()
        #: (kind, the agent's answer or None) of every message sent
        self.messages: list[tuple[str, Optional[dict]]] = []

    # -- plugin metadata -------------------------------------------------
    @classmethod
    def get_name(cls) -> str:
        return NAME

    @classmethod
    def get_config_opts(cls) -> list:
        return list(action_conf.OPTS)

    @property
    def schema(self) -> dict:
        return SCHEMA

    def validate_parameters(self) -> bool:
        """Watcher's check against :data:`SCHEMA`, then the hint's own
        validation: JSON Schema cannot say that a number is finite, so
        a NaN or an infinity would pass it and reach the agent."""
        super().validate_parameters()
        try:
            hint_contract.from_params(self.resource_id, None,
                                      self.input_parameters.get("hint")
                                      or {})
        except ContractError as exc:
            raise jsonschema.ValidationError(f"hint: {exc}") from None
        return True

    def get_description(self) -> str:
        return ("Live-migrate a server to destination_node after telling "
                "the destination agent what to expect")

    def check_abort(self) -> bool:
        return True

    # -- parameters and options -----------------------------------------
    @property
    def instance_uuid(self) -> str:
        return self.resource_id

    @property
    def source_node(self) -> str:
        return self.input_parameters["source_node"]

    @property
    def destination_node(self) -> str:
        return self.input_parameters["destination_node"]

    @property
    def hint(self) -> dict:
        return dict(self.input_parameters.get("hint") or {})

    def _opt(self, name: str) -> Any:
        try:
            value = self.config[name]
        except (KeyError, TypeError):
            value = getattr(self.config, name, None)
        if value is None:
            for opt in action_conf.OPTS:
                if opt.dest == name:
                    return opt.default
        return value

    # -- clients (built once per action, from the injected osc) ----------
    def compute(self) -> nova.ComputeApi:
        if self._compute is None:
            session = self.osc.session
            region = None
            getter = getattr(self.osc, "_get_client_option", None)
            if getter is not None:
                try:
                    region = getter("nova", "region_name")
                except Exception:  # noqa: BLE001 - optional
                    region = None
            self._compute = nova.ComputeApi(nova.make_client(
                session, self._opt("nova_api_version"),
                self._opt("nova_endpoint_type"), region))
        return self._compute

    def notifier(self) -> AgentNotifier:
        if self._notifier is None:
            self._notifier = AgentNotifier(
                self._transport_url(), self._opt("agent_rpc_topic"),
                float(self._opt("agent_timeout")))
        return self._notifier

    def _transport_url(self) -> Optional[str]:
        url = self._opt("agent_transport_url")
        if url:
            return url
        # NOTE: the applier's own broker lives only in Watcher's global
        # configuration; read once here, never elsewhere
        from oslo_config import cfg
        try:
            return cfg.CONF.transport_url
        except cfg.NoSuchOptError:
            return None

    # -- agent messages --------------------------------------------------
    def _payload(self, kind: str, run: _Run) -> dict:
        from nova_hooks.core import contract

        if kind == "status":           # a query, not a contract message
            return {"version": contract.VERSION,
                    "instance_uuid": self.instance_uuid}
        hint = None
        extra: dict[str, Any] = {}
        if kind == "prepare":
            hint = hint_contract.from_params(
                self.instance_uuid, run.correlation_id, self.hint)
        elif run.migration_id is not None:
            extra["nova_migration_id"] = run.migration_id
        message = contract.Message(
            kind=contract.MessageKind(kind), version=contract.VERSION,
            instance_uuid=self.instance_uuid,
            migration_id=run.correlation_id, hint=hint)
        payload = contract.make_payload(message)
        payload.update(extra)
        payload["source_node"] = self.source_node
        return payload

    def _tell(self, kind: str, run: _Run) -> Optional[dict]:
        answer = self.notifier().send(self.destination_node, kind,
                                      self._payload(kind, run))
        self.messages.append((kind, answer))
        return answer

    # -- Watcher's hooks -------------------------------------------------
    def pre_condition(self) -> None:
        """Skip when the server is gone or no longer on source_node;
        fail when it is not ACTIVE or the destination's compute service
        is not enabled and up."""
        api = self.compute()
        try:
            obs = api.server(self.instance_uuid)
        except ServerNotFound:
            raise exception.ActionSkipped(
                _("Instance %s not found") % self.instance_uuid) from None
        except NovaError as exc:
            raise exception.ActionExecutionFailure(message=str(exc)) \
                from exc
        if obs.server_host != self.source_node:
            raise exception.ActionSkipped(
                _("Instance %(i)s is on %(h)s, not on source node %(s)s")
                % {"i": self.instance_uuid, "h": obs.server_host,
                   "s": self.source_node})
        if obs.server_status != "ACTIVE":
            raise exception.ActionExecutionFailure(message=_(
                "Live migration needs instance %(i)s ACTIVE (it is "
                "%(st)s)") % {"i": self.instance_uuid,
                              "st": obs.server_status})
        try:
            svc = api.compute_service(self.destination_node)
        except NovaError as exc:
            raise exception.ActionExecutionFailure(message=str(exc)) \
                from exc
        if svc is None:
            raise exception.ActionExecutionFailure(message=_(
                "Destination node %s not found") % self.destination_node)
        if svc.status != "enabled" or svc.state != "up":
            raise exception.ActionExecutionFailure(message=_(
                "Destination node %(d)s is %(st)s/%(sa)s, not "
                "enabled/up") % {"d": self.destination_node,
                                 "st": svc.status, "sa": svc.state})

    def execute(self) -> bool:
        run = self._run = _Run(correlation_id=str(uuidlib.uuid4()))
        try:
            return self._execute(run)
        finally:
            run.finished = True

    def _execute(self, run: _Run) -> bool:
        uuid, dst = self.instance_uuid, self.destination_node
        answer = self._tell("prepare", run)
        run.prepared = bool(answer and answer.get("accepted"))
        if self._stop.is_set():
            return self._finish(run, M.Outcome.ABORTED, "aborted before "
                                "the migration started")
        try:
            self.compute().live_migrate(uuid, dst)
        except NovaRefused as exc:
            return self._finish(run, M.Outcome.REFUSED, str(exc))
        except NovaError as exc:
            # no answer is not a no: Nova may have taken it anyway
            if not self._started_anyway():
                return self._finish(run, M.Outcome.FAILED, str(exc))
            LOG.warning("%s: %s, yet the migration of %s started", NAME,
                        exc, uuid)
        run.accepted_at = self._clock()
        LOG.info("%s: Nova accepted the live migration of %s %s -> %s",
                 NAME, uuid, self.source_node, dst)
        self._tell("started", run)
        step = self._wait(run)
        if step.verdict is M.Verdict.COMPLETED:
            answer = self._tell("completed", run)
            # what the agent measured (its ``status``), then anything
            # its ``completed`` answer carries on top
            figures = M.status_figures(self._tell("status", run)) \
                if answer is not None else {}   # agent away: no 2nd wait
            figures.update(M.agent_figures(answer))
            return self._finish(run, M.Outcome.COMPLETED, step.reason,
                                figures)
        if step.verdict is M.Verdict.TIMED_OUT:
            self._abort_in_nova(run)
            return self._finish(run, M.Outcome.TIMED_OUT, step.reason)
        if self._stop.is_set():
            return self._finish(run, M.Outcome.ABORTED, step.reason)
        return self._finish(run, M.Outcome.FAILED, step.reason)

    def _started_anyway(self) -> bool:
        """After a lost answer: whether the server is migrating now."""
        try:
            obs = self.compute().observe(self.instance_uuid)
        except NovaError:
            return False
        return obs.task_state == "migrating" or \
            obs.migration_status in M.ABORTABLE_STATES

    def _wait(self, run: _Run) -> M.Step:
        timeout = float(self._opt("migration_timeout"))
        interval = float(self._opt("poll_interval"))
        api = self.compute()
        while True:
            elapsed = self._clock() - run.accepted_at
            try:
                obs = api.observe(self.instance_uuid)
            except NovaError as exc:
                LOG.warning("%s: cannot see %s (%s); looking again",
                            NAME, self.instance_uuid, exc)
                obs = run.last or M.Observation("MIGRATING", None)
            else:
                run.last = self._merge(run.last, obs)
                if obs.migration_id is not None:
                    run.migration_id = obs.migration_id
            step = M.judge(obs, self.source_node, self.destination_node,
                           elapsed, timeout)
            if step.verdict is not M.Verdict.WAIT:
                run.ended_at = self._clock()
                return step
            if self._stop.wait(M.next_delay(elapsed, interval)):
                run.ended_at = self._clock()
                return M.Step(M.Verdict.FAILED, "aborted while waiting")

    @staticmethod
    def _merge(old: Optional[M.Observation], new: M.Observation
               ) -> M.Observation:
        """``new``, keeping the memory figures of an earlier look when
        this one has none (Nova shows them only while it runs)."""
        if old is None:
            return new
        return dataclasses.replace(
            new, memory_total_bytes=new.memory_total_bytes
            if new.memory_total_bytes is not None
            else old.memory_total_bytes,
            memory_processed_bytes=new.memory_processed_bytes
            if new.memory_processed_bytes is not None
            else old.memory_processed_bytes)

    def _finish(self, run: _Run, outcome: M.Outcome, reason: str,
                figures: Optional[dict] = None) -> bool:
        run.outcome = outcome
        ok = outcome is M.Outcome.COMPLETED
        if ok:
            LOG.info("%s: %s now on %s (%s)", NAME, self.instance_uuid,
                     self.destination_node, reason)
        else:
            LOG.error("%s: migration of %s to %s %s: %s", NAME,
                      self.instance_uuid, self.destination_node,
                      outcome.name.lower(), reason)
            self._tell_aborted(run)
        self._record(run, outcome, figures or {})
        if self._notifier is not None:
            self._notifier.close()
            self._notifier = None
        return ok

    def _tell_aborted(self, run: _Run) -> None:
        with self._lock:
            if run.agent_told_aborted:
                return
            run.agent_told_aborted = True
        self._tell("aborted", run)

    def _record(self, run: _Run, outcome: M.Outcome,
                figures: dict) -> None:
        if not self._opt("record_history"):
            return
        from watcher_adaptive.adapters import migration_history

        last = run.last or M.Observation(None, None)
        end = run.ended_at if run.ended_at is not None else self._clock()
        record = M.MigrationRecord(
            instance_uuid=self.instance_uuid, outcome=outcome,
            ended_at=self._wall(),
            duration_s=None if run.accepted_at is None
            else end - run.accepted_at,
            memory_total_bytes=last.memory_total_bytes,
            memory_processed_bytes=last.memory_processed_bytes,
            expected_hot_kib=self.hint.get("expected_hot_kib"),
            agent_prepared=run.prepared, **figures)
        try:
            client = self.osc.gnocchi()
        except Exception as exc:  # noqa: BLE001 - history is optional
            LOG.warning("%s: no Gnocchi for the history (%s)", NAME, exc)
            return
        migration_history.MigrationHistory(
            client, self._opt("history_archive_policy")).record(record)

    def _abort_in_nova(self, run: _Run) -> bool:
        """Ask Nova to abort the migration in progress; whether nothing
        is left running."""
        api = self.compute()
        try:
            rec = api.newest_migration(self.instance_uuid)
        except NovaError as exc:
            LOG.error("%s: cannot find the migration of %s to abort: %s",
                      NAME, self.instance_uuid, exc)
            return False
        status = str((rec or {}).get("status") or "").lower()
        if rec is None or status not in M.ABORTABLE_STATES:
            return True
        try:
            api.abort(self.instance_uuid, str(rec.get("id")))
        except NovaError as exc:
            LOG.error("%s: Nova did not abort migration %s of %s: %s",
                      NAME, rec.get("id"), self.instance_uuid, exc)
            return False
        LOG.warning("%s: asked Nova to abort migration %s of %s", NAME,
                    rec.get("id"), self.instance_uuid)
        return True

    def _cancel(self, why: str) -> bool:
        self._stop.set()
        run = self._run
        if run is None or run.accepted_at is None:
            if run is not None and run.prepared:
                self._tell_aborted(run)
            LOG.info("%s: %s of %s: no migration was started", NAME, why,
                     self.instance_uuid)
            return True
        if run.outcome is M.Outcome.COMPLETED:
            LOG.warning("%s: %s of %s: the migration had completed; it "
                        "is not moved back", NAME, why, self.instance_uuid)
            return False
        stopped = self._abort_in_nova(run)
        self._tell_aborted(run)
        if run.finished and self._notifier is not None:
            self._notifier.close()
            self._notifier = None
        LOG.warning("%s: %s of %s: %s", NAME, why, self.instance_uuid,
                    "migration aborted" if stopped
                    else "migration could not be aborted")
        return stopped

    def abort(self) -> bool:
        """Watcher cancels the action plan: stop waiting, abort the
        migration in Nova, tell the agent.  ``True``: nothing runs."""
        return self._cancel("abort")

    def revert(self) -> bool:
        """Roll back: as :meth:`abort` (a completed migration stays)."""
        return self._cancel("revert")

    def post_condition(self) -> None:
        """Fail unless the server is on destination_node."""
        try:
            obs = self.compute().server(self.instance_uuid)
        except NovaError as exc:
            raise exception.ActionExecutionFailure(message=str(exc)) \
                from exc
        if obs.server_host != self.destination_node:
            raise exception.ActionExecutionFailure(message=_(
                "Instance %(i)s is on %(h)s, not on %(d)s") % {
                    "i": self.instance_uuid, "h": obs.server_host,
                    "d": self.destination_node})
