"""The qemu hook's markers as the agent reads them."""
from __future__ import annotations

import os

from nova_hooks.agent import markers
from nova_hooks.cmd import qemu_hook

UUID = "5b0c3a44-8d2e-4c1a-9f0e-6a7b8c9d0e1f"


def test_a_marker_is_taken_once(tmp_path):
    qemu_hook.write_marker(str(tmp_path), UUID, "guest", 1234.5)
    got = markers.take(str(tmp_path), UUID)
    assert got == {"instance_uuid": UUID, "name": "guest", "ts": 1234.5}
    assert markers.take(str(tmp_path), UUID) is None


def test_a_garbled_marker_is_removed_and_ignored(tmp_path):
    (tmp_path / f"{UUID}.migrate").write_text("{not json")
    assert markers.take(str(tmp_path), UUID) is None
    assert not (tmp_path / f"{UUID}.migrate").exists()


def test_stale_markers_are_swept(tmp_path):
    old = qemu_hook.write_marker(str(tmp_path), UUID, "guest", 0.0)
    fresh = qemu_hook.write_marker(str(tmp_path), UUID.replace("5b", "6b"),
                                   "other", 0.0)
    os.utime(old, (1000.0, 1000.0))
    os.utime(fresh, (9000.0, 9000.0))
    assert markers.sweep(str(tmp_path), now=9000.0) == 1
    assert sorted(os.listdir(tmp_path)) == [os.path.basename(fresh)]
