"""Option listing for ``oslo-config-generator`` and the docs.

The foundation registers no service options yet; the strategy, collector
and agent groups are added here as those components land.
"""
from __future__ import annotations

from oslo_config import cfg


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """``[(group name, [options])]`` for the sample-config generator."""
    return []
