"""The committed sample configurations (``etc/*.conf.sample``) are what
``oslo-config-generator`` makes of today's option definitions.

Each generator file in ``etc/oslo-config-generator/`` is run again (in
this process, into a temporary file) and every section that one of the
project's own namespaces defines must match the committed sample to the
character.  The sections of the libraries' namespaces (oslo.log,
oslo.messaging) follow whichever library version is installed, so they
are only required to be present.  ``tox -e genconfig`` rewrites the
samples.
"""
from __future__ import annotations

import configparser
from importlib import metadata
from pathlib import Path

import pytest
from oslo_config import generator

ROOT = Path(__file__).resolve().parents[2]
GENERATORS = sorted((ROOT / "etc" / "oslo-config-generator").glob("*.conf"))


def _own_namespaces() -> set[str]:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    lines = setup["entry_points"]["oslo.config.opts"].splitlines()
    return {line.split("=")[0].strip() for line in lines if line.strip()}


def _sections(text: str) -> dict[str, str]:
    """Sample text per ``[section]``, comments included."""
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return {k: "\n".join(v).strip() for k, v in out.items()}


def _generator_settings(path: Path) -> tuple[str, list[str]]:
    # 'namespace' repeats, which configparser refuses: read the lines
    namespaces: list[str] = []
    output = None
    for line in path.read_text().splitlines():
        key, _, value = (p.strip() for p in line.partition("="))
        if key == "namespace":
            namespaces.append(value)
        elif key == "output_file":
            output = value
    assert output, f"{path.name} names no output_file"
    return output, namespaces


def _entry_point(namespace: str):
    eps = metadata.entry_points(group="oslo.config.opts", name=namespace)
    assert eps, f"no oslo.config.opts entry point {namespace}"
    return next(iter(eps)).load()


def _group_name(group) -> str:
    if group is None:
        return "DEFAULT"
    return group if isinstance(group, str) else group.name


@pytest.mark.parametrize("gen", GENERATORS, ids=lambda p: p.name)
def test_committed_sample_is_current(gen, tmp_path):
    output, namespaces = _generator_settings(gen)
    committed = ROOT / output
    assert committed.exists(), f"{output} is missing: run tox -e genconfig"
    fresh = tmp_path / "fresh.conf"
    generator.main(args=["--config-file", str(gen),
                         "--output-file", str(fresh)])
    own = set(namespaces) & _own_namespaces()
    assert own, f"{gen.name} lists none of the project's namespaces"
    own_groups = {_group_name(group) for ns in own
                  for group, _ in _entry_point(ns)()}
    want, have = _sections(fresh.read_text()), _sections(committed.read_text())
    assert set(want) <= set(have), f"{output}: sections missing"
    for name in own_groups:
        assert have.get(name) == want[name], \
            f"{output} [{name}] is stale: run tox -e genconfig"
