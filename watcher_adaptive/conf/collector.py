"""Options of ``watcher-adaptive-collector``, the host-side half of the
behavioural profiler (``[profiler_collector]``, and the Keystone
options of its Gnocchi client under ``[profiler_collector_auth]``)."""
from __future__ import annotations

from oslo_config import cfg

from watcher_adaptive.adapters import keystone

GROUP = "profiler_collector"
AUTH_GROUP = "profiler_collector_auth"

OPTS = [
    cfg.StrOpt("channel", default="qemu-ga", choices=[
        ("qemu-ga", "read the guest agent's record file through the QEMU "
                    "guest agent Nova sets up for images with "
                    "hw_qemu_guest_agent=yes (needs libvirt-python)"),
        ("socket", "listen on one Unix socket per guest in socket_dir "
                   "(tests and non-libvirt setups)")],
        help="How profile records come out of the guests."),
    cfg.StrOpt("guest_discovery", default="libvirt", choices=[
        ("libvirt", "every running domain of libvirt_uri (the domain "
                    "UUID is the Nova instance UUID)"),
        ("static", "the instance UUIDs listed in 'guests'")],
        help="Which guests the collector serves."),
    cfg.ListOpt("guests", default=[],
                help="Instance UUIDs for guest_discovery = static."),
    cfg.StrOpt("libvirt_uri", default="qemu:///system",
               help="libvirt connection for discovery and the qemu-ga "
                    "channel."),
    cfg.StrOpt("socket_dir", default="/var/lib/watcher-adaptive/channels",
               help="Directory of the per-guest sockets "
                    "(<instance uuid>.sock) for channel = socket."),
    cfg.StrOpt("guest_file_path",
               default="/var/lib/watcher-adaptive/profile.jsonl",
               help="Where the guest agent keeps its latest records "
                    "(channel = qemu-ga)."),
    cfg.IntOpt("poll_interval", default=30, min=1,
               help="Seconds between reads of each guest's record file, "
                    "and between guest discoveries."),
    cfg.IntOpt("agent_timeout", default=5, min=1, max=60,
               help="Seconds a qemu-ga command may take before the guest "
                    "is skipped for this round."),
    cfg.FloatOpt("records_per_minute", default=6.0, min=0.01,
                 help="Records each guest may send per minute on average; "
                      "more are refused and counted (rate_limited)."),
    cfg.IntOpt("burst", default=4, min=1,
               help="Records a guest may send at once after a quiet "
                    "period."),
    cfg.IntOpt("max_record_bytes", default=4096, min=256, max=65536,
               help="Longest record line accepted."),
    cfg.IntOpt("max_future_skew", default=60, min=0,
               help="Seconds a record's timestamp may be ahead of the "
                    "host's clock."),
    cfg.IntOpt("max_record_age", default=3600, min=60,
               help="Records older than this many seconds are refused "
                    "(stale)."),
    cfg.StrOpt("spool_path",
               default="/var/lib/watcher-adaptive/profile-spool.sqlite",
               help="On-disk queue of accepted records not yet in "
                    "Gnocchi."),
    cfg.IntOpt("spool_max_records", default=200000, min=1,
               help="Records kept while Gnocchi is unreachable; beyond "
                    "this the oldest are dropped and counted as lost."),
    cfg.IntOpt("batch_size", default=500, min=1, max=10000,
               help="Records per Gnocchi batch request."),
    cfg.FloatOpt("flush_interval", default=10.0, min=0.1,
                 help="Seconds between pushes to Gnocchi."),
    cfg.FloatOpt("max_backoff", default=300.0, min=1.0,
                 help="Longest wait between retries while Gnocchi is "
                      "down."),
    cfg.IntOpt("unknown_instance_retry", default=300, min=1,
               help="Seconds before records of an instance Gnocchi does "
                    "not know yet are offered again."),
    cfg.StrOpt("archive_policy", default="watcher-adaptive-profile",
               help="Archive policy of the adaptive.* metrics "
                    "(`watcher-adaptive profiler-setup` creates it)."),
    cfg.StrOpt("gnocchi_auth", default="keystone", choices=[
        ("keystone", f"Keystone, from the [{AUTH_GROUP}] options"),
        ("basic", "Gnocchi's basic auth (gnocchi_endpoint, "
                  "gnocchi_user)")],
        help="How to authenticate to Gnocchi."),
    cfg.URIOpt("gnocchi_endpoint", default="http://127.0.0.1:8041",
               help="Gnocchi endpoint for gnocchi_auth = basic."),
    cfg.StrOpt("gnocchi_user", default="admin",
               help="User for gnocchi_auth = basic."),
    cfg.PortOpt("metrics_port", default=0,
                help="Port of the /metrics endpoint exposing each guest's "
                     "latest validated profile as adaptive_* gauges "
                     "labelled by instance uuid, for a Prometheus to "
                     "scrape (clouds whose strategy reads Prometheus or "
                     "Aetos). 0: no endpoint."),
    cfg.HostAddressOpt("metrics_host", default="127.0.0.1",
                       help="Address the /metrics endpoint listens on "
                            "(the Prometheus server must reach it)."),
    cfg.StrOpt("metrics_instance_label", default="resource",
               help="Label holding the instance uuid on the exposed "
                    "series: Watcher's [prometheus_client] / "
                    "[aetos_client] instance_uuid_label."),
    cfg.StrOpt("status_path",
               default="/var/lib/watcher-adaptive/collector-status.json",
               help="JSON status (per-guest counters, spool depth, "
                    "losses) rewritten every status_interval seconds."),
    cfg.FloatOpt("status_interval", default=10.0, min=0.1,
                 help="Seconds between status writes and log lines."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
    keystone.register_opts(conf, AUTH_GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, OPTS), *keystone.list_opts(AUTH_GROUP)]
