"""``watcher-adaptive-collector``: the profiler's host collector.

Runs on each compute host (oslo.config, oslo.log)::

    watcher-adaptive-collector --config-file /etc/watcher-adaptive/c.conf

Stops cleanly on SIGTERM/SIGINT: the flusher makes a last push and
whatever Gnocchi does not take stays in the spool for the next start.
"""
from __future__ import annotations

import logging as std_logging
import os
import signal
import sys
import time
from typing import Optional
from typing import Sequence

from oslo_config import cfg
from oslo_log import log as logging

from nova_hooks.cmd import config_check
from watcher_adaptive.conf import collector as conf_collector
from watcher_adaptive.profiler import channels
from watcher_adaptive.profiler import collector as C
from watcher_adaptive.profiler import exposition as E
from watcher_adaptive.profiler import gate as G
from watcher_adaptive.profiler import sink as S
from watcher_adaptive.profiler.spool import Spool

LOG = logging.getLogger(__name__)


def gnocchi_client(conf: cfg.ConfigOpts):
    """A gnocchiclient from ``[profiler_collector]`` (basic) or
    ``[profiler_collector_auth]`` (Keystone), through
    :mod:`watcher_adaptive.adapters.keystone`.

    :raises InvalidData: (a ``ValueError``) Keystone chosen but its
        options incomplete.
    """
    from watcher_adaptive.adapters import keystone

    opts = conf.profiler_collector
    if opts.gnocchi_auth == keystone.BASIC:
        return keystone.gnocchi_client(keystone.basic_session(
            opts.gnocchi_endpoint, opts.gnocchi_user))
    return keystone.gnocchi_client(keystone.keystone_session(
        conf, conf_collector.AUTH_GROUP))


def _policy(opts) -> G.GatePolicy:
    return G.GatePolicy(records_per_minute=opts.records_per_minute,
                        burst=opts.burst, max_bytes=opts.max_record_bytes,
                        max_future_s=opts.max_future_skew,
                        max_age_s=opts.max_record_age,
                        rereads=opts.channel == "qemu-ga")


class _Libvirt:
    """Running domains of one libvirt connection (imported lazily: only
    the host-agent extra installs libvirt-python)."""

    def __init__(self, uri: str) -> None:
        import libvirt
        import libvirt_qemu

        self.conn = libvirt.open(uri)

        def agent_command(domain, command: str, timeout_s: int) -> str:
            return libvirt_qemu.qemuAgentCommand(domain, command,
                                                 timeout_s, 0)

        self.agent_command = agent_command

    def domains(self) -> dict[str, object]:
        import libvirt

        return {d.UUIDString(): d for d in self.conn.listAllDomains(
            libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)}


def run(conf: cfg.ConfigOpts, stop: list) -> int:
    opts = conf.profiler_collector
    for path in (opts.spool_path, opts.status_path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    spool = Spool(opts.spool_path, opts.spool_max_records)
    exposition = server = None
    if opts.metrics_port:
        from watcher_adaptive.adapters import prometheus

        # a bad label name stops the start (exit 2), not every scrape
        prometheus.label_name(opts.metrics_instance_label)
        exposition = E.ProfileExposition(opts.metrics_instance_label,
                                         opts.max_record_age)
        server = E.serve(exposition, opts.metrics_host, opts.metrics_port)
        LOG.info("profiles exposed on http://%s:%d/metrics",
                 opts.metrics_host, server.server_port)
    collector = C.Collector(spool, _policy(opts), exposition=exposition)
    flusher = C.Flusher(opts.spool_path, opts.spool_max_records,
                        S.GnocchiProfileSink(gnocchi_client(conf),
                                             opts.archive_policy),
                        opts.batch_size, opts.flush_interval,
                        opts.max_backoff, opts.unknown_instance_retry)
    virt = _Libvirt(opts.libvirt_uri) if (
        opts.guest_discovery == "libvirt" or opts.channel == "qemu-ga") \
        else None

    def guests() -> dict[str, object]:
        if opts.guest_discovery == "static":
            return {channels.checked_uuid(g): None for g in opts.guests}
        return virt.domains()

    if opts.channel == "socket":
        channel = channels.SocketChannel(collector, opts.socket_dir,
                                         opts.max_record_bytes)
    else:
        channel = channels.QemuAgentChannel(
            collector, opts.guest_file_path, opts.agent_timeout,
            opts.max_record_bytes * 16, virt.agent_command)
    flusher.start()
    LOG.info("collector up: channel %s, discovery %s, spool %s (%d "
             "waiting)", opts.channel, opts.guest_discovery,
             opts.spool_path, spool.depth())
    next_discovery = next_status = 0.0
    known: dict[str, object] = {}
    try:
        while not stop:
            now = time.monotonic()
            if now >= next_discovery:
                known = guests()
                if opts.channel == "socket":
                    channel.sync_guests(known)
                else:
                    channel.poll(known)
                next_discovery = now + opts.poll_interval
            if opts.channel == "socket":
                channel.serve_once(0.2)
            else:
                time.sleep(0.2)
            if now >= next_status:
                doc = C.status(collector, flusher)
                C.write_status(opts.status_path, doc)
                LOG.info("profiles: %d guest(s), totals %s, spooled %d, "
                         "lost %s (+%d refused by the spool), pushed %d",
                         len(doc["guests"]), doc["totals"],
                         doc["spool_depth"], doc["lost"],
                         doc["lost_spool_refused"], doc["pushed"])
                next_status = now + opts.status_interval
    finally:
        channel.close()
        flusher.stop_event.set()
        flusher.join(timeout=60)
        C.write_status(opts.status_path, C.status(collector, flusher))
        spool.close()
        if server is not None:
            server.shutdown()
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    conf = cfg.ConfigOpts()
    logging.register_options(conf)
    conf_collector.register(conf)
    error = config_check.load(
        conf, argv, project="watcher-adaptive",
        prog="watcher-adaptive-collector",
        description="The guest profiler's host collector: reads the "
                    "records of the guest agents on this host, checks "
                    "them, spools them and pushes them to Gnocchi.",
        epilog="example: watcher-adaptive-collector --config-file "
               "/etc/watcher-adaptive/collector.conf (the options are in "
               "the [profiler_collector] section; see the configuration "
               "reference)")
    if error:
        print(error, file=sys.stderr)
        return 2
    logging.setup(conf, "watcher-adaptive")
    # every option at debug level; oslo.config masks the secret ones
    conf.log_opt_values(LOG, std_logging.DEBUG)
    stop: list = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(True))
    try:
        return run(conf, stop)
    except ImportError as exc:
        LOG.error("%s: the qemu-ga channel and libvirt discovery need "
                  "libvirt-python (pip install 'watcher-adaptive"
                  "[host-agent]')", exc)
        return 2
    except ValueError as exc:
        LOG.error("bad configuration: %s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
