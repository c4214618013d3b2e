"""Every error the control plane raises on purpose.

::

    WatcherAdaptiveError
     +-- UsageError                    a bad command line (cmd/)
     +-- InvalidData (ValueError)      input that cannot be used as is
     |    +-- TraceError               a trace missing, empty, garbled
     |    +-- RecordRejected           a guest profile record refused
     +-- ServiceError (RuntimeError)   a service the plug-in talks to
          |                            failed or refused
          +-- NovaError                the Compute API, as the action
          |    |                       sees it
          |    +-- NovaRefused         a 4xx: will not work as is
          |    |    +-- ServerNotFound
          |    +-- NovaUnavailable     no answer, or a 5xx
          +-- MetricSourceError        Gnocchi, read by the strategy
          +-- SinkUnavailable          Gnocchi, written by the collector:
          +-- SinkRefused              try later / needs an operator

Each class keeps the builtin base it always had (``ValueError``,
``RuntimeError``), so an ``except ValueError`` written against the old
classes still catches them.  This module imports nothing, so every
layer (the pure core included) may raise these.

Not here yet: ``PolicyError`` and ``PlanningError``
(:mod:`watcher_adaptive.core`), ``UnknownStrategy`` and ``PeerError``
(:mod:`watcher_adaptive.replay`) and ``ModelMismatch``
(:mod:`watcher_adaptive.predict`) still live in their modules while
those packages are reorganised (issue #20, items 3 and 4); each joins
``InvalidData`` (the last ``ServiceError``) with a one-line move.
The destination agent's errors are in :mod:`nova_hooks.exceptions`.
"""
from __future__ import annotations


class WatcherAdaptiveError(Exception):
    """Base of the control plane's own errors."""


class UsageError(WatcherAdaptiveError):
    """A command line the ``watcher-adaptive`` command cannot run."""


class InvalidData(WatcherAdaptiveError, ValueError):
    """Input (a file, a record, a parameter) that cannot be used."""


class TraceError(InvalidData):
    """A trace is missing, empty or garbled; the message says where."""


class RecordRejected(InvalidData):
    """A profile record is refused; ``reason`` is one of
    :data:`watcher_adaptive.profiler.record.REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class ServiceError(WatcherAdaptiveError, RuntimeError):
    """A service the plug-in talks to failed or refused."""


class NovaError(ServiceError):
    """Base of the Compute API errors the action sees."""


class NovaRefused(NovaError):
    """Nova answered with a 4xx: the request will not work as is."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Nova refused ({code}): {message}")
        self.code = code


class NovaUnavailable(NovaError):
    """Nova did not answer or failed (5xx)."""


class ServerNotFound(NovaRefused):
    """The server is not (or no longer) there."""

    def __init__(self, uuid: str) -> None:
        super().__init__(404, f"server {uuid} not found")


class MetricSourceError(ServiceError):
    """Gnocchi cannot be reached or refused the request; the message
    says which endpoint and why."""


class SinkUnavailable(ServiceError):
    """Gnocchi did not answer or failed (5xx): try again later."""


class SinkRefused(ServiceError):
    """Gnocchi refused the batch for a reason a retry will not fix
    without an operator (e.g. the archive policy is missing)."""
