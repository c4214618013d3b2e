"""``numa_maps``: where QEMU's guest memory sits, per host NUMA node.

Reads ``/proc/<qemu pid>/numa_maps``: no libvirt call, so it works while
post-copy runs.  It gives the node distribution the pinning planner
follows when no backend locates the hot set itself.
"""
from __future__ import annotations

from typing import Optional

from nova_hooks.agent.backends import Backend
from nova_hooks.core.types import Observation
from nova_hooks.exceptions import QemuNotFound


class NumaMapsBackend(Backend):
    name = "numa_maps"
    during_postcopy = True

    def probe(self, guest) -> Optional[str]:
        try:
            if not self.host.node_bytes(guest):
                return "numa_maps shows no resident guest memory"
        except QemuNotFound as exc:
            return f"QEMU process not found: {exc}"
        return None

    def sample(self, guest) -> Observation:
        return Observation(backend=self.name,
                           node_bytes=self.host.node_bytes(guest))
