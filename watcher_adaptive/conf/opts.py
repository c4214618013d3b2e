"""Option listing for ``oslo-config-generator`` and the docs.

Each group's module declares its options once; this module only
collects them.
"""
from __future__ import annotations

from oslo_config import cfg

from watcher_adaptive.conf import action
from watcher_adaptive.conf import strategy


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """``[(group name, [options])]`` for the sample-config generator."""
    return [*strategy.list_opts(), *action.list_opts()]
