"""The results page's backtest goals are computed from a backtest's
results.json, met or missed as its figures say."""
from __future__ import annotations

from tests import tool_module


def _tool():
    return tool_module.load("dev_results")


def _scores(f1=None, cover=None, pinball=None):
    return {"overload_f1": f1, "coverage_p90": cover, "pinball_p90": pinball}


def _doc(model_f1, memory_pinball):
    return {
        "horizon_s": 1800.0,
        "models": {"adaptive": _scores(model_f1, 0.90),
                   "last": _scores(0.50, 0.80), "ewma": _scores(0.55, 0.85),
                   "seasonal": _scores(None, None), "lr": _scores(0.40)},
        "resources": {"memory": {
            "adaptive": _scores(cover=0.95, pinball=memory_pinball),
            "last": _scores(pinball=0.012), "ewma": _scores(pinball=0.010),
            "lr": _scores(pinball=0.02)}}}


def test_each_backtest_goal_against_the_best_baseline():
    lines = _tool()._backtest(_doc(model_f1=0.71, memory_pinball=0.007))
    text = "\n".join(lines)
    # F1: best baseline is ewma's 0.55, goal 0.70
    assert "F1 0.710 against the best baseline's 0.550 (``ewma``; goal " \
           ">= 0.700): met" in text
    assert "CPU P90 coverage 0.900 (goal 0.87-0.93): met" in text
    # memory coverage 0.95 is outside the band
    assert "memory P90 coverage 0.950 (goal 0.87-0.93): missed" in text
    # pinball: lowest baseline is ewma's 0.010; 0.007 is 0.70 x
    assert "0.70 x (goal <= 0.8 x): met" in text


def test_a_miss_says_by_how_much():
    text = "\n".join(_tool()._backtest(_doc(model_f1=0.60,
                                            memory_pinball=0.009)))
    assert "goal >= 0.700): missed: by 0.100" in text
    assert "0.90 x (goal <= 0.8 x): missed" in text


def test_render_only_without_runs_leaves_the_page_alone(tmp_path, capsys,
                                                       monkeypatch):
    tool = _tool()
    (tmp_path / "traces" / "planetlab").mkdir(parents=True)
    # the published page and data, as copies the test may lose
    for name in ("PAGE", "DATA"):
        copy = tmp_path / getattr(tool, name).name
        copy.write_bytes(getattr(tool, name).read_bytes())
        monkeypatch.setattr(tool, name, copy)
    page_before = tool.PAGE.read_bytes()
    data_before = tool.DATA.read_bytes()
    try:
        tool.main(["--traces-root", str(tmp_path / "traces"),
                   "--work", str(tmp_path / "work"), "--render-only"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("an empty --work rendered a page")
    assert "no run's results.json inside" in capsys.readouterr().err
    assert tool.PAGE.read_bytes() == page_before
    assert tool.DATA.read_bytes() == data_before
