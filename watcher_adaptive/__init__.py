"""watcher-adaptive: predictive live migration for OpenStack Watcher.

The control plane (strategy, predictor, trace replay) lives here; the
destination-host agent lives in the sibling package :mod:`nova_hooks`.
"""
