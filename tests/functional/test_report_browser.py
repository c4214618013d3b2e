"""The replay report in a real browser: Chromium (Debian's package,
``tools/services/40-chromium.sh``) loads ``report.html`` headless; no
image may be broken and no console message may appear; a screenshot is
kept as an artifact beside the report.

Dependency-free on purpose: a copy of the page gets a small probe script
that records, into ``<body>`` attributes, every image that failed and
every error or console message the page produced; ``--dump-dom`` prints
the DOM after the load event and the test reads the attributes back.
Chromium's own console log (``--enable-logging=stderr``) is checked too,
for messages the page's scripts cannot see (a resource that failed).
"""
from __future__ import annotations

import html.parser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.functional.conftest import state_dir
from tests.replay_slice import write_planetlab_slice
from watcher_adaptive.cmd import main as cli

pytestmark = [pytest.mark.functional]

#: runs first in <head>: hooks errors and console calls before the page
_PROBE_HEAD = """<script>
window.__problems = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  window.__problems.push(t && t.tagName ? 'failed to load ' + t.tagName +
    ' ' + (t.getAttribute('src') || '') : 'error: ' + e.message);
}, true);
['error', 'warn', 'log', 'info'].forEach(function (level) {
  var orig = console[level];
  console[level] = function () {
    window.__problems.push('console.' + level + ': ' +
      Array.prototype.join.call(arguments, ' '));
    return orig.apply(console, arguments);
  };
});
</script>"""
#: runs on load: the verdict on the images, written where --dump-dom
#: shows it
_PROBE_BODY = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) {
    return !i.complete || i.naturalWidth === 0;
  }).map(function (i) { return i.getAttribute('src'); });
  var b = document.body;
  b.setAttribute('data-images', String(imgs.length));
  b.setAttribute('data-broken', broken.join(' '));
  b.setAttribute('data-problems', window.__problems.join(' | '));
  b.setAttribute('data-probe', 'done');
});
</script>"""


def _browser() -> str:
    base = state_dir() / "chromium"
    if (base / "unavailable").exists():
        pytest.skip("Chromium unavailable: "
                    + (base / "unavailable").read_text().strip())
    if (base / "binary").exists():
        return (base / "binary").read_text().strip()
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("no chromium on PATH (tools/services/40-chromium.sh "
                    "installs it: apt-get install chromium)")
    return found


def _chromium(binary: str, profile: Path, *args: str
              ) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary, "--headless", "--disable-gpu", "--no-sandbox",
         "--no-first-run", "--disable-extensions",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--allow-file-access-from-files", *args],
        capture_output=True, text=True, timeout=120)


class _Body(html.parser.HTMLParser):
    """The attributes of the dumped DOM's <body>."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, str] = {}

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "body":
            self.attrs = {k: v or "" for k, v in attrs}


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    trace = write_planetlab_slice(tmp_path_factory.mktemp("slice"))
    out = tmp_path_factory.mktemp("report")
    code = cli.main(["simulate", "--trace", str(trace), "--strategies",
                     "adaptive,lr-mmt,dvfs", "--hosts", "40", "--output",
                     str(out), "--no-progress"])
    assert code == 0
    return out


def test_report_loads_without_broken_images_or_console_messages(
        report_dir, tmp_path):
    binary = _browser()
    page = (report_dir / "report.html").read_text()
    assert page.count("<img ") >= 6
    probed = report_dir / "report-probed.html"
    probed.write_text(page.replace("<head>", "<head>" + _PROBE_HEAD, 1)
                      .replace("</body>", _PROBE_BODY + "</body>", 1))
    run = _chromium(binary, tmp_path / "profile",
                    "--virtual-time-budget=10000", "--dump-dom",
                    probed.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    body = _Body()
    body.feed(run.stdout)
    assert body.attrs.get("data-probe") == "done", run.stdout[:500]
    assert int(body.attrs["data-images"]) == page.count("<img ")
    assert body.attrs["data-broken"] == ""
    assert body.attrs["data-problems"] == ""
    # what the page's scripts cannot see: Chromium's own console lines
    console = [line for line in run.stderr.splitlines()
               if re.search(r":CONSOLE[:(]", line)]
    assert console == []
    # the artifact: the page as a newcomer sees it, kept beside it
    shot = report_dir / "report-screenshot.png"
    run = _chromium(binary, tmp_path / "profile",
                    f"--screenshot={shot}", "--window-size=1280,3000",
                    "--hide-scrollbars", (report_dir / "report.html")
                    .as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    print(f"screenshot: {shot}")
