"""The ``openstack optimize`` examples of the documentation and README
would be accepted: every ``audit create -p key=value`` names a parameter
of the strategy's schema with a valid value (read as the Watcher client
reads it: JSON, else a string), each command's parameters together make
a valid policy, and ``audittemplate create`` names the strategy and its
goal.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from watcher_adaptive.strategy import schema

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.rst", *sorted((ROOT / "doc" / "source").rglob(
    "*.rst"))]


def _commands(prefix: str) -> list[tuple[str, str]]:
    """``(page, command)`` for each command starting with ``prefix``,
    its backslash-continued lines joined."""
    out = []
    for page in PAGES:
        text = re.sub(r"\\\n\s*", " ", page.read_text())
        for m in re.finditer(rf"{re.escape(prefix)}[^\n`]*", text):
            out.append((page.relative_to(ROOT).as_posix(), m.group(0)))
    return out


def _client_value(text: str):
    # python-watcherclient's split_and_deserialize: JSON, else the string
    try:
        return json.loads(text)
    except ValueError:
        return text


AUDITS = [(page, cmd) for page, cmd in _commands(
    "openstack optimize audit create") if " -p " in cmd]


def test_the_docs_have_audit_examples():
    pages = {page for page, _ in AUDITS}
    assert "doc/source/user/strategy.rst" in pages
    assert len(AUDITS) >= 2


@pytest.mark.parametrize("page, command", AUDITS,
                         ids=[f"{p}:{i}" for i, (p, _) in
                              enumerate(AUDITS)])
def test_audit_parameters_are_valid(page, command):
    params = dict(
        (key, _client_value(value)) for key, value in
        re.findall(r"-p\s+([A-Za-z_]+)=(\S+)", command))
    assert params, command
    jsonschema.validate(params, schema.SCHEMA)
    # combinations the schema alone cannot refuse
    schema.to_parameters(params)


def test_audit_template_names_the_strategy_and_its_goal():
    from watcher_adaptive.strategy import adaptive_migration

    strategy_cls = adaptive_migration.AdaptiveMigration

    templates = _commands("openstack optimize audittemplate create")
    assert templates
    for page, command in templates:
        words = command.split()
        goal = words[5]
        strategy = words[words.index("--strategy") + 1]
        assert goal == strategy_cls.get_goal_name(), (page, command)
        assert strategy == strategy_cls.get_name(), (page, command)


def test_a_wrong_parameter_would_be_caught():
    """The check above is not vacuous."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"horizn": 1800}, schema.SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"quantile": _client_value("1.5")},
                            schema.SCHEMA)
