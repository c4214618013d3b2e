"""Valid records to start hostile ones from."""
from __future__ import annotations

import json

from watcher_adaptive.profiler.guest import agent

NOW = 1_800_000_000.0
FEATURES = {"cpu.user": 0.5, "cpu.idle": 0.5, "net.rx_bps": 1200.0,
            "mem.used_ratio": 0.3}


def line(seq: int = 1, ts: float = NOW, **changes) -> bytes:
    doc = json.loads(agent.make_record(1, NOW, 30.0, dict(FEATURES),
                                       {"cpu": "proc"}))
    doc.update(seq=seq, ts=ts, **changes)
    return json.dumps(doc).encode()
