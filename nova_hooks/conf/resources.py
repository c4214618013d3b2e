"""``[resource_manager]``: balloon and pinning bounds."""
from __future__ import annotations

from oslo_config import cfg

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
