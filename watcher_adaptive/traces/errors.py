"""Errors raised by the trace loaders."""
from __future__ import annotations


class TraceError(ValueError):
    """A trace is missing, empty or garbled; the message says where."""
