"""The libvirt qemu hook run the way libvirtd runs it: a process with
the operation in its arguments and the domain XML on stdin."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

XML = """<domain type='qemu'><name>instance-0001</name>
<uuid>0E3C2C5E-8A55-4D0C-9D7B-3B7C1C1F0A01</uuid></domain>"""


def run_hook(tmp_path, *args, stdin=XML):
    env = dict(os.environ, NOVA_ADAPTIVE_HOOK_MARKER_DIR=str(tmp_path / "m"))
    return subprocess.run([sys.executable, "-m", "nova_hooks.cmd.qemu_hook",
                           *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=30)


def test_migrate_begin_leaves_a_marker_and_keeps_the_xml(tmp_path):
    out = run_hook(tmp_path, "instance-0001", "migrate", "begin", "-")
    assert out.returncode == 0 and out.stdout == ""    # XML unchanged
    marker = tmp_path / "m" / "0e3c2c5e-8a55-4d0c-9d7b-3b7c1c1f0a01.migrate"
    doc = json.loads(marker.read_text())
    assert doc["name"] == "instance-0001" and doc["ts"] > 0


@pytest.mark.parametrize("args,stdin", [
    (("instance-0001", "start", "begin", "-"), XML),
    (("instance-0001", "migrate", "begin", "-"), "<not xml"),
    (("instance-0001", "migrate", "begin", "-"), "<domain><uuid>x</uuid>"
                                                 "</domain>"),
])
def test_anything_else_writes_nothing_and_never_fails(tmp_path, args,
                                                      stdin):
    out = run_hook(tmp_path, *args, stdin=stdin)
    assert out.returncode == 0 and out.stdout == ""
    assert not (tmp_path / "m").exists()


def test_an_unwritable_marker_dir_does_not_fail_the_migration(tmp_path):
    (tmp_path / "m").write_text("a file where the directory should be")
    out = run_hook(tmp_path, "instance-0001", "migrate", "begin", "-")
    assert out.returncode == 0 and "nova-adaptive-qemu-hook" in out.stderr


def test_second_monitor_is_added_for_the_destination_only(tmp_path):
    env_path = "/run/libvirt/qemu/{name}.qmp2"
    env = dict(os.environ, NOVA_ADAPTIVE_HOOK_MARKER_DIR=str(tmp_path / "m"),
               NOVA_ADAPTIVE_HOOK_SECOND_MONITOR=env_path)
    out = subprocess.run([sys.executable, "-m", "nova_hooks.cmd.qemu_hook",
                          "instance-0001", "migrate", "begin", "-"],
                         input=XML, capture_output=True, text=True, env=env,
                         timeout=30)
    assert out.returncode == 0
    assert "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'" in \
        out.stdout
    assert ("<qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value="
            "'unix:/run/libvirt/qemu/instance-0001.qmp2,server=on,"
            "wait=off'/></qemu:commandline>") in out.stdout
    assert out.stdout.rstrip().endswith("</domain>")
    # other operations keep their XML even with the variable set
    out = subprocess.run([sys.executable, "-m", "nova_hooks.cmd.qemu_hook",
                          "instance-0001", "start", "begin", "-"],
                         input=XML, capture_output=True, text=True, env=env,
                         timeout=30)
    assert out.stdout == ""


def test_second_monitor_rewrite_cases():
    from nova_hooks.cmd.qemu_hook import with_second_monitor as rewrite

    ns = "xmlns:q='http://libvirt.org/schemas/domain/qemu/1.0'"
    existing = (f"<domain type='qemu' {ns}><name>a</name><q:commandline>"
                "<q:arg value='-x'/></q:commandline></domain>")
    got = rewrite(existing, "/run/a.qmp2")
    assert got.count("q:commandline>") == 2           # the same block
    assert "<q:arg value='-qmp'/>" in got and "-x" in got
    assert rewrite(got, "/run/a.qmp2") is None         # there already
    assert rewrite("<not a domain/>", "/run/a.qmp2") is None
    assert rewrite("<domain xmlns:qemu='urn:other'></domain>",
                   "/run/a.qmp2") is None
    assert rewrite("<domain></domain>", "/run/a b'.qmp2") is None
