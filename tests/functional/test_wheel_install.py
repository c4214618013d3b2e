"""The wheel, installed into a fresh virtualenv beside python-watcher,
gives Watcher its two plug-ins (doc/source/install.rst, "Into Watcher's
virtualenv").

``python -m build --wheel`` builds the wheel from the checkout (no build
isolation: pbr, setuptools and wheel come from the test virtualenv, so
nothing is downloaded).  A new virtualenv without pip gets the wheel
(``pip --python``, ``--no-deps``) and sees the test virtualenv's
packages — python-watcher and the requirements, installing them again
would take minutes — through one ``.pth`` line: a plain path, so the
checkout's editable install (a ``.pth`` *hook* there) is not run, and
the new virtualenv's own site-packages comes first.  From a directory
outside the checkout, Watcher's own loaders must load
``adaptive_migration`` and ``adaptive_migrate`` from the installed
wheel: the module files and the entry points' distribution both lie in
the new virtualenv.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.functional]

ROOT = Path(__file__).resolve().parents[2]

#: what the new virtualenv runs: Watcher's loaders, then where each
#: plug-in came from (the script the install page shows)
PROBE = ROOT / "tools" / "check_watcher_plugins.py"


def _run(cmd: list[str], cwd: Path, **env: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **env},
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (cmd, proc.stdout[-3000:],
                                  proc.stderr[-3000:])
    return proc.stdout


def test_wheel_in_a_fresh_venv_gives_watcher_both_plugins(tmp_path):
    pytest.importorskip("build")
    pytest.importorskip("watcher")
    started = time.monotonic()
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
          "--outdir", str(dist), str(ROOT)], cwd=ROOT)
    [wheel] = dist.glob("watcher_adaptive-*.whl")
    built_s = time.monotonic() - started

    target = tmp_path / "watcher-venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print("
                      "sysconfig.get_paths()['purelib'])"],
                     cwd=tmp_path).strip())
    # python-watcher and the requirements, from the test virtualenv
    (site / "zz-test-venv.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install",
          "-q", "--no-deps", "--no-index", "--disable-pip-version-check",
          str(wheel)], cwd=tmp_path)

    # from outside the checkout, with nothing of it on the path
    away = tmp_path / "elsewhere"
    away.mkdir()
    found = json.loads(_run([str(python), "-I", str(PROBE)], cwd=away))
    assert found["names"] == ["adaptive_migration", "adaptive_migrate"]
    for key in ("strategy", "action", "package", "strategy_dist",
                "action_dist"):
        path = Path(found[key]).resolve()
        assert path.is_relative_to(site.resolve()), (key, path, site)
        assert not path.is_relative_to(ROOT), (key, path)
    print(f"wheel {wheel.name} built in {built_s:.0f} s; installed and "
          f"loaded in {time.monotonic() - started - built_s:.0f} s")
