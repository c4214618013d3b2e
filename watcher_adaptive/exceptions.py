"""Every error the control plane raises on purpose.

::

    WatcherAdaptiveError
     +-- UsageError                    a bad command line (cmd/)
     +-- InvalidData (ValueError)      input that cannot be used as is
     |    +-- TraceError               a trace missing, empty, garbled
     |    +-- RecordRejected           a guest profile record refused
     |    +-- PolicyError              audit parameters out of range or
     |    |                            contradicting each other (core/)
     |    +-- PlanningError            a snapshot and a forecast of two
     |    |                            different clusters (core/)
     |    +-- UnknownStrategy          a replay strategy no entry point
     |    |                            provides (replay/)
     |    +-- GridError                a sweep's grid file naming an
     |    |                            unknown strategy or parameter
     |    |                            (evaluate/)
     |    +-- ModelMismatch            a saved model that does not fit
     |    |                            the caller (predict/)
     |    +-- DatasourceConflict       prometheus and aetos both in a
     |    |                            datasources list (adapters/)
     |    +-- ProfileDataError         an application kind, seed or
     |    |                            schedule outside the behaviour-
     |    |                            profile data set (predict/,
     |    |                            evaluate/)
     |    +-- StaleForecasterState     online forecasters whose last
     |                                 sample is too old to go on from
     |                                 (core/)
     +-- PeerError (RuntimeError)      a Watcher strategy failed inside
     |                                 the replay (replay/)
     +-- ServiceError (RuntimeError)   a service the plug-in talks to
          |                            failed or refused
          +-- NovaError                the Compute API, as the action
          |    |                       sees it
          |    +-- NovaRefused         a 4xx: will not work as is
          |    |    +-- ServerNotFound
          |    +-- NovaUnavailable     no answer, or a 5xx
          +-- MetricSourceError        Gnocchi, Prometheus or Aetos,
          |                            read by the strategy
          +-- SinkUnavailable          Gnocchi, written by the collector:
          +-- SinkRefused              try later / needs an operator

Each class keeps the builtin base it always had (``ValueError``,
``RuntimeError``), so an ``except ValueError`` written against the old
classes still catches them.  This module imports nothing, so every
layer (the pure core included) may raise these; the packages import
them from here.  The destination agent's errors are in
:mod:`nova_hooks.exceptions`.
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


class PolicyError(InvalidData):
    """An audit parameter is out of range or contradicts another
    (:func:`watcher_adaptive.core.policy.validate`)."""


class PlanningError(InvalidData):
    """The snapshot and forecast given to the planner do not describe
    the same cluster."""


class UnknownStrategy(InvalidData):
    """A ``--strategies`` entry names no installed replay strategy."""


class GridError(InvalidData):
    """A sweep's grid (``--grid`` TOML) that cannot be run: not TOML, an
    unknown strategy or parameter, a bad value, a setting twice."""


class ModelMismatch(InvalidData):
    """A stored model does not fit what the caller needs (horizon,
    interval, quantiles, feature list, library versions, format)."""


class DatasourceConflict(InvalidData):
    """A datasources list names both ``prometheus`` and ``aetos`` (the
    same store twice; Watcher refuses it as ``DataSourceConfigConflict``)."""


class ProfileDataError(InvalidData):
    """An application kind, seed or schedule that the behaviour-profile
    data set does not hold, or a schedule file that cannot be read."""


class StaleForecasterState(InvalidData):
    """Online forecasters that last saw a sample too long ago: what they
    learnt is stale, and they start afresh."""


class PeerError(WatcherAdaptiveError, RuntimeError):
    """A Watcher strategy raised during an audit in the replay."""


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
    """The metric store (Gnocchi, Prometheus, Aetos) cannot be reached,
    refused the request or answered garbage; the message says which and
    why."""


class SinkUnavailable(ServiceError):
    """Gnocchi did not answer or failed (5xx): try again later."""


class SinkRefused(ServiceError):
    """Gnocchi refused the batch for a reason a retry will not fix
    without an operator (e.g. the archive policy is missing)."""
