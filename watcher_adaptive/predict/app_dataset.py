"""The recorded application runs of the behaviour-profile data set.

``tools/record_app_run.py`` writes one file per application kind and
seed, ``<kind>-<seed>.jsonl.gz`` in ``tools/data/profile-apps/`` of the
source tree: a line per sampling interval with the demand measured
outside the application (its cgroup's CPU time, and the time its threads
waited for a CPU) and the guest agent's record from inside its
namespaces.

Only the profile features the agent reads from the application's own
view go into :data:`PROFILE_NAMES`: the system calls of its processes
(``/proc/<pid>/io``) and its sockets and traffic (``/proc/net`` of its
network namespace).  The CPU, memory, disk and file-handle features come
from files of ``/proc`` that are not namespaced: there they are the
host's, neighbours and the application's own CPU included, so a model
given them would read the answer, not the behaviour.
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import re
from pathlib import Path

import numpy as np

from watcher_adaptive.exceptions import ProfileDataError
from watcher_adaptive.predict import profile_split

#: the agent's features that describe the application itself (see the
#: module's docstring for those left out, and why)
PROFILE_NAMES = ("sys.read_ps", "sys.write_ps", "net.rx_bps", "net.tx_bps",
                 "net.tcp_established", "net.tcp_listen",
                 "net.udp_sockets", "net.peers")
_NAME = re.compile(r"^(?P<kind>[a-z-]+)-(?P<seed>\d+)\.jsonl\.gz$")


@dataclasses.dataclass(frozen=True)
class AppRun:
    """One recorded run.

    :param demand: ``(T,)`` CPU cores the application asked for in each
        interval: what it got plus what its threads waited for.
    :param profile: ``(T, len(PROFILE_NAMES))``, rates and counts on a
        ``log1p`` scale, 0 where the agent sent nothing.
    """

    kind: str
    seed: int
    interval_s: float
    demand: np.ndarray
    profile: np.ndarray
    phases: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.seed}"

    @property
    def split(self) -> profile_split.Split:
        return profile_split.split_of(self.kind, self.seed)


def read_run(path: Path) -> AppRun:
    """The run recorded in ``path`` (named ``<kind>-<seed>.jsonl.gz``).

    :raises ProfileDataError: a name outside the data set's kinds and
        seeds, a line that is not a record, or fewer than two records.
    """
    m = _NAME.match(path.name)
    if m is None:
        raise ProfileDataError(f"{path}: not named <kind>-<seed>.jsonl.gz")
    kind, seed = m["kind"], int(m["seed"])
    profile_split.split_of(kind, seed)  # a kind and seed of the data set
    t, demand, rows, phases = [], [], [], []
    try:
        with gzip.open(path, "rt") as f:
            for number, line in enumerate(f, start=1):
                try:
                    doc = json.loads(line)
                    feats = doc["record"]["f"]
                    t.append(float(doc["t"]))
                    demand.append(float(doc["cpu_cores"])
                                  + float(doc.get("cpu_wait_cores", 0.0)))
                    rows.append([float(feats.get(n, 0.0))
                                 for n in PROFILE_NAMES])
                    phases.append(str(doc["phase"]))
                except (ValueError, KeyError, TypeError) as exc:
                    raise ProfileDataError(
                        f"{path}: line {number}: not a recorded "
                        f"application interval ({type(exc).__name__}: "
                        f"{exc})") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ProfileDataError(f"{path}: not readable: {exc}") from None
    if len(t) < 2:
        raise ProfileDataError(f"{path}: {len(t)} records, at least 2 "
                               "needed")
    return AppRun(kind=kind, seed=seed,
                  interval_s=float(np.median(np.diff(t))),
                  demand=np.maximum(np.asarray(demand), 0.0),
                  profile=np.log1p(np.maximum(np.asarray(rows), 0.0)),
                  phases=tuple(phases))


def read_dir(root: Path) -> list[AppRun]:
    """Every run in ``root``, by kind and seed.

    :raises ProfileDataError: no such directory, or no run in it.
    """
    if not root.is_dir():
        raise ProfileDataError(f"{root}: no such directory")
    runs = [read_run(p) for p in sorted(root.glob("*.jsonl.gz"))]
    if not runs:
        raise ProfileDataError(f"{root}: no <kind>-<seed>.jsonl.gz inside")
    return sorted(runs, key=lambda r: (profile_split.KINDS.index(r.kind),
                                       r.seed))


def source_tree_data() -> Path:
    """The data set in the source tree this package runs from.

    :raises ProfileDataError: installed from a wheel, which carries no
        data set.
    """
    root = Path(__file__).resolve().parents[2] / "tools" / "data" \
        / "profile-apps"
    if not root.is_dir():
        raise ProfileDataError(
            "no recorded data set beside this installation (a wheel "
            "carries none): give --data DIR, a checkout's "
            "tools/data/profile-apps")
    return root
