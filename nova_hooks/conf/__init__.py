"""Configuration options of ``nova-adaptive-agent``, one module per group.

Every option is declared once here (each module's ``GROUP`` and
``OPTS``): :func:`register_opts` registers them on a ``ConfigOpts`` (the
agent's own, never a global), :func:`list_opts` lists them for
``oslo-config-generator`` and the docs (entry point
``oslo.config.opts = nova_hooks``).
"""
from __future__ import annotations

from oslo_config import cfg

from nova_hooks.conf import agent
from nova_hooks.conf import resources
from nova_hooks.conf import sampling

_MODULES = (agent, sampling, resources)


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register every group of the agent on ``conf``, each as a group of
    ``conf``'s own.

    NOTE(wa): ``ConfigOpts.register_group`` keeps a shallow copy of the
    ``OptGroup`` it is given, and an option's value settings
    (``set_override``, ``set_default``) live in that group's dict of
    options.  Registering the module's ``GROUP`` object on every
    ``ConfigOpts`` therefore shared that dict: an override on one conf
    of the process was the value of every other (the action's
    ``rpc_topic`` became the topic of every agent endpoint and client
    made after it in the same process; #18).  A fresh ``OptGroup`` per
    conf keeps each conf's settings its own."""
    for module in _MODULES:
        group = module.GROUP
        conf.register_group(cfg.OptGroup(group.name, title=group.title,
                                         help=group.help))
        conf.register_opts(module.OPTS, group=group.name)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """``[(group name, [options])]`` for the sample-config generator."""
    out: list[tuple[str, list[cfg.Opt]]] = []
    for module in _MODULES:
        out.extend(module.list_opts())
    return out
