"""Progress of a replay on the console, never silent for long.

The engine reports a fraction after each scheduling frame, but one frame
of a Watcher strategy can take longer than a minute (an audit of
``watcher:basic`` on a thousand VMs), and in a log (no terminal) a bar is
not drawn at all.  A heartbeat thread therefore redraws the bar, or
prints a line in a log, every :data:`HEARTBEAT_S` seconds whatever the
engine does, so that a reader always sees which strategy runs, how far it
is and for how long it has been at it.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Callable
from typing import Optional
from typing import Sequence
from typing import TextIO

#: at most this long between two signs of life (the issue asks for 10 s)
HEARTBEAT_S = 8.0


class Progress:
    """``update(name, fraction)`` for the runner; :meth:`close` at the end.

    :param names: the strategies in the order they run.  The engine's
        first report of a run comes after its first frame, which for a
        Watcher strategy holds its first audit (minutes for
        ``watcher:basic``): the next name in this list is taken as
        running as soon as the one before is done.
    :param stream: where to write (stderr).
    :param bar: draw a tqdm bar (a terminal) instead of lines (a log).
    :param heartbeat_s: the longest silence.
    :param clock: seconds, monotonic (injected for tests).
    """

    def __init__(self, names: Sequence[str], stream: TextIO,
                 bar: bool, heartbeat_s: float = HEARTBEAT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._names = list(names)
        self._stream = stream
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._current: Optional[str] = self._names[0] if names else None
        self._current_since = self._started
        self._done: dict[str, int] = {}
        self._finished: set[str] = set()
        self._bar = None
        if bar:
            from tqdm import tqdm

            self._bar = tqdm(total=len(self._names) * 100, unit="%",
                             file=stream,
                             bar_format="{desc:<38} {percentage:3.0f}%|"
                                        "{bar}| {elapsed}<{remaining}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat,
                                        args=(heartbeat_s,), daemon=True,
                                        name="replay-progress")
        self._thread.start()

    def update(self, name: str, fraction: float) -> None:
        step = int(min(1.0, max(0.0, fraction)) * 100)
        with self._lock:
            if name != self._current:
                self._current, self._current_since = name, self._clock()
            if self._bar is not None:
                self._bar.set_description_str(name[:38], refresh=False)
                self._bar.update(max(0, step - self._done.get(name, 0)))
            elif step >= 100 and name not in self._finished:
                self._line(f"{name}: done")
            self._done[name] = max(step, self._done.get(name, 0))
            if step >= 100 and name not in self._finished:
                self._finished.add(name)
                self._start_next(name)

    def _start_next(self, name: str) -> None:
        later = self._names[self._names.index(name) + 1:] \
            if name in self._names else []
        if later:
            self._current, self._current_since = later[0], self._clock()
            if self._bar is not None:
                self._bar.set_description_str(later[0][:38], refresh=False)

    def beat(self) -> None:
        """One sign of life (the heartbeat thread calls it)."""
        with self._lock:
            name = self._current
            if name is None or name in self._finished:
                return
            if self._bar is not None:
                self._bar.refresh()
                return
            running = self._clock() - self._current_since
            self._line(f"{name}: {self._done.get(name, 0)} % "
                       f"({running:.0f} s in this run)")

    def _line(self, text: str) -> None:
        elapsed = self._clock() - self._started
        print(f"  {text} [{elapsed:.0f} s elapsed]", file=self._stream,
              flush=True)

    def _beat(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.beat()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * HEARTBEAT_S)
        if self._bar is not None:
            self._bar.close()


class Quiet:
    """``--no-progress``: the same interface, nothing written."""

    def update(self, name: str, fraction: float) -> None:
        return None

    def done(self, what: str) -> None:
        return None

    def close(self) -> None:
        return None


def for_console(enabled: bool, names: Sequence[str]) -> "Progress | Quiet":
    """A bar on a terminal, lines in a log; none with ``--no-progress``."""
    if not enabled:
        return Quiet()
    return Progress(names, sys.stderr, bar=sys.stderr.isatty())


def runs_for_console(enabled: bool, total: int) -> "RunCounter | Quiet":
    """:func:`for_console` for a sweep's ``total`` runs."""
    if not enabled:
        return Quiet()
    return RunCounter(total, sys.stderr, bar=sys.stderr.isatty())


class RunCounter:
    """Progress over many short runs done in parallel (``sweep``): a bar
    of runs on a terminal, else a line per finished run; either way a
    sign of life every ``heartbeat_s`` while runs go on.

    :param total: how many runs there are.
    :param stream: where to write (stderr).
    :param bar: draw a tqdm bar (a terminal) instead of lines (a log).
    :param clock: seconds, monotonic (injected for tests).
    """

    def __init__(self, total: int, stream: TextIO, bar: bool,
                 heartbeat_s: float = HEARTBEAT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._total = total
        self._stream = stream
        self._clock = clock
        self._started = clock()
        self._last_line = self._started
        self._done = 0
        self._heartbeat_s = heartbeat_s
        self._lock = threading.Lock()
        self._bar = None
        if bar:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="run", file=stream)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name="sweep-progress")
        self._thread.start()

    def done(self, what: str) -> None:
        """One more run finished; ``what`` says which (and how)."""
        with self._lock:
            self._done += 1
            if self._bar is not None:
                self._bar.set_postfix_str(what[-40:], refresh=False)
                self._bar.update(1)
            else:
                self._line(f"{self._done}/{self._total} runs done: {what}")

    def beat(self) -> None:
        """One sign of life (the heartbeat thread calls it)."""
        with self._lock:
            if self._done >= self._total:
                return
            if self._bar is not None:
                self._bar.refresh()
            elif self._clock() - self._last_line >= self._heartbeat_s:
                self._line(f"{self._done}/{self._total} runs done, the "
                           "next ones running")

    def _line(self, text: str) -> None:
        now = self._clock()
        self._last_line = now
        print(f"  {text} [{now - self._started:.0f} s elapsed]",
              file=self._stream, flush=True)

    def _beat(self) -> None:
        while not self._stop.wait(self._heartbeat_s):
            self.beat()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * self._heartbeat_s)
        if self._bar is not None:
            self._bar.close()
