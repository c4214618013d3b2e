"""Replay strategies with a trained model: ``adaptive:model=PATH``.

:class:`~watcher_adaptive.replay.adaptive.AdaptiveReplay` reads
``model=PATH`` from its spec but does not load the model (the replay
does not import the predictor); :func:`build_strategies` gives every
such strategy a :class:`ModelForecast` of that file.  The command line
builds its ``--strategies`` here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Optional

import numpy as np

from watcher_adaptive.core.types import DemandForecast
from watcher_adaptive.replay import adaptive
from watcher_adaptive.replay import api
from watcher_adaptive.replay import registry

if TYPE_CHECKING:
    from watcher_adaptive.predict.predictor import Predictor


class ModelForecast:
    """A saved predictor's demand forecast for the replay
    (:data:`~watcher_adaptive.replay.adaptive.DemandModel`), the
    predictor loaded at the first audit.

    :param path: as ``predictor.load`` takes it (without suffix).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._predictor: Optional[Predictor] = None

    def __call__(self, history: np.ndarray, vm_size: np.ndarray,
                 quantile: float, horizon_s: float,
                 interval_s: float) -> DemandForecast:
        # NOTE(wa): imported here, not at the top: a simulate without a
        # model does not pay for scikit-learn and joblib (3 s, 130 MB)
        from watcher_adaptive.predict import online
        from watcher_adaptive.predict import predictor

        if self._predictor is None:
            self._predictor = predictor.load(self.path)
        return online.model_forecast(self._predictor, history, vm_size,
                                     quantile, horizon_s, interval_s, None)


def build_strategies(specs: str) -> list[api.ReplayStrategy]:
    """:func:`watcher_adaptive.replay.registry.build_strategies`, with
    the model of every ``adaptive…:model=PATH`` entry given.

    :raises watcher_adaptive.exceptions.UnknownStrategy: for a name no
        entry point provides.
    :raises ValueError: for a malformed entry or a bad parameter.
    """
    strategies = registry.build_strategies(specs)
    for strategy in strategies:
        if isinstance(strategy, adaptive.AdaptiveReplay) and \
                strategy.model_path and strategy.model is None:
            strategy.model = ModelForecast(strategy.model_path)
    return strategies
