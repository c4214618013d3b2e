"""Release notes: every note in ``releasenotes/notes`` is a YAML mapping
of reno's sections to reStructuredText that parses, and the Sphinx tree
reno renders them into is there (``tox -e releasenotes`` builds it; reno
itself needs the git history, so it is not run here).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NOTES = sorted((ROOT / "releasenotes" / "notes").glob("*.yaml"))
# reno's default sections; prelude is a single text
SECTIONS = {"prelude", "features", "issues", "upgrade", "deprecations",
            "critical", "security", "fixes", "other"}


def _check_rst(text: str) -> None:
    docutils_core = pytest.importorskip("docutils.core")
    docutils_core.publish_doctree(
        text, settings_overrides={"halt_level": 2, "report_level": 2})


@pytest.mark.parametrize("note", NOTES, ids=lambda p: p.name)
def test_note_is_valid(note):
    # reno finds a note by the 16 hex digits that end its name
    assert re.fullmatch(r"[a-z0-9-]+-[0-9a-f]{16}\.yaml", note.name)
    data = yaml.safe_load(note.read_text())
    assert isinstance(data, dict) and data
    assert set(data) <= SECTIONS, set(data) - SECTIONS
    for section, value in data.items():
        items = [value] if section == "prelude" else value
        assert isinstance(items, list) and items, section
        for item in items:
            assert isinstance(item, str) and item.strip(), section
            _check_rst(item)


def test_unique_note_ids():
    ids = [n.stem.rsplit("-", 1)[1] for n in NOTES]
    assert len(ids) == len(set(ids))


def test_operator_kit_has_a_note():
    assert any(n.name.startswith("operator-kit-") for n in NOTES)


def test_reno_sphinx_tree_exists():
    source = ROOT / "releasenotes" / "source"
    assert "reno.sphinxext" in (source / "conf.py").read_text()
    assert "unreleased" in (source / "index.rst").read_text()
    assert ".. release-notes::" in (source / "unreleased.rst").read_text()
