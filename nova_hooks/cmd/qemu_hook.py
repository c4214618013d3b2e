"""The libvirt ``qemu`` hook: leave a marker when a migration begins.

Installed as ``/etc/libvirt/hooks/qemu`` (a one-line wrapper that execs
``nova-adaptive-qemu-hook "$@"``), libvirt runs it for every domain
operation with ``<name> <operation> <sub-operation> <extra>`` and the
domain XML on stdin.  For ``migrate begin`` on the destination it writes
``<marker dir>/<uuid>.migrate`` (the time, the domain name) so the agent
knows of the incoming guest before QEMU even starts.

A libvirt hook must never call back into libvirt (libvirtd waits for the
hook: it would deadlock), must be quick, and must not fail the
operation: this one only writes a small file, prints nothing (libvirt
then keeps the XML as it is) and exits 0 whatever happens.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from typing import Optional
from typing import Sequence

MARKER_DIR_ENV = "NOVA_ADAPTIVE_HOOK_MARKER_DIR"
DEFAULT_MARKER_DIR = "/run/nova-adaptive-agent"
#: the domain XML libvirt passes is small; never read more
MAX_XML_BYTES = 4 * 1024 * 1024


#: the domain's own <uuid> element, a direct child that libvirt writes
#: near the top (no XML parser: nothing to expand, nothing to resolve)
_UUID = re.compile(r"<uuid>\s*([0-9A-Fa-f-]{32,36})\s*</uuid>")


def domain_uuid(xml_text: str) -> Optional[str]:
    """The ``<uuid>`` of a domain XML, canonical, or ``None``."""
    m = _UUID.search(xml_text)
    try:
        return str(uuid.UUID(m.group(1))) if m else None
    except ValueError:
        return None


def write_marker(marker_dir: str, instance: str, name: str,
                 now: float) -> str:
    os.makedirs(marker_dir, mode=0o750, exist_ok=True)
    path = os.path.join(marker_dir, f"{instance}.migrate")
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump({"instance_uuid": instance, "name": name, "ts": now}, f)
    os.replace(tmp, path)
    return path


def main(argv: Optional[Sequence[str]] = None, stdin=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if len(args) >= 3 and args[1] == "migrate" and args[2] == "begin":
            xml_text = (stdin or sys.stdin).read(MAX_XML_BYTES)
            instance = domain_uuid(xml_text)
            if instance is not None:
                write_marker(os.environ.get(MARKER_DIR_ENV,
                                            DEFAULT_MARKER_DIR),
                             instance, args[0], time.time())
    except Exception as exc:  # noqa: BLE001 - never fail the migration
        print(f"nova-adaptive-qemu-hook: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
