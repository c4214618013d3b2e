"""Configuration options of ``nova-adaptive-agent``, one module per group.

Every option is declared once here: :func:`register_opts` registers them
on a ``ConfigOpts`` (the agent's own, never a global), :func:`list_opts`
lists them for ``oslo-config-generator`` and the docs (entry point
``oslo.config.opts = nova_hooks``).
"""
from __future__ import annotations

from oslo_config import cfg

from nova_hooks.conf import agent
from nova_hooks.conf import resources
from nova_hooks.conf import sampling

_MODULES = (agent, sampling, resources)


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register every group of the agent on ``conf``."""
    for module in _MODULES:
        module.register_opts(conf)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """``[(group name, [options])]`` for the sample-config generator."""
    out: list[tuple[str, list[cfg.Opt]]] = []
    for module in _MODULES:
        out.extend(module.list_opts())
    return out
