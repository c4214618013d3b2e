"""Load watcher-adaptive's plug-ins with Watcher's own loaders.

Run it with the Python of Watcher's virtualenv, from outside the
checkout, after installing the package there::

    cd /tmp && /opt/watcher/bin/python /path/to/check_watcher_plugins.py

It prints one JSON line: the plug-ins' names, the files their modules
were loaded from and the distribution their entry points belong to (so
that a copy on the path other than the installed one shows), and exits
non-zero with a traceback when Watcher cannot load either.
"""
import json
import sys
from importlib import metadata

from oslo_config import cfg

cfg.CONF([], project="watcher", default_config_files=[])

from watcher.applier.loading import default as applier  # noqa: E402
from watcher.decision_engine.loading import default as engine  # noqa: E402

import watcher_adaptive  # noqa: E402

strategy = engine.DefaultStrategyLoader().load("adaptive_migration")
action = applier.DefaultActionLoader().load("adaptive_migrate")


def dist_of(group: str, name: str) -> str:
    for ep in metadata.entry_points(group=group, name=name):
        return str(ep.dist.locate_file(""))
    return ""


print(json.dumps({
    "names": [strategy.get_name(), action.get_name()],
    "strategy": sys.modules[type(strategy).__module__].__file__,
    "action": sys.modules[type(action).__module__].__file__,
    "package": watcher_adaptive.__file__,
    "strategy_dist": dist_of("watcher_strategies", "adaptive_migration"),
    "action_dist": dist_of("watcher_actions", "adaptive_migrate"),
}, indent=1))
