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
        from nova_hooks.agent.journal import Journal
        from nova_hooks.exceptions import JournalError
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


def _session(j, vm, close=True):
    j.write(vm, J.Kind.OPEN)
    j.write(vm, J.Kind.INTENT, J.Action.BALLOON, J.Channel.QMP, 2048, 1024)
    j.write(vm, J.Kind.DONE, J.Action.BALLOON, J.Channel.QMP, 2048, 1024)
    if close:
        j.write(vm, J.Kind.CLOSE, detail="steady state reached")


def test_the_journal_rotates_keeping_what_open_sessions_need(tmp_path):
    path = tmp_path / "journal.jsonl"
    j = Journal(str(path), max_bytes=2000)
    _session(j, "still-open", close=False)
    before = j.sessions()["still-open"]
    closed = 0
    while j.rotations == 0:
        _session(j, f"vm-{closed}")
        closed += 1
        assert closed < 100, "never rotated"
    assert path.stat().st_size < 2000
    old = (tmp_path / "journal.jsonl.1").read_text().splitlines()
    assert len(old) == 3 + 4 * closed            # the full history kept
    again = Journal(str(path))
    # a restart restores exactly what it would have without the rotation
    assert {vm for vm, s in again.sessions().items() if s.open} == \
        {"still-open"}
    assert again.sessions()["still-open"] == before
    assert len(again.load()) == 3
    # numbering goes on where it was
    assert again.write("still-open", J.Kind.CLOSE).seq == 3 + 4 * closed + 1


def test_a_failed_rotation_leaves_the_journal_whole(tmp_path):
    path = tmp_path / "journal.jsonl"
    j = Journal(str(path), max_bytes=1)
    # a directory where the rotated copy would go: the rotation fails
    (tmp_path / "journal.jsonl.1").mkdir()
    (tmp_path / "journal.jsonl.1" / "x").write_text("")
    _session(j, "vm-1")
    assert j.rotations == 0
    assert len(Journal(str(path)).load()) == 4
    assert not (tmp_path / "journal.jsonl.tmp").exists()


def test_open_session_records_replay_like_the_whole_journal():
    recs, seq = [], 0

    def add(vm, kind, action=None, channel=None, before=None, after=None):
        nonlocal seq
        seq += 1
        recs.append(J.Record(seq, float(seq), vm, kind, action, channel,
                             before, after))

    add("a", J.Kind.OPEN)
    add("a", J.Kind.INTENT, J.Action.BALLOON, J.Channel.QMP, 4, 2)
    add("a", J.Kind.CLOSE)
    add("b", J.Kind.OPEN)
    add("a", J.Kind.OPEN)                     # a's second session
    add("a", J.Kind.INTENT, J.Action.BALLOON, J.Channel.QMP, 4, 3)
    add("b", J.Kind.DONE, J.Action.BALLOON, J.Channel.LIBVIRT, 4, 1)
    add("b", J.Kind.CLOSE)
    kept = J.open_session_records(recs)
    assert [r.seq for r in kept] == [5, 6]
    assert J.replay(kept) == {vm: s for vm, s in J.replay(recs).items()
                              if s.open}
