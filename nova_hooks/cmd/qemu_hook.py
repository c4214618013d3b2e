"""The libvirt ``qemu`` hook: leave a marker when a migration begins.

Installed as ``/etc/libvirt/hooks/qemu`` (a one-line wrapper that execs
``nova-adaptive-qemu-hook "$@"``), libvirt runs it for every domain
operation with ``<name> <operation> <sub-operation> <extra>`` and the
domain XML on stdin.  For ``migrate begin`` on the destination it writes
``<marker dir>/<uuid>.migrate`` (the time, the domain name) so the agent
knows of the incoming guest before QEMU even starts.

With ``NOVA_ADAPTIVE_HOOK_SECOND_MONITOR`` set (a path pattern with
``{name}``, e.g. ``/run/libvirt/qemu/{name}.qmp2``, exported by the
wrapper), it also gives the incoming guest a second QMP monitor on the
destination only, by printing the domain XML with a
``<qemu:commandline>`` ``-qmp unix:<path>,server=on,wait=off`` added:
libvirt takes a ``migrate begin`` hook's output as the XML to start the
incoming QEMU with.  The agent then balloons through that monitor while
post-copy holds libvirt's job.  libvirt marks such a domain tainted
(custom-argv).

A libvirt hook must never call back into libvirt (libvirtd waits for the
hook: it would deadlock), must be quick, and must not fail the
operation: this one only writes a small file and, when asked, the
rewritten XML; on anything unexpected it prints nothing (libvirt then
keeps the XML as it is) and it exits 0 whatever happens.
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
SECOND_MONITOR_ENV = "NOVA_ADAPTIVE_HOOK_SECOND_MONITOR"
QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
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


_DOMAIN_OPEN = re.compile(r"<domain\b[^>]*>")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+-]+$")


def with_second_monitor(xml_text: str, socket_path: str) -> Optional[str]:
    """``xml_text`` with a second QMP monitor at ``socket_path`` added to
    its ``<qemu:commandline>``, or ``None`` when it should stay as it is
    (a monitor is there already, or the XML or path is not what libvirt
    writes / a plain path)."""
    if not _SAFE_PATH.match(socket_path) or socket_path in xml_text:
        return None
    head = _DOMAIN_OPEN.search(xml_text)
    end = xml_text.rfind("</domain>")
    if head is None or end < head.end():
        return None
    tag = head.group(0)
    prefix = re.search(r"xmlns:(\w+)=['\"]" + re.escape(QEMU_NS) + "['\"]",
                       tag)
    ns = prefix.group(1) if prefix else "qemu"
    if prefix is None:
        if "xmlns:qemu=" in tag:
            return None       # 'qemu' bound to something else: leave it
        tag = tag[:-1] + f" xmlns:qemu='{QEMU_NS}'>"
    args = (f"<{ns}:arg value='-qmp'/>"
            f"<{ns}:arg value='unix:{socket_path},server=on,wait=off'/>")
    body = xml_text[head.end():end]
    block = re.search(rf"<{ns}:commandline>", body)
    if block:
        body = body[:block.end()] + args + body[block.end():]
    else:
        body = body + f"<{ns}:commandline>{args}</{ns}:commandline>\n"
    return xml_text[:head.start()] + tag + body + xml_text[end:]


def write_marker(marker_dir: str, instance: str, name: str,
                 now: float) -> str:
    os.makedirs(marker_dir, mode=0o750, exist_ok=True)
    path = os.path.join(marker_dir, f"{instance}.migrate")
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump({"instance_uuid": instance, "name": name, "ts": now}, f)
    os.replace(tmp, path)
    return path


USAGE = """\
usage: nova-adaptive-qemu-hook DOMAIN OPERATION SUB-OPERATION EXTRA < XML

libvirt's qemu hook for watcher-adaptive: on 'migrate begin' it writes
<marker dir>/<uuid>.migrate (the time, the domain name) so that
nova-adaptive-agent knows of the incoming guest before QEMU starts, and,
with NOVA_ADAPTIVE_HOOK_SECOND_MONITOR set, prints the domain XML with a
second QMP monitor added.  Every other call does nothing.  It always
exits 0: a hook must never fail the operation.

environment:
  NOVA_ADAPTIVE_HOOK_MARKER_DIR      marker directory (default %s)
  NOVA_ADAPTIVE_HOOK_SECOND_MONITOR  socket path pattern with {name} or
                                     {uuid}, e.g. /run/libvirt/qemu/{name}.qmp2

example (install as libvirt's hook, then restart libvirtd):
  printf '#!/bin/sh\\nexec nova-adaptive-qemu-hook "$@"\\n' \\
      > /etc/libvirt/hooks/qemu && chmod +x /etc/libvirt/hooks/qemu
""" % DEFAULT_MARKER_DIR


def main(argv: Optional[Sequence[str]] = None, stdin=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        # NOTE(wa): libvirt passes a domain name first, never an option,
        # so this is a person asking; nothing else here reads options
        sys.stdout.write(USAGE)
        return 0
    try:
        if len(args) >= 3 and args[1] == "migrate" and args[2] == "begin":
            xml_text = (stdin or sys.stdin).read(MAX_XML_BYTES)
            instance = domain_uuid(xml_text)
            if instance is not None:
                try:
                    write_marker(os.environ.get(MARKER_DIR_ENV,
                                                DEFAULT_MARKER_DIR),
                                 instance, args[0], time.time())
                except OSError as exc:     # the marker is only context
                    print(f"nova-adaptive-qemu-hook: {exc}",
                          file=sys.stderr)
            pattern = os.environ.get(SECOND_MONITOR_ENV)
            if pattern and instance is not None:
                rewritten = with_second_monitor(
                    xml_text, pattern.format(name=args[0], uuid=instance))
                if rewritten is not None:
                    # one write: libvirt cancels the migration on a
                    # half-written XML
                    sys.stdout.write(rewritten)
                    sys.stdout.flush()
    except Exception as exc:  # noqa: BLE001 - never fail the migration
        print(f"nova-adaptive-qemu-hook: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
