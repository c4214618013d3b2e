"""What needs both the simulator and the predictor.

:mod:`watcher_adaptive.replay` (the simulation) and
:mod:`watcher_adaptive.predict` (training, persistence) do not import
each other; this layer, above both and below the command line, joins
them: the host membership the predictor's host rows take from an LR-MMT
replay (:mod:`~watcher_adaptive.evaluate.membership`), and the replay's
``adaptive`` strategy planning on a trained model
(:mod:`~watcher_adaptive.evaluate.strategies`).
"""
