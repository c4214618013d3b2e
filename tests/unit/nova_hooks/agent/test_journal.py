from __future__ import annotations

import subprocess
import sys
import textwrap

from nova_hooks.agent.journal import Journal
from nova_hooks.core import journal_model as J


def test_records_survive_a_reopen_and_a_torn_last_line(tmp_path):
    path = tmp_path / "j" / "journal.jsonl"
    j = Journal(str(path))
    j.write("vm", J.Kind.OPEN)
    j.write("vm", J.Kind.INTENT, J.Action.BALLOON, J.Channel.QMP, 2048,
            1024)
    with open(path, "a") as f:
        f.write('{"seq": 3, "ts": 1, "vm": "vm", "ki')   # died mid-write
    again = Journal(str(path))
    records = again.load()
    assert [r.kind for r in records] == [J.Kind.OPEN, J.Kind.INTENT]
    assert again.torn_lines == 1
    state = again.sessions()["vm"]
    assert state.open and state.in_doubt == {J.Action.BALLOON: 1024}
    assert again.write("vm", J.Kind.CLOSE).seq == 3


def test_a_write_the_kernel_refuses_raises_and_records_nothing(tmp_path):
    # a file-size limit makes the kernel refuse the write (EFBIG), as a
    # full disk would (ENOSPC); run in a child so the limit stays there
    path = tmp_path / "journal.jsonl"
    code = textwrap.dedent(f"""
        import resource, signal, sys
        from nova_hooks.agent.journal import Journal, JournalError
        from nova_hooks.core import journal_model as J
        j = Journal({str(path)!r})
        j.write("vm", J.Kind.OPEN)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        size = {str(path)!r}
        import os
        limit = os.path.getsize(size) + 10
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        try:
            j.write("vm", J.Kind.INTENT, J.Action.BALLOON, J.Channel.QMP,
                    2048, 1024, "x" * 100)
        except JournalError as exc:
            print("refused", exc.errno)
            sys.exit(0)
        sys.exit(1)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "refused"
    # nothing half-written that a replay would take for a change
    again = Journal(str(path))
    again.write("vm", J.Kind.CLOSE)
    assert [r.kind for r in again.load()] == [J.Kind.OPEN, J.Kind.CLOSE]
    assert again.torn_lines == 0
