"""``nova-adaptive-agent`` as its own process on libvirt's test driver
(no hypervisor) with oslo.messaging's in-memory transport: it wires its
services, says it is up, and stops cleanly on SIGTERM.  The real
libvirt hosts and broker are tests/functional/test_destination_agent.py.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("libvirt")


def test_the_agent_comes_up_and_stops_on_sigterm(tmp_path):
    conf = tmp_path / "agent.conf"
    conf.write_text(
        "[DEFAULT]\ntransport_url = fake://\n"
        "[agent]\nlibvirt_uri = test:///default\n"
        f"journal_path = {tmp_path / 'journal.jsonl'}\n"
        f"hook_marker_dir = {tmp_path / 'markers'}\n"
        "rpc_enabled = true\nhost = unit\n"
        "[page_sampling]\nbackends =\n")
    log = tmp_path / "agent.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nova_hooks.cmd.agent", "--config-file",
             str(conf)], stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while "nova-adaptive-agent up" not in log.read_text():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    # the RPC endpoint is served before the agent says it is up
    assert text.index("RPC endpoint: topic") < \
        text.index("nova-adaptive-agent up")
