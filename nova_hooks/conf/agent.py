"""``[agent]``: connection, journal, safety and integration switches."""
from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("agent", title="Destination-host agent",
                     help="The nova-adaptive-agent service.")

OPTS = [
    cfg.StrOpt("libvirt_uri", default="qemu:///system",
               help="libvirt connection URI of this host."),
    cfg.HostAddressOpt("host", default="localhost",
                       sample_default="<the host name>",
                       help="Name of this host as Nova knows it: the RPC "
                            "server name and the notification filter."),
    cfg.StrOpt("journal_path",
               default="/var/lib/nova-adaptive-agent/journal.jsonl",
               help="Append-only journal (JSON lines). Every change is "
                    "written and fsync'ed here before it is made; the "
                    "agent refuses to act when it cannot write it."),
    cfg.IntOpt("journal_max_mib", default=64, min=0,
               help="Past this size the journal is rotated when a session "
                    "closes: the full file is kept as <journal_path>.1 "
                    "and the journal starts again with the sessions still "
                    "open (0: never rotate; the file and the agent's "
                    "memory then grow without bound)."),
    cfg.BoolOpt("dry_run", default=False,
                help="Sample, plan and journal, but change nothing."),
    cfg.IntOpt("max_concurrent_migrations", default=2, min=1, max=64,
               help="Incoming migrations shaped at once on this host; "
                    "more are left alone (journaled as skipped)."),
    cfg.StrOpt("guests", default="nova",
               choices=[("nova", "Nova's instances only: domains whose "
                                 "XML carries Nova's instance metadata"),
                        ("all", "every incoming guest")],
               help="Which incoming guests the agent shapes. Domains "
                    "on the host that Nova does not own (another "
                    "tool's, a test's) are left alone by default."),
    cfg.BoolOpt("restore_on_start", default=True,
                help="On start, restore every guest whose session the "
                     "journal shows open (the agent died while shaping)."),
    cfg.FloatOpt("steady_manage_s", default=300.0, min=0.0,
                 help="Seconds the agent keeps adjusting a guest after its "
                      "migration completed before letting go."),
    cfg.StrOpt("qemu_run_dir", default="/run/libvirt/qemu",
               help="Where libvirt keeps <name>.pid of each QEMU (and "
                    "where the second QMP monitor socket is)."),
    cfg.StrOpt("qemu_log_dir", default="/var/log/libvirt/qemu",
               help="Where libvirt writes <name>.log (QEMU trace output "
                    "for the post-copy fault backend)."),
    cfg.StrOpt("second_monitor_socket", default="{run_dir}/{name}.qmp2",
               help="Path pattern of the guest's optional second QMP "
                    "monitor ({run_dir}, {name}, {uuid}); used for the "
                    "balloon while libvirt's job is held."),
    cfg.StrOpt("hook_marker_dir", default="/run/nova-adaptive-agent",
               help="Directory where the libvirt qemu hook leaves its "
                    "'migrate begin' markers."),
    cfg.StrOpt("proc_root", default="/proc",
               help="procfs mount (tests point it at a fixture tree)."),
    cfg.StrOpt("sys_root", default="/sys",
               help="sysfs mount (tests point it at a fixture tree)."),
    cfg.BoolOpt("rpc_enabled", default=False,
                help="Serve the prepare/started/completed/aborted RPC "
                     "endpoint (needs [DEFAULT] transport_url)."),
    cfg.StrOpt("rpc_topic", default="nova-adaptive-agent",
               help="RPC topic; the server name is [agent] host."),
    cfg.BoolOpt("notifications_enabled", default=False,
                help="Listen to Nova's versioned notifications "
                     "(instance.live_migration_pre/post_dest/"
                     "rollback_dest) for context."),
    cfg.StrOpt("notifications_topic", default="versioned_notifications",
               help="Topic of Nova's versioned notifications."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP.name, OPTS)]
