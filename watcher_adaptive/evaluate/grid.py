"""The settings a sweep runs: ``--strategies`` and a grid file.

A grid file is TOML, one table per strategy name, each key a parameter
with a list of values; a strategy's settings are the product of its
lists::

    [adaptive]
    target = [0.8, 0.9]
    per_hour = [100, 1000]

    [lr-mmt]
    safety = [1.0, 1.2]

A strategy that takes parameters and has no table runs the shipped
default grid (``watcher_adaptive/data/sweep_grid.toml``); a strategy
without parameters (``dvfs``, ``watcher:<name>``) and an entry given with
its parameter (``lr-mmt:1.1``) run once as given.  Every setting is
built here, before any run, so that an unknown strategy or parameter is
refused before minutes of work.
"""
from __future__ import annotations

import dataclasses
import itertools
import sys
from pathlib import Path
from typing import Any
from typing import Mapping
from typing import Optional

from watcher_adaptive.evaluate import strategies as with_models
from watcher_adaptive.exceptions import GridError
from watcher_adaptive.exceptions import UnknownStrategy
from watcher_adaptive.replay import registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 has the same parser as tomli
    import tomli as tomllib

DEFAULT_GRID = Path(__file__).resolve().parent.parent / "data" / \
    "sweep_grid.toml"

#: strategies whose parameters are ``key=value`` pairs joined by ``+``
_KEYED = ("adaptive", "adaptive-reactive")
#: strategies that take one parameter, written ``name:value``
_POSITIONAL = {"lr-mmt": "safety", "thr-mmt": "threshold"}


@dataclasses.dataclass(frozen=True)
class Setting:
    """One strategy at one setting.

    :param family: the strategy's name (``adaptive``, ``lr-mmt``,
        ``watcher:basic``...): what the sweep compares.
    :param spec: the ``--strategies`` entry that builds it.
    :param params: the grid's values for it (empty at the defaults).
    """

    family: str
    spec: str
    params: Mapping[str, Any]


def load(path: Optional[Path]) -> dict[str, dict[str, list[Any]]]:
    """The grid file's tables, each value a list (a single value is a
    list of one); the shipped default grid fills the tables ``path``
    does not have.

    :raises GridError: for a file that is not TOML or a value that is
        not a number or a string.
    """
    grid = _read(DEFAULT_GRID)
    if path is not None:
        grid.update(_read(path))
    return grid


def _read(path: Path) -> dict[str, dict[str, list[Any]]]:
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"grid {path}: not TOML: {exc}") from None
    grid: dict[str, dict[str, list[Any]]] = {}
    for name, table in doc.items():
        if not isinstance(table, dict):
            raise GridError(f"grid {path}: {name!r} must be a table "
                            f"([{name}]) of parameter = [values]")
        grid[name] = {}
        for key, values in table.items():
            values = values if isinstance(values, list) else [values]
            bad = [v for v in values if isinstance(v, bool)
                   or not isinstance(v, (int, float, str))]
            if bad or not values:
                raise GridError(f"grid {path}: [{name}] {key}: give a list "
                                "of numbers or strings")
            grid[name][key] = values
    return grid


def settings(strategies: str,
             grid: Mapping[str, Mapping[str, list[Any]]]) -> list[Setting]:
    """Every setting of every ``--strategies`` entry, each built once to
    check it.

    :raises GridError: for a grid table naming no installed strategy,
        a table for a strategy that takes no parameter, an unknown
        parameter or a bad value, a setting given twice.
    :raises UnknownStrategy: for an unknown ``--strategies`` entry.
    """
    available = registry.available()
    for name in grid:
        if registry.parse_spec(name)[0] not in available:
            raise GridError(f"grid: unknown strategy [{name}]; available: "
                            f"{', '.join(sorted(available))}")
    out: list[Setting] = []
    for entry in (e.strip() for e in strategies.split(",") if e.strip()):
        name, param, _ = registry.parse_spec(entry)
        if name not in available:
            raise UnknownStrategy(
                f"unknown strategy {name!r}; available: "
                f"{', '.join(sorted(available))}")
        if name not in _KEYED and name not in _POSITIONAL:
            family = entry.split("@")[0]
            if grid.get(family):
                raise GridError(f"grid: [{family}] has parameters, but "
                                f"{family} takes none; it runs once at "
                                "its defaults")
            out.append(Setting(family, entry, {}))
        elif param is not None or not grid.get(name):
            # given with its parameter, or no grid: once, as given
            out.append(Setting(name, entry, {}))
        else:
            out += _expand(name, grid[name], entry[len(name):])
    specs = [s.spec for s in out]
    twice = sorted({s for s in specs if specs.count(s) > 1})
    if twice:
        raise GridError(f"setting given twice: {', '.join(twice)}")
    if not out:
        raise GridError("no strategy given")
    for setting in out:
        try:
            with_models.build_strategies(setting.spec)
        except ValueError as exc:
            raise GridError(f"grid [{setting.family}]: {exc}") from None
    return out


def _expand(family: str, table: Mapping[str, list[Any]],
            interval: str) -> list[Setting]:
    """The product of ``table``'s lists as ``family``'s settings
    (``interval``: an ``@seconds`` suffix the entry had)."""
    keys = list(table)
    positional = _POSITIONAL.get(family)
    if positional is not None and keys and keys != [positional]:
        unknown = [k for k in keys if k != positional]
        raise GridError(f"grid [{family}]: unknown parameter "
                        f"{unknown[0]!r}; known: {positional}")
    out = []
    for values in itertools.product(*(table[k] for k in keys)):
        params = dict(zip(keys, values, strict=True))
        if positional is not None:
            param = _text(params[positional]) if params else ""
        else:
            param = "+".join(f"{k}={_text(v)}" for k, v in params.items())
        spec = f"{family}:{param}" if param else family
        out.append(Setting(family, spec + interval, params))
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)
