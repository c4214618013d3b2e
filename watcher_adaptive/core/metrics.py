"""Forecast quality: point error, quantile loss, coverage, event scores."""
from __future__ import annotations

import dataclasses

import numpy as np


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute error over the finite pairs."""
    ok = np.isfinite(actual) & np.isfinite(predicted)
    return float(np.mean(np.abs(actual[ok] - predicted[ok]))) if ok.any() \
        else float("nan")


def pinball(actual: np.ndarray, predicted: np.ndarray, q: float) -> float:
    """Mean pinball (quantile) loss of ``predicted`` as quantile ``q``."""
    ok = np.isfinite(actual) & np.isfinite(predicted)
    diff = actual[ok] - predicted[ok]
    if not diff.size:
        return float("nan")
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


def coverage(actual: np.ndarray, upper: np.ndarray) -> float:
    """Share of outcomes at or below the predicted quantile."""
    ok = np.isfinite(actual) & np.isfinite(upper)
    return float(np.mean(actual[ok] <= upper[ok])) if ok.any() \
        else float("nan")


@dataclasses.dataclass(frozen=True)
class EventScores:
    """Precision, recall and F1 of predicted events (e.g. overloads)."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int


def event_scores(actual: np.ndarray, predicted: np.ndarray) -> EventScores:
    """Scores of boolean ``predicted`` against boolean ``actual``.

    With no predicted event precision is 0; with no actual event recall
    is 0 (both are then uninformative, and F1 is 0).
    """
    actual = np.asarray(actual, dtype=bool)
    predicted = np.asarray(predicted, dtype=bool)
    tp = int(np.sum(actual & predicted))
    fp = int(np.sum(~actual & predicted))
    fn = int(np.sum(actual & ~predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = (2 * precision * recall / (precision + recall)
          if precision + recall else 0.0)
    return EventScores(precision, recall, f1, tp, fp, fn)
