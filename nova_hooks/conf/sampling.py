"""``[page_sampling]``: backends, cadence and hot/warm/cold thresholds."""
from __future__ import annotations

from oslo_config import cfg
from oslo_config import types

BACKENDS = ("postcopy_trace", "balloon_stats", "dirty_rate", "numa_maps",
            "damon", "idle_page", "soft_dirty")
#: not dirty_rate: QEMU's page-sampling calculation reads sampled guest
#: pages and left the destination QEMU 23 MiB larger on a 192 MiB guest
#: (benchmarks/bench_agent_migration.py)
DEFAULT_BACKENDS = ("postcopy_trace", "balloon_stats", "numa_maps",
                    "damon", "idle_page", "soft_dirty")

GROUP = cfg.OptGroup("page_sampling", title="Page access sampling",
                     help="How the agent watches an incoming guest's "
                          "memory and classes its pages.")

_THRESHOLD_HELP = ("Map of {what} to thresholds 'HOT/WARM/IDLE_S' (access "
                   "rates 0..1 and the idle seconds before cold), e.g. "
                   "{example}. Overrides the defaults below; a hint's own "
                   "thresholds override these.")

OPTS = [
    cfg.ListOpt("backends", default=list(DEFAULT_BACKENDS),
                item_type=types.String(choices=BACKENDS),
                help="Sampling backends to try, in order of precedence "
                     "(stevedore namespace nova_hooks.page_backends). Each "
                     "is probed per guest; unavailable ones say why in "
                     "the log and are skipped. dirty_rate is off by "
                     "default: QEMU's calculation reads sampled guest "
                     "pages, which grows the destination QEMU's RSS."),
    cfg.FloatOpt("interval_s", default=1.0, min=0.1, max=60.0,
                 help="Seconds between sampling rounds in steady state."),
    cfg.FloatOpt("transfer_interval_s", default=0.25, min=0.05, max=10.0,
                 help="Seconds between sampling rounds while the "
                      "migration runs (reaction latency)."),
    cfg.FloatOpt("hot_access_rate", default=0.5, min=0.0, max=1.0,
                 help="Access rate at or above which a page is hot."),
    cfg.FloatOpt("warm_access_rate", default=0.05, min=0.0, max=1.0,
                 help="Access rate at or above which a page is warm."),
    cfg.FloatOpt("cold_min_idle_s", default=30.0, min=0.0,
                 help="Seconds without access before a page is cold."),
    cfg.FloatOpt("write_weight", default=2.0, min=0.0, max=15.0,
                 help="A write counts this many accesses."),
    cfg.FloatOpt("dirty_window_s", default=10.0, min=0.0,
                 help="With only a dirty rate, bytes dirtied in this "
                      "window are the hot set."),
    cfg.DictOpt("vm_type_thresholds", default={},
                help=_THRESHOLD_HELP.format(
                    what="VM type (flavor name)",
                    example="db:0.3/0.02/60,web:0.6/0.1/20")),
    cfg.DictOpt("profile_thresholds", default={},
                help=_THRESHOLD_HELP.format(
                    what="predictor profile id", example="0:0.4/0.05/30")),
    cfg.IntOpt("dirty_rate_calc_s", default=1, min=1, max=60,
               help="Measuring period of QEMU's dirty-rate calculation."),
    cfg.IntOpt("max_regions", default=1000, min=10, max=100000,
               help="Upper bound of DAMON regions (and of idle-page / "
                    "soft-dirty sample ranges): bounds the cost of a "
                    "round."),
    cfg.IntOpt("pages_per_region", default=64, min=1, max=4096,
               help="Pages probed per range by the idle-page and "
                    "soft-dirty backends."),
    cfg.IntOpt("trace_read_max_kib", default=8192, min=64,
               help="Largest slice of the QEMU log the post-copy trace "
                    "backend reads per round."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP.name, OPTS)]
