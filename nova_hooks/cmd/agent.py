"""``nova-adaptive-agent``: the destination-host agent.

Runs on each compute host (oslo.config, oslo.log)::

    nova-adaptive-agent --config-file /etc/nova/nova-adaptive-agent.conf

Follows libvirt's lifecycle events of this host; for each incoming live
migration it samples the guest's page accesses (the backends of
``[page_sampling]``), shapes its affinity and balloon while post-copy
runs, re-applies through libvirt at completion, and restores on failure.
On start it restores every session the journal shows open.  When the
connection to libvirtd drops it reconnects (the journal and the open
sessions stay) and re-registers for events.  This module parses the
configuration and builds the parts; the wiring of events, timers and
messaging is :class:`nova_hooks.agent.service.AgentService`.
"""
from __future__ import annotations

import logging as std_logging
import signal
import sys
import threading
from typing import Optional
from typing import Sequence

from oslo_config import cfg
from oslo_log import log as logging

from nova_hooks import conf as agent_conf
from nova_hooks.cmd import config_check
from nova_hooks.core import classify
from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.reclaim import ReclaimPolicy
from nova_hooks.core.settings import AgentPolicy
from nova_hooks.core.settings import SessionPolicy
from nova_hooks.core.types import BalloonPolicy
from nova_hooks.core.types import PinningPolicy
from nova_hooks.core.types import Thresholds

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


def agent_policy(conf: cfg.ConfigOpts) -> AgentPolicy:
    """What the agent may do and how often, from ``[agent]``,
    ``[resource_manager]`` and ``[page_sampling]``."""
    pin_policy, balloon_policy = policies(conf)
    rm, ps = conf.resource_manager, conf.page_sampling
    return AgentPolicy(
        pinning=pin_policy, balloon=balloon_policy,
        sessions=SessionPolicy(conf.agent.max_concurrent_migrations,
                               nova_only=conf.agent.guests == "nova"),
        balloon_enabled=rm.balloon_enabled,
        pinning_enabled=rm.pinning_enabled,
        balloon_during_postcopy=rm.balloon_during_postcopy,
        interval_s=ps.interval_s,
        transfer_interval_s=ps.transfer_interval_s,
        rebalance_interval_s=rm.rebalance_interval_s,
        stats_period_s=rm.memory_stats_period_s,
        reclaim=reclaim_policy(conf))


def reclaim_policy(conf: cfg.ConfigOpts) -> Optional[ReclaimPolicy]:
    """The bounds of cold-page reclaim from ``[resource_manager]``
    (``None``: off); watermarks the wrong way round stop the agent at
    start with the policy's message."""
    rm = conf.resource_manager
    if not rm.reclaim_enabled:
        return None
    return ReclaimPolicy(
        quota_bytes_per_s=int(rm.reclaim_quota_mib_per_s * (1 << 20)),
        headroom_bytes=int(rm.reclaim_headroom_mib * (1 << 20)),
        free_high_pct=rm.reclaim_free_high_pct,
        free_low_pct=rm.reclaim_free_low_pct)


def thresholds_resolver(conf: cfg.ConfigOpts):
    """``hint -> Thresholds``: the configured defaults, per VM type and
    per profile (parsed once: a malformed entry stops the agent at
    start with its name), then the hint's own overrides."""
    from nova_hooks.agent.sampler import parse_threshold_map

    ps = conf.page_sampling
    default = Thresholds(hot_access_rate=ps.hot_access_rate,
                         warm_access_rate=ps.warm_access_rate,
                         cold_min_idle_s=ps.cold_min_idle_s,
                         write_weight=ps.write_weight,
                         dirty_window_s=ps.dirty_window_s)
    by_type = parse_threshold_map(ps.vm_type_thresholds, default)
    by_profile = parse_threshold_map(ps.profile_thresholds, default)

    def resolve(hint: Optional[MigrationHint]) -> Thresholds:
        if hint is None:
            return default
        return classify.resolve_thresholds(
            default, by_type, by_profile, hint.vm_type, hint.profile_id,
            hint.thresholds.overrides() if hint.thresholds else ())
    return resolve


def _connect(conf: cfg.ConfigOpts, stop: threading.Event,
             first: bool):
    """A connection to libvirtd; after the first, retried until it
    answers or the agent stops."""
    import libvirt

    delay = 1.0
    while True:
        try:
            conn = libvirt.open(conf.agent.libvirt_uri)
            try:
                # a dead remote libvirtd is noticed within ~20 s
                conn.setKeepAlive(5, 3)
            except libvirt.libvirtError as exc:
                LOG.debug("no keepalive on %s: %s", conf.agent.libvirt_uri,
                          exc)      # local drivers have none
            return conn
        except libvirt.libvirtError as exc:
            if first:
                raise
            LOG.warning("libvirt at %s not reachable (%s); retrying in "
                        "%.0f s", conf.agent.libvirt_uri, exc, delay)
        if stop.wait(delay):
            return None
        delay = min(delay * 2, 30.0)


def sampling_backends(conf: cfg.ConfigOpts, host) -> tuple:
    """The ``[page_sampling] backends`` that can run on this host (why
    each other one cannot is logged)."""
    from nova_hooks.agent import backends as page_backends

    loaded, missing = page_backends.load(conf.page_sampling.backends, host,
                                         conf)
    for name, why in missing.items():
        LOG.warning("sampling backend %s not available: %s", name, why)
    LOG.info("sampling backends: %s",
             ", ".join(b.name for b in loaded) or "none")
    return tuple(loaded)


def build(conf: cfg.ConfigOpts, stop: threading.Event):
    """The agent's parts, connected to libvirtd, with the sessions an
    earlier run left open restored (``restore_on_start``)."""
    from nova_hooks.agent import events
    from nova_hooks.agent import markers
    from nova_hooks.agent.host import LibvirtHost
    from nova_hooks.agent.journal import Journal
    from nova_hooks.agent.manager import Manager
    from nova_hooks.agent.service import AgentService

    opts = conf.agent
    events.start_event_loop()
    host = LibvirtHost(_connect(conf, stop, first=True), opts.qemu_run_dir,
                       opts.proc_root, opts.sys_root,
                       opts.second_monitor_socket)
    journal = Journal(opts.journal_path,
                      max_bytes=opts.journal_max_mib * 1024 * 1024)
    manager = Manager(host, journal, agent_policy(conf),
                      dry_run=opts.dry_run,
                      backends=sampling_backends(conf, host),
                      thresholds_for=thresholds_resolver(conf))
    if opts.restore_on_start:
        restored = manager.restore_open_sessions()
        if restored:
            LOG.warning("restored %d guest(s) left open by a previous run: "
                        "%s", len(restored), ", ".join(restored))
    markers.sweep(opts.hook_marker_dir)
    return AgentService(conf, manager, host)


def run(conf: cfg.ConfigOpts, stop: threading.Event) -> int:
    """Until ``stop``: the agent's parts built, started and served."""
    service = build(conf, stop)
    try:
        service.serve(stop, lambda: _connect(conf, stop, first=False),
                      service.start())
    finally:
        service.close()
    return 0


def _register_transport_opts(conf: cfg.ConfigOpts) -> None:
    """oslo.messaging's [DEFAULT] options (transport_url, ...), which it
    would register only when the first transport is made: registered
    before the options are logged, so they are logged (masked) too."""
    try:
        from oslo_messaging import opts as messaging_opts
    except ImportError:
        return
    for group, opts in messaging_opts.list_opts():
        if group is None or group == "DEFAULT":
            for opt in opts:
                try:
                    conf.register_opt(opt)
                except cfg.DuplicateOptError:
                    pass


def main(argv: Optional[Sequence[str]] = None) -> int:
    conf = cfg.ConfigOpts()
    logging.register_options(conf)
    agent_conf.register_opts(conf)
    error = config_check.load(
        conf, argv, project="nova", prog="nova-adaptive-agent",
        description="The destination-host agent of watcher-adaptive: "
                    "follows libvirt's events on this host and shapes "
                    "each incoming live-migrated guest (affinity, "
                    "balloon) while post-copy runs.",
        epilog="example: nova-adaptive-agent --config-file "
               "/etc/nova/nova-adaptive-agent.conf")
    if error:
        print(error, file=sys.stderr)
        return 2
    logging.setup(conf, "nova-adaptive-agent")
    _register_transport_opts(conf)
    # every option at debug level; oslo.config masks the secret ones
    conf.log_opt_values(LOG, std_logging.DEBUG)
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
