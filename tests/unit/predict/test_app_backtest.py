"""The backtest on recorded applications: it fits on development runs
only, its gate drops profiles that are noise, and profiles that announce
the demand lower the loss."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from watcher_adaptive.exceptions import ProfileDataError
from watcher_adaptive.predict import app_backtest as ab
from watcher_adaptive.predict import app_dataset
from watcher_adaptive.predict import profile_split

KINDS = ("redis", "etl", "postgres")
T = 450


def _run(kind: str, seed: int, *, noise: bool, lead: int = 30
         ) -> app_dataset.AppRun:
    """Bursts of demand at seeded times; the profile's first feature
    rises ``lead`` samples before each burst, or is noise."""
    rng = np.random.default_rng([KINDS.index(kind)
                                 if kind in KINDS else 9, seed])
    level = np.full(T, 0.2)
    start = int(rng.integers(0, 150))
    while start < T:
        level[start:start + 40] = rng.uniform(0.7, 1.2)
        start += int(rng.integers(150, 250))
    demand = np.maximum(level + rng.normal(0, 0.05, T), 0)
    profile = rng.lognormal(3, 1, (T, len(app_dataset.PROFILE_NAMES)))
    if not noise:
        profile[:, 0] = 100 + 2000 * (np.roll(level, -lead) > 0.5)
    return app_dataset.AppRun(kind, seed, 2.0, demand, np.log1p(profile),
                              ("x",) * T)


def _data_set(noise: bool) -> list[app_dataset.AppRun]:
    runs = [_run(k, s, noise=noise) for k in KINDS for s in (1, 2, 3, 5)]
    return runs + [_run(profile_split.HELD_OUT_KIND, s, noise=noise)
                   for s in profile_split.HELD_OUT_SEEDS]


@pytest.mark.parametrize("kind, seed", [("redis", 5), ("redis", 6),
                                        ("ml-training", 1)])
def test_fitting_refuses_every_run_outside_development(kind, seed):
    bad = _run(kind, seed, noise=True)
    dev = _run("redis", 1, noise=True)
    for call in (lambda: ab.fit([dev, bad], 60),
                 lambda: ab.Classes([dev, bad]),
                 lambda: ab.cold_start([dev, bad], [dev])):
        with pytest.raises(ProfileDataError, match=f"{kind}-{seed}"):
            call()


def test_the_evaluation_runs_never_change_the_models(monkeypatch):
    """Poisoned evaluation and held-out runs (their demand times 50)
    leave the fitted models' forecasts as they were."""
    fitted = []
    real_fit = ab.fit

    def spy(runs, *args, **kwargs):
        models = real_fit(runs, *args, **kwargs)
        fitted.append(models)
        return models

    monkeypatch.setattr(ab, "fit", spy)
    clean = _data_set(noise=False)
    poisoned = [r if r.split == "development" else app_dataset.AppRun(
        r.kind, r.seed, r.interval_s, r.demand * 50, r.profile, r.phases)
        for r in clean]
    ab.run(clean, (60,), max_iter=25)
    ab.run(poisoned, (60,), max_iter=25)
    probe = ab.design(clean[0], 60, fitted[0].classes)
    for model in ("without", "with_profiles"):
        X = probe.history if model == "without" else probe.profile
        np.testing.assert_array_equal(getattr(fitted[0], model).predict(X),
                                      getattr(fitted[1], model).predict(X))


def test_the_gate_drops_profiles_that_are_noise():
    report = ab.run(_data_set(noise=True), (60, 300), max_iter=25,
                    gate=ab.EVIDENCE)
    for split in ab.REPORTED:
        for h in ("60", "300"):
            s = report["splits"][split][h]
            assert s["profile_share"] < 0.2, (split, h, s)
            assert s["gain"] >= -0.02, (split, h, s)


def test_profiles_that_announce_the_demand_lower_the_loss():
    # the profile announces each burst 60 s ahead: it helps at 60 s
    report = ab.run(_data_set(noise=False), (60,), max_iter=25,
                    gate=ab.EVIDENCE)
    for split in ab.REPORTED:
        s = report["splits"][split]["60"]
        assert s["gain"] >= 0.15, (split, s)
        assert s["profile_share"] > 0.5, (split, s)
    assert report["not_recorded"]["evaluation"]  # seeds 6 are missing


def test_calibration_holds_the_p90_near_its_level_on_like_runs():
    # the conformal shift comes from forecasts for development runs the
    # model was not fitted on, and holds on unseen seeds
    report = ab.run(_data_set(noise=True), (60,), max_iter=25)
    cover = report["splits"]["evaluation"]["60"]["coverage_p90_without"]
    assert 0.8 <= cover <= 0.98, cover


def test_nothing_is_reported_without_an_evaluation_run():
    runs = [_run("redis", s, noise=False) for s in (1, 2)]
    report = ab.run(runs, (60,), max_iter=20)
    assert report["splits"]["evaluation"]["60"] is None
    assert report["cold_start"] is None
    assert ab.verdict(report).startswith("Not yet")


def _write(path, rows):
    with gzip.open(path, "wt") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def test_a_recorded_run_is_read_with_its_waiting_time(tmp_path):
    rows = [{"t": 2.0 * i, "phase": "quiet", "cpu_cores": 0.5,
             "cpu_wait_cores": 0.25,
             "record": {"f": {"sys.read_ps": 10.0, "cpu.user": 0.9}}}
            for i in range(5)]
    _write(tmp_path / "redis-3.jsonl.gz", rows)
    run = app_dataset.read_run(tmp_path / "redis-3.jsonl.gz")
    assert (run.kind, run.seed, run.split) == ("redis", 3, "development")
    assert run.interval_s == 2.0
    np.testing.assert_allclose(run.demand, 0.75)
    # the host-wide CPU share is not a profile feature
    assert run.profile.shape == (5, len(app_dataset.PROFILE_NAMES))
    assert run.profile[0, 0] == pytest.approx(np.log1p(10.0))


@pytest.mark.parametrize("name, rows, message", [
    ("mysql-1.jsonl.gz", [], "unknown application kind"),
    ("redis-9.jsonl.gz", [], "no seed 9"),
    ("redis.jsonl.gz", [], "not named"),
    ("redis-1.jsonl.gz", [{"t": 0}], "line 1"),
    ("redis-1.jsonl.gz", [], "0 records"),
])
def test_a_file_outside_the_data_set_says_why(tmp_path, name, rows,
                                              message):
    _write(tmp_path / name, rows)
    with pytest.raises(ProfileDataError, match=message):
        app_dataset.read_run(tmp_path / name)


def test_the_checkout_holds_the_data_set():
    runs = app_dataset.read_dir(app_dataset.source_tree_data())
    assert all(r.demand.size >= 400 for r in runs)
    assert {r.name for r in runs} >= {"redis-1"}


def _starting(kind: str, seed: int, rise_at: int) -> app_dataset.AppRun:
    """Idle, then busy from sample ``rise_at`` on: every seed of a kind
    starts its schedule alike."""
    rng = np.random.default_rng([KINDS.index(kind), seed])
    demand = np.where(np.arange(T) < rise_at, 0.05, 1.5) \
        + rng.normal(0, 0.02, T)
    profile = np.full((T, len(app_dataset.PROFILE_NAMES)),
                      1.0 + KINDS.index(kind))
    return app_dataset.AppRun(kind, seed, 2.0, np.maximum(demand, 0),
                              profile, ("x",) * T)


def test_a_curve_prior_follows_how_a_kind_starts():
    rise = {"redis": 100, "etl": 200, "postgres": 280}
    fit = [_starting(k, s, rise[k]) for k in KINDS for s in (1, 2)]
    new = [_starting(k, 3, rise[k]) for k in KINDS]
    constant = ab.cold_start(fit, new, "constant")
    curve = ab.cold_start(fit, new, "curve")
    # each new run is classed as its kind and its rise is where its kind
    # rose, so the curve answers it; a constant prior cannot
    assert [c["class"] for c in curve["classes"]] == list(KINDS)
    assert curve["first_10min_mae_class_prior"] < \
        0.5 * constant["first_10min_mae_class_prior"]
    with pytest.raises(ValueError, match="prior shape"):
        ab.cold_start(fit, new, "spline")


def test_the_shipped_gate_answers_only_on_evidence():
    # chosen on the development runs (tools/profile_dev_cv.py): no
    # class's answer before evidence, so a run starts on the model
    # without profiles and the profile model answers only once it has
    # been clearly better on the run's own known forecasts
    assert ab.GATE.class_prior is False and ab.GATE.margin < 1.0
    report = ab.run(_data_set(noise=False), (60,), max_iter=25)
    for split in ab.REPORTED:
        s = report["splits"][split]["60"]
        # profiles that inform: the gate lets them answer, not always
        assert 0.0 < s["profile_share"] < 1.0
        assert s["gain"] > 0.0
        # what the profile model alone would have done is still reported
        assert s["pinball_p90_profiles_ungated"] < s["pinball_p90_without"]
