"""Replay progress on the console: never silent for long."""
from __future__ import annotations

import io
import threading

from watcher_adaptive.cmd import progress


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_log_gets_a_line_at_each_beat_even_without_updates():
    stream, clock = io.StringIO(), _Clock()
    bar = progress.Progress(["dvfs", "watcher:basic"], stream, bar=False,
                            heartbeat_s=3600, clock=clock)
    try:
        clock.now = 2.0
        bar.update("dvfs", 1.0)
        # watcher:basic's first audit: the engine reports nothing until
        # its first frame is over, minutes later
        clock.now = 9.0
        bar.beat()
        clock.now = 18.0
        bar.beat()
        bar.update("watcher:basic", 0.5)
        bar.update("watcher:basic", 1.0)
        bar.beat()          # all done: nothing more to say
    finally:
        bar.close()
    lines = stream.getvalue().splitlines()
    assert lines == ["  dvfs: done [2 s elapsed]",
                     "  watcher:basic: 0 % (7 s in this run) [9 s elapsed]",
                     "  watcher:basic: 0 % (16 s in this run) "
                     "[18 s elapsed]",
                     "  watcher:basic: done [18 s elapsed]"]


def test_the_heartbeat_thread_beats_on_its_own():
    beats = threading.Event()

    class Probe(progress.Progress):
        def beat(self):
            beats.set()

    bar = Probe(["dvfs"], io.StringIO(), bar=False, heartbeat_s=0.01)
    try:
        assert beats.wait(5.0)
    finally:
        bar.close()


def test_the_heartbeat_is_within_ten_seconds():
    assert progress.HEARTBEAT_S <= 10.0


def test_a_terminal_bar_is_redrawn_at_each_beat():
    stream = io.StringIO()
    bar = progress.Progress(["watcher:basic"], stream, bar=True,
                            heartbeat_s=3600)
    try:
        bar.update("watcher:basic", 0.1)
        before = stream.getvalue()
        bar.beat()
        assert len(stream.getvalue()) > len(before)
    finally:
        bar.close()


def test_no_progress_writes_nothing(capsys):
    quiet = progress.for_console(False, ["dvfs"])
    quiet.update("dvfs", 0.5)
    quiet.close()
    assert capsys.readouterr().err == ""
