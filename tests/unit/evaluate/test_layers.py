"""The layers at run time: training never loads the simulator, and the
replay never loads the predictor, even through imports made inside
functions (``lint-imports`` checks the same statically; see the
``[importlinter]`` contracts in setup.cfg)."""
from __future__ import annotations

import subprocess
import sys

_SCRIPT = """
import sys
import numpy as np
{body}
loaded = sorted({{m.split('.')[1] for m in sys.modules
                 if m.startswith('watcher_adaptive.')}})
print(' '.join(loaded))
"""


def _packages_loaded(body: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(body=body)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


def test_training_loads_no_simulator():
    loaded = _packages_loaded("""
from watcher_adaptive.predict import backtest, dataset, online, training
from watcher_adaptive.predict import predictor, report
""")
    assert "predict" in loaded
    assert not loaded & {"replay", "evaluate", "cmd"}


def test_a_replay_with_the_adaptive_strategy_loads_no_predictor():
    loaded = _packages_loaded("""
from watcher_adaptive.replay import registry, runner
from watcher_adaptive.traces import load_embedded
day = load_embedded("planetlab").subset(np.arange(0, 1052, 50))
runs = runner.run_all(day, registry.build_strategies(
    "adaptive,adaptive-reactive,lr-mmt"))
assert all(r.metrics is not None for r in runs), [r.error for r in runs]
""")
    assert "replay" in loaded
    assert not loaded & {"predict", "evaluate", "cmd"}


def test_strategies_without_a_model_load_no_predictor():
    # a plain simulate does not pay for scikit-learn and joblib
    loaded = _packages_loaded("""
from watcher_adaptive.evaluate import strategies
strategies.build_strategies("adaptive,adaptive:model=/nowhere/m,lr-mmt")
""")
    assert "evaluate" in loaded and "predict" not in loaded
