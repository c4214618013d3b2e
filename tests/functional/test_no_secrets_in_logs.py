"""No password or token in logs: the destination agent, at debug level,
with every option logged and a broker that refuses its credentials (it
says so and lives on without RPC), and
the ``adaptive_migrate`` action talking to a broker that is not there.
Each run checks that the failure path it is about really ran."""
from __future__ import annotations

import logging
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.functional]
SECRET = "S3cret-Pw-9f2c"  # noqa: S105 - a made-up secret to look for


@pytest.mark.hardening("secrets")
def test_agent_logs_no_password_of_its_transport_url(tmp_path, hardening):
    pytest.importorskip("libvirt", reason="libvirt-python not installed")
    log = tmp_path / "agent.log"
    conf = tmp_path / "agent.conf"
    conf.write_text(f"""[DEFAULT]
debug = true
log_file = {log}
transport_url = rabbit://wa-nobody:{SECRET}@127.0.0.1:5672/
[agent]
libvirt_uri = test:///default
journal_path = {tmp_path / 'journal.jsonl'}
hook_marker_dir = {tmp_path / 'markers'}
rpc_enabled = true
""")
    proc = subprocess.Popen([sys.executable, "-m", "nova_hooks.cmd.agent",
                             "--config-file", str(conf)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            text = log.read_text() if log.exists() else ""
            # the broker refused the credentials at least once
            if "ACCESS_REFUSED" in text or "AccessRefused" in text:
                break
            time.sleep(0.5)
        time.sleep(2)
        # refused credentials are a clear error, not the agent's end
        assert proc.poll() is None, log.read_text()[-3000:]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    text = log.read_text()
    assert "transport_url" in text            # options were logged
    assert "ACCESS_REFUSED" in text or "AccessRefused" in text, text[-2000:]
    assert "rpc could not start (AccessRefused" in text
    assert SECRET not in text
    hardening.record(
        happened=f"the agent at debug level with a transport URL the broker "
        f"refuses: {len(text.splitlines())} log lines (every option, the "
        f"refusal, the retries), the password in none of them",
        lost="nothing")


@pytest.mark.hardening("secrets")
def test_action_logs_no_password_of_the_agent_transport_url(caplog,
                                                            hardening):
    pytest.importorskip("watcher")
    from watcher_adaptive.adapters.agent_rpc import AgentNotifier

    url = f"rabbit://wa-nobody:{SECRET}@127.0.0.1:9/"   # nothing listens
    notifier = AgentNotifier(url, "nova-adaptive-agent", timeout_s=1.0)
    with caplog.at_level(logging.DEBUG):
        answer = notifier.send("cmp-b", "prepare", {
            "version": "1.0", "instance_uuid": "x"})
    notifier.close()
    assert answer is None
    assert "not sent" in caplog.text          # the failure path ran
    assert SECRET not in caplog.text
    hardening.record(
        happened=f"the action's messaging to an unreachable broker at "
        f"debug level: {len(caplog.records)} log records, the failure "
        f"path ran, the password in none of them", lost="nothing")
