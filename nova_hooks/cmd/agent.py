"""``nova-adaptive-agent``: the destination-host agent.

Runs on each compute host (oslo.config, oslo.log)::

    nova-adaptive-agent --config-file /etc/nova/nova-adaptive-agent.conf

Follows libvirt's lifecycle events of this host; for each incoming live
migration it shapes the guest's affinity and balloon while post-copy
runs, re-applies through libvirt at completion, and restores on failure.
On start it restores every session the journal shows open.
"""
from __future__ import annotations

import signal
import sys
import threading
from typing import Optional
from typing import Sequence

from oslo_config import cfg
from oslo_log import log as logging

from nova_hooks import conf as agent_conf
from nova_hooks.core import lifecycle
from nova_hooks.core.types import BalloonPolicy
from nova_hooks.core.types import PinningPolicy

LOG = logging.getLogger(__name__)


def policies(conf: cfg.ConfigOpts) -> tuple[PinningPolicy, BalloonPolicy]:
    from nova_hooks.agent.host import parse_cpu_list

    rm = conf.resource_manager
    mib = 1024
    return (PinningPolicy(guest_cpus=parse_cpu_list(rm.guest_cpus),
                          emulator_cpus=parse_cpu_list(rm.emulator_cpus),
                          min_hot_share=rm.min_hot_share),
            BalloonPolicy(floor_kib=rm.balloon_floor_mib * mib,
                          headroom_kib=rm.balloon_headroom_mib * mib,
                          headroom_ratio=rm.balloon_headroom_ratio,
                          max_step_kib=rm.balloon_max_step_mib * mib,
                          min_change_kib=rm.balloon_min_change_mib * mib,
                          require_guest_need=rm.balloon_require_guest_need))


def run(conf: cfg.ConfigOpts, stop: threading.Event) -> int:
    import libvirt

    from nova_hooks.agent import events
    from nova_hooks.agent.host import LibvirtHost
    from nova_hooks.agent.journal import Journal
    from nova_hooks.agent.manager import Manager

    opts = conf.agent
    events.start_event_loop()
    conn = libvirt.open(opts.libvirt_uri)
    conn.setKeepAlive(5, 3)
    host = LibvirtHost(conn, opts.qemu_run_dir, opts.proc_root,
                       opts.sys_root, opts.second_monitor_socket)
    pin_policy, balloon_policy = policies(conf)
    rm = conf.resource_manager
    manager = Manager(host, Journal(opts.journal_path), pin_policy,
                      balloon_policy, opts.max_concurrent_migrations,
                      dry_run=opts.dry_run,
                      balloon_enabled=rm.balloon_enabled,
                      pinning_enabled=rm.pinning_enabled,
                      balloon_during_postcopy=rm.balloon_during_postcopy)
    if opts.restore_on_start:
        restored = manager.restore_open_sessions()
        if restored:
            LOG.warning("restored %d guest(s) left open by a previous run: "
                        "%s", len(restored), ", ".join(restored))

    def handle(uuid: str, sig: lifecycle.Signal) -> None:
        manager.signal(uuid, sig)
        if sig is lifecycle.Signal.COMPLETED:
            timer = threading.Timer(opts.steady_manage_s, manager.release,
                                    (uuid,))
            timer.daemon = True
            timer.start()

    pump = events.EventPump(conn, handle)
    server = None
    if opts.rpc_enabled:
        from nova_hooks.agent import rpc
        server = rpc.make_server(conf, rpc.AgentEndpoint(manager.prepare,
                                                         pump.inject))
        server.start()
        LOG.info("RPC endpoint: topic %s, server %s", opts.rpc_topic,
                 opts.host)
    LOG.info("nova-adaptive-agent up on %s (journal %s%s)", opts.libvirt_uri,
             opts.journal_path, ", dry run" if opts.dry_run else "")
    try:
        while not stop.wait(1.0):
            if not conn.isAlive():
                LOG.error("libvirt connection to %s lost", opts.libvirt_uri)
                return 1
    finally:
        if server is not None:
            server.stop()
            server.wait()
        pump.close()
        try:
            conn.close()
        except libvirt.libvirtError:
            pass
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    conf = cfg.ConfigOpts()
    logging.register_options(conf)
    agent_conf.register_opts(conf)
    conf(args=list(sys.argv[1:] if argv is None else argv),
         project="nova", prog="nova-adaptive-agent")
    logging.setup(conf, "nova-adaptive-agent")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        return run(conf, stop)
    except ImportError as exc:
        LOG.error("%s: nova-adaptive-agent needs libvirt-python (pip "
                  "install 'watcher-adaptive[host-agent]')", exc)
        return 2
    except ValueError as exc:
        LOG.error("bad configuration: %s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
