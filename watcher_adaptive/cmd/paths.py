"""Checks of the paths a command will read or write, made before it works.

A replay or a backtest runs for minutes; an output under an existing
*file* or in a read-only directory must stop it at once with one line,
not with a traceback once the work is done.  Nothing here creates
anything: a run that fails later leaves no empty directories behind.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from watcher_adaptive.exceptions import UsageError


def _existing_ancestor(path: Path) -> Path:
    """``path`` itself or its nearest ancestor that exists; anything
    existing on the way (a file where a directory must go) is returned
    too, so the caller can say what is in the way."""
    current = path.absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def _creatable(path: Path, option: str) -> None:
    """``path`` exists as a writable directory, or can be made as a
    directory chain."""
    base = _existing_ancestor(path)
    if not base.is_dir():
        raise UsageError(f"{option} {path}: {base} is a file, not a "
                         "directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot create it in {base} "
                         "(not writable)")


def output_dir(path: Path, option: str = "--output") -> None:
    """``path`` is a directory that can be written, or can be made."""
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{option} {path}: exists and is not a "
                             "directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {path}: directory not writable")
        return
    _creatable(path, option)


def output_file(path: Path, option: str = "--output",
                make_parents: bool = False) -> None:
    """``path`` is a file that can be (over)written, or made in its
    directory, which must exist (as ``cp`` wants it: a mistyped
    directory is an error, not a new directory tree) unless the command
    makes it (``make_parents``)."""
    if path.exists():
        if path.is_dir():
            raise UsageError(f"{option} {path}: is a directory, need a "
                             "file name")
        if not os.access(path, os.W_OK):
            raise UsageError(f"{option} {path}: file not writable")
        return
    parent = path.absolute().parent
    if not make_parents and not parent.exists() and \
            _existing_ancestor(parent).is_dir():
        raise UsageError(f"{option} {path}: directory {parent} does not "
                         "exist")
    _creatable(parent, option)


def input_file(path: Path, option: str) -> None:
    """``path`` is an existing, readable file."""
    if not path.exists():
        raise UsageError(f"{option} {path}: no such file")
    if not path.is_file():
        raise UsageError(f"{option} {path}: not a file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{option} {path}: not readable")


def input_dir(path: Optional[str], option: str) -> None:
    """``path``, when given, is an existing directory."""
    if path is None:
        return
    if not Path(path).is_dir():
        raise UsageError(f"{option} {path}: no such directory")
