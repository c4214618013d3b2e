"""Workload traces: loaders for PlanetLab, Bitbrains and wide CSV files,
the embedded default sample, and one columnar in-memory form."""
from watcher_adaptive.exceptions import TraceError
from watcher_adaptive.traces.bitbrains import load_bitbrains
from watcher_adaptive.traces.embedded import load_embedded
from watcher_adaptive.traces.generic import load_wide_csv
from watcher_adaptive.traces.model import LoadReport
from watcher_adaptive.traces.model import TraceSet
from watcher_adaptive.traces.planetlab import load_planetlab_day
from watcher_adaptive.traces.resolve import is_development
from watcher_adaptive.traces.resolve import resolve_trace

__all__ = ["LoadReport", "TraceError", "TraceSet", "is_development",
           "load_bitbrains", "load_embedded", "load_planetlab_day",
           "load_wide_csv", "resolve_trace"]
