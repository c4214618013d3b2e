"""``[resource_manager]``: balloon and pinning bounds."""
from __future__ import annotations

from oslo_config import cfg

from nova_hooks.core.reclaim import ReclaimPolicy

#: the bounds' defaults are the core policy's (one place)
_RECLAIM = ReclaimPolicy()

GROUP = cfg.OptGroup("resource_manager", title="Resource manager",
                     help="What the agent may change on a guest.")

OPTS = [
    cfg.BoolOpt("balloon_enabled", default=True,
                help="Balloon cold memory out of incoming guests."),
    cfg.IntOpt("balloon_floor_mib", default=256, min=0,
               help="Never balloon a guest below this."),
    cfg.IntOpt("balloon_headroom_mib", default=64, min=0,
               help="Kept on top of hot + warm and of the guest's need."),
    cfg.FloatOpt("balloon_headroom_ratio", default=0.1, min=0.0, max=10.0,
                 help="Headroom as a share of hot + warm; the larger "
                      "headroom applies."),
    cfg.IntOpt("balloon_max_step_mib", default=128, min=1,
               help="Largest single shrink step."),
    cfg.IntOpt("balloon_min_change_mib", default=16, min=0,
               help="Smaller balloon changes are not made."),
    cfg.BoolOpt("balloon_require_guest_need", default=True,
                help="Never shrink a guest whose memory stats are "
                     "unknown."),
    cfg.BoolOpt("balloon_during_postcopy", default=False,
                help="While post-copy runs, balloon through the guest's "
                     "second QMP monitor when it has one (else the change "
                     "waits for completion). Off by default: QEMU does "
                     "not discard ballooned pages during incoming "
                     "post-copy, so the change frees nothing on the "
                     "destination before completion (measured: the "
                     "destination ended with more resident)."),
    cfg.FloatOpt("rebalance_interval_s", default=10.0, min=0.0,
                 help="Least time between two balloon decisions for one "
                      "guest; sampling re-plans more often, the balloon "
                      "moves at most this often (the guest needs time to "
                      "give pages back)."),
    cfg.IntOpt("memory_stats_period_s", default=2, min=0, max=3600,
               help="While the agent manages a guest (after its migration "
                    "completed), the balloon driver reports its memory "
                    "statistics at least this often; the guest's own "
                    "period is put back when the agent lets go. 0: leave "
                    "the period alone (Nova sets [libvirt] "
                    "mem_stats_period_seconds, 10 by default)."),
    cfg.BoolOpt("reclaim_enabled", default=False,
                help="While post-copy runs, page cold guest RAM of an "
                     "incoming guest out to the host's swap "
                     "(process_madvise MADV_PAGEOUT on QEMU's guest-RAM "
                     "mapping; needs Linux >= 5.10, root, and swap or "
                     "zswap). Only pages outside the hot and warm ranges "
                     "a sampling backend located (postcopy_trace during "
                     "post-copy), never below hot + warm + headroom; "
                     "asked back (MADV_WILLNEED) if the migration fails. "
                     "Off by default: the pages the guest touches again "
                     "come back from swap."),
    cfg.FloatOpt("reclaim_quota_mib_per_s",
                 default=_RECLAIM.quota_bytes_per_s / (1 << 20), min=0.0,
                 help="At most this much guest RAM paged out per second."),
    cfg.FloatOpt("reclaim_headroom_mib",
                 default=_RECLAIM.headroom_bytes / (1 << 20), min=0.0,
                 help="Kept resident on top of the hot and warm sets."),
    cfg.FloatOpt("reclaim_free_high_pct", default=_RECLAIM.free_high_pct,
                 min=0.0, max=100.0,
                 help="No reclaim while the host's free memory is above "
                      "this share (100: whenever post-copy runs)."),
    cfg.FloatOpt("reclaim_free_low_pct", default=_RECLAIM.free_low_pct,
                 min=0.0, max=100.0,
                 help="No reclaim while the host's free memory is below "
                      "this share (the kernel's own reclaim is at work)."),
    cfg.BoolOpt("pinning_enabled", default=True,
                help="Move vCPU and emulator affinity toward the NUMA "
                     "node holding the hot memory."),
    cfg.StrOpt("guest_cpus", default="",
               help="Host CPUs guests may run on, e.g. '2-7,10' (empty: "
                    "all), like Nova's cpu_shared_set."),
    cfg.StrOpt("emulator_cpus", default="",
               help="Host CPUs for QEMU's emulator threads (empty: with "
                    "the vCPUs)."),
    cfg.FloatOpt("min_hot_share", default=0.6, min=0.0, max=1.0,
                 help="Follow the hot set only when this share of it is "
                      "on one node."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP.name, OPTS)]
