"""Replay strategies by name, through stevedore entry points.

A ``--strategies`` entry reads ``name[:param][@audit_interval_s]``, e.g.
``lr-mmt:1.1``, ``watcher:vm_workload_consolidation@1800``.  ``name`` is
an entry point in the ``watcher_adaptive.replay_strategies`` namespace;
the class builds itself from ``param`` (:meth:`ReplayStrategy.from_spec`).
"""
from __future__ import annotations

import re
from typing import Optional

from stevedore import extension

from watcher_adaptive.exceptions import UnknownStrategy
from watcher_adaptive.replay import api

NAMESPACE = "watcher_adaptive.replay_strategies"
_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?::(?P<param>[^@]*))?"
                   r"(?:@(?P<interval>[0-9]+(?:\.[0-9]+)?))?$")


def parse_spec(spec: str) -> tuple[str, Optional[str], Optional[float]]:
    """Split ``name[:param][@interval]``.

    :raises ValueError: on a malformed entry.
    """
    match = _SPEC.match(spec.strip())
    if not match:
        raise ValueError(f"bad strategy entry {spec!r}: expected "
                         "name[:param][@audit_interval_seconds]")
    interval = match.group("interval")
    if interval is not None and float(interval) <= 0:
        raise ValueError(f"{spec!r}: the audit interval must be positive")
    return (match.group("name"), match.group("param") or None,
            float(interval) if interval is not None else None)


def available() -> dict[str, type]:
    """Installed strategy classes by entry-point name."""
    mgr = extension.ExtensionManager(NAMESPACE, invoke_on_load=False,
                                     on_load_failure_callback=_skip)
    return {ext.name: ext.plugin for ext in mgr}


def _skip(manager, entrypoint, exc) -> None:  # noqa: ANN001 - stevedore API
    # a plugin whose import fails is simply not offered
    return None


def build_strategies(specs: str) -> list[api.ReplayStrategy]:
    """Strategies for a comma-separated ``--strategies`` value.

    :raises watcher_adaptive.exceptions.UnknownStrategy: for a name no
        entry point provides.
    :raises ValueError: for a malformed entry or a bad parameter.
    """
    classes = available()
    out: list[api.ReplayStrategy] = []
    for spec in (s for s in specs.split(",") if s.strip()):
        name, param, interval = parse_spec(spec)
        if name not in classes:
            raise UnknownStrategy(
                f"unknown strategy {name!r}; available: "
                f"{', '.join(sorted(classes)) or 'none installed'}")
        strategy = classes[name].from_spec(param)
        if interval is not None:
            strategy.audit_interval_s = interval
        out.append(strategy)
    if not out:
        raise ValueError("no strategy given")
    names = [s.name for s in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"strategy listed twice: {', '.join(sorted(dup))}")
    return out
