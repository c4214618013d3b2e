"""Newline framing of a guest's byte stream with a hard size cap.

A guest may send one byte at a time, never send a newline, or send
megabytes at once; the buffer never holds more than ``max_line + 1``
bytes.  A line that outgrows the cap is dropped whole (up to and
including its newline) and reported once as oversize.
"""
from __future__ import annotations

import dataclasses
from typing import Iterator
from typing import Union


@dataclasses.dataclass(frozen=True)
class Oversize:
    """A line longer than the cap was dropped."""


class LineBuffer:
    def __init__(self, max_line: int) -> None:
        if max_line < 1:
            raise ValueError("max_line must be positive")
        self.max_line = max_line
        self._buf = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> Iterator[Union[bytes, Oversize]]:
        """Complete lines (without newline) in ``data`` and what was
        buffered before, or :class:`Oversize` for each line dropped."""
        start = 0
        while start < len(data):
            nl = data.find(b"\n", start)
            end = len(data) if nl < 0 else nl
            chunk = data[start:end]
            if self._discarding:
                if nl >= 0:
                    self._discarding = False
            elif len(self._buf) + len(chunk) > self.max_line:
                self._buf.clear()
                yield Oversize()
                self._discarding = nl < 0
            elif nl >= 0:
                self._buf += chunk
                line = bytes(self._buf)
                self._buf.clear()
                yield line
            else:
                self._buf += chunk
            start = end + 1

    @property
    def pending(self) -> int:
        """Bytes held for an incomplete line."""
        return len(self._buf)
