"""The documentation builds with warnings as errors."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_sphinx_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html",
         str(ROOT / "doc" / "source"), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "html" / "user" / "validation.html").exists()
    for page in ("admin/install.html", "admin/limits.html", "install.html",
                 "user/traces.html"):
        assert (tmp_path / "html" / page).exists(), page
    # the configuration reference lists the options of all three
    # namespaces (one option of each)
    reference = (tmp_path / "html" / "configuration.html").read_text()
    for option in ("model_path", "max_record_bytes", "balloon_floor_mib",
                   "auth_url"):
        assert option in reference, option


def test_readme_is_valid_restructuredtext():
    docutils_core = pytest.importorskip("docutils.core")
    text = (ROOT / "README.rst").read_text()
    docutils_core.publish_doctree(
        text, settings_overrides={"halt_level": 2, "report_level": 2})
    assert "bash tools/run-main.sh" in text
    assert "bash tools/run-tests.sh" in text


def test_traces_page_and_report_footer_name_the_same_sources():
    """One statement of the traces' sources and terms: the traces page
    includes the packaged ``TRACES_ATTRIBUTION.rst``, and the report's
    one-line attributions cite what that file cites."""
    from watcher_adaptive.traces import attribution

    page = (ROOT / "doc" / "source" / "user" / "traces.rst").read_text()
    assert ".. include:: ../../../watcher_adaptive/data/" \
        "TRACES_ATTRIBUTION.rst" in page
    full = (ROOT / "watcher_adaptive" / "data"
            / "TRACES_ATTRIBUTION.rst").read_text()
    assert full.count("Terms:") == 2
    for source, words in (("planetlab", ("CoMon", "Beloglazov", "Park")),
                          ("bitbrains", ("GWA-T-12", "Shen", "Iosup"))):
        line = attribution.attribution(source)
        for word in words:
            assert word in line and word in full, (source, word)
