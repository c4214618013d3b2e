"""Strategy specs and their resolution through the entry points."""
import pytest

from watcher_adaptive.exceptions import UnknownStrategy
from watcher_adaptive.replay import registry


@pytest.mark.parametrize("spec, expected", [
    ("lr-mmt", ("lr-mmt", None, None)),
    ("lr-mmt:1.1", ("lr-mmt", "1.1", None)),
    ("watcher:basic@3600", ("watcher", "basic", 3600.0)),
    (" dvfs ", ("dvfs", None, None)),
])
def test_parse_spec(spec, expected):
    assert registry.parse_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "lr mmt", "x@", "x@0", "x@-1"])
def test_parse_spec_rejects(spec):
    with pytest.raises(ValueError):
        registry.parse_spec(spec)


def _installed():
    names = registry.available()
    if "lr-mmt" not in names:
        pytest.skip("the distribution is not installed (entry points)")
    return names


def test_entry_points_build_strategies():
    _installed()
    built = registry.build_strategies("dvfs,lr-mmt:1.1,thr-mmt@600")
    assert [s.name for s in built] == ["dvfs", "lr-mmt:1.1", "thr-mmt"]
    assert built[2].audit_interval_s == 600.0
    assert built[1].safety == 1.1


def test_unknown_and_duplicate_names():
    _installed()
    with pytest.raises(UnknownStrategy, match="available: "):
        registry.build_strategies("nope")
    with pytest.raises(ValueError, match="twice"):
        registry.build_strategies("lr-mmt,lr-mmt")
