"""Turn a ``--trace`` argument into a loaded trace.

Forms:

``planetlab:<day>``
    ``<root>/planetlab/<day>``; the embedded day needs no root.
``bitbrains:<glob>``
    files matching ``<glob>`` in ``<root>/bitbrains-rnd/2013-7/``
    (e.g. ``bitbrains:*.csv.gz``); ``bitbrains:embedded`` is the sample.
``embedded:planetlab`` / ``embedded:bitbrains``
    the samples shipped in the package.
a path
    a directory (PlanetLab layout) or a ``.csv`` file (wide layout).

``<root>`` is ``traces_root`` or else the ``WATCHER_ADAPTIVE_TRACES``
environment variable.
"""
from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Callable
from typing import Optional

from watcher_adaptive.exceptions import TraceError
from watcher_adaptive.traces import bitbrains
from watcher_adaptive.traces import embedded
from watcher_adaptive.traces import generic
from watcher_adaptive.traces import planetlab
from watcher_adaptive.traces.model import TraceSet

ENV_ROOT = "WATCHER_ADAPTIVE_TRACES"
DEVELOPMENT_DAYS = ("20110303", "20110306", "20110309", "20110322",
                    "20110325")
BITBRAINS_DIR = Path("bitbrains-rnd") / "2013-7"


def resolve_trace(spec: str, traces_root: Optional[str] = None,
                  interval_s: Optional[float] = None,
                  memory_path: Optional[str] = None) -> TraceSet:
    """Load the trace ``spec`` names (see the module docstring).

    :raises TraceError: with a message saying what to pass instead.
    """
    return locate(spec, traces_root, interval_s, memory_path)()


def locate(spec: str, traces_root: Optional[str] = None,
           interval_s: Optional[float] = None,
           memory_path: Optional[str] = None) -> Callable[[], TraceSet]:
    """What loads the trace ``spec`` names, found without reading it: a
    spec naming nothing fails here, before a command's other work (and
    a month of Bitbrains is read only when called).

    :raises TraceError: with a message saying what to pass instead.
    """
    root = traces_root or os.environ.get(ENV_ROOT) or None
    kind, _, rest = spec.partition(":")
    if kind == "embedded" and rest:
        return functools.partial(embedded.load_embedded, rest)
    if kind == "planetlab" and rest:
        if root is None:
            if rest == embedded.embedded_planetlab_day():
                return functools.partial(embedded.load_embedded,
                                         "planetlab")
            raise TraceError(
                f"{spec}: only PlanetLab day "
                f"{embedded.embedded_planetlab_day()} is embedded; pass "
                f"--traces-root DIR (or set {ENV_ROOT}) for other days")
        return functools.partial(planetlab.load_planetlab_day,
                                 planetlab.day_dir(Path(root) / "planetlab"
                                                   / rest))
    if kind == "bitbrains" and rest:
        if rest == "embedded":
            return functools.partial(embedded.load_embedded, "bitbrains")
        if root is None:
            raise TraceError(f"{spec}: pass --traces-root DIR (or set "
                             f"{ENV_ROOT}); bitbrains:embedded needs none")
        folder = Path(root) / BITBRAINS_DIR
        files = sorted(folder.glob(rest))
        if not files:
            raise TraceError(f"{spec}: no file matches {rest!r} in {folder}")
        return functools.partial(bitbrains.load_bitbrains, files, name=spec)
    path = Path(spec)
    if path.is_dir():
        return functools.partial(planetlab.load_planetlab_day, path)
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise TraceError(f"{spec}: a file trace must be a wide .csv "
                             "(or give a PlanetLab day directory)")
        return functools.partial(generic.load_wide_csv, path, interval_s,
                                 memory_path)
    raise TraceError(
        f"{spec!r} is neither a trace name (planetlab:<day>, "
        "bitbrains:<glob>, embedded:planetlab|bitbrains) nor an existing "
        "file or directory")


def is_development(spec: str) -> bool:
    """Whether a PlanetLab day or Bitbrains file is in the development
    part of the split (``SPLIT.md``): tune only on these."""
    kind, _, rest = spec.partition(":")
    if kind == "planetlab":
        return rest in DEVELOPMENT_DAYS
    if kind == "bitbrains":
        match = re.fullmatch(r"(\d+)(\.csv(\.gz)?)?", rest)
        return match is not None and int(match.group(1)) % 2 == 1
    return kind == "embedded"
