"""Options of the ``adaptive_migrate`` Watcher action.

Watcher's applier registers an action's options under
``[watcher_actions.adaptive_migrate]`` from its ``get_config_opts()``;
the action returns :data:`OPTS` from here, so each option is declared
once, and :mod:`.opts` lists the same objects for
``oslo-config-generator``.
"""
from __future__ import annotations

from oslo_config import cfg

GROUP = "watcher_actions.adaptive_migrate"

OPTS = [
    cfg.StrOpt("nova_api_version", default="2.65",
               help="Compute API microversion of the action's novaclient. "
                    "At least 2.25 (block_migration 'auto'); 2.65 lets "
                    "live_migration_abort stop a migration that is still "
                    "queued or preparing, not only a running one."),
    cfg.StrOpt("nova_endpoint_type", default="publicURL",
               choices=["publicURL", "internalURL", "adminURL", "public",
                        "internal", "admin"],
               help="Which Compute endpoint of the catalog to use."),
    cfg.FloatOpt("migration_timeout", default=1800.0, min=1.0,
                 help="Seconds a live migration may take from Nova's "
                      "acceptance; after that the action asks Nova to "
                      "abort it, tells the destination agent, and fails."),
    cfg.FloatOpt("poll_interval", default=5.0, min=0.05,
                 help="Longest wait between two looks at the server and "
                      "its migration record (the first looks come "
                      "sooner)."),
    cfg.FloatOpt("agent_timeout", default=3.0, min=0.1, max=60.0,
                 help="Seconds each message to the destination agent may "
                      "take; an agent that does not answer in time is "
                      "logged and the migration goes on without it."),
    cfg.StrOpt("agent_transport_url", default=None, secret=True,
               help="oslo.messaging transport URL of the destination "
                    "agents; unset: the applier's own transport_url."),
    cfg.StrOpt("agent_rpc_topic", default="nova-adaptive-agent",
               help="RPC topic the agents listen on (their [agent] "
                    "rpc_topic); the server is the destination host "
                    "name."),
    cfg.BoolOpt("record_history", default=True,
                help="Record each migration's outcome in Gnocchi as "
                     "adaptive.migration.* metrics of the instance."),
    cfg.StrOpt("history_archive_policy",
               default="watcher-adaptive-migration",
               help="Archive policy of the adaptive.migration.* metrics; "
                    "the action creates it, and its rule, on its first "
                    "write when missing."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, OPTS)]
