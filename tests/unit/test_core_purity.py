"""The pure parts import nothing from OpenStack or libvirt.

Every module of the two cores is imported (found on disk, not listed
by hand, so a new core module is covered the day it is added), with
``oslo_*``, ``watcher``, ``libvirt`` and the clients blocked; the
agent's core may not import the control plane either.
"""
import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BLOCKED = ("oslo_config", "oslo_messaging", "oslo_log", "watcher",
           "libvirt", "libvirt_qemu", "gnocchiclient", "novaclient",
           "keystoneauth1", "stevedore")
#: each core, and what it may not import besides BLOCKED
CORES = {"watcher_adaptive.core": (),
         "nova_hooks.core": ("watcher_adaptive",)}
PURE = ("watcher_adaptive.traces", "watcher_adaptive.replay.api",
        "watcher_adaptive.replay.results", "watcher_adaptive.replay.engine",
        "watcher_adaptive.replay.cloudsim_policies",
        "watcher_adaptive.replay.cluster", "watcher_adaptive.replay.runner",
        "watcher_adaptive.replay.validation", "nova_hooks",
        "watcher_adaptive.profiler.record", "watcher_adaptive.profiler.gate",
        "watcher_adaptive.profiler.framing", "watcher_adaptive.profiler.spool",
        "watcher_adaptive.profiler.sink",
        "watcher_adaptive.profiler.guest.agent",
        "watcher_adaptive.exceptions", "nova_hooks.exceptions")

_SCRIPT = """
import importlib, importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
for mod in {modules!r}:
    importlib.import_module(mod)
print('ok')
"""


def core_modules(package: str) -> list[str]:
    """Every module of ``package`` on disk, subpackages included."""
    base = ROOT.joinpath(*package.split("."))
    out = []
    for path in sorted(base.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append(".".join(parts))
    return out


def _run(modules, blocked=BLOCKED):
    code = _SCRIPT.format(blocked=set(blocked), modules=list(modules))
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120)


def test_cores_are_enumerated_from_disk():
    found = {core: core_modules(core) for core in CORES}
    assert "watcher_adaptive.core.planner" in found["watcher_adaptive.core"]
    assert "nova_hooks.core.hint" in found["nova_hooks.core"]
    # the agent's decisions and its state, the fold of its journal
    assert {"nova_hooks.core.reducer", "nova_hooks.core.agent_state"} <= \
        set(found["nova_hooks.core"])
    assert len(found["watcher_adaptive.core"]) >= 10
    assert len(found["nova_hooks.core"]) >= 8


@pytest.mark.parametrize("core", sorted(CORES))
def test_every_core_module_imports_without_openstack(core):
    proc = _run(core_modules(core), BLOCKED + CORES[core])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_pure_modules_import_without_openstack():
    proc = _run(PURE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_the_blocker_blocks():
    proc = _run(["oslo_config"])
    assert proc.returncode != 0
    assert "blocked: oslo_config" in proc.stderr
    proc = _run(["nova_hooks.core.hint", "watcher_adaptive.exceptions"],
                BLOCKED + ("watcher_adaptive",))
    assert "blocked: watcher_adaptive" in proc.stderr


#: what the agent's shell does and its core may not: files, processes,
#: sockets, threads, the clock, randomness, logging
SHELL_MODULES = {"os", "io", "pathlib", "shutil", "socket", "select",
                 "subprocess", "threading", "multiprocessing", "signal",
                 "time", "datetime", "random", "logging", "json"}


@pytest.mark.parametrize("module", core_modules("nova_hooks.core"))
def test_the_agent_core_touches_no_file_clock_or_thread(module):
    """Read as source, imports inside functions included: the agent's
    decisions get what they need as arguments (``step``'s readings, a
    sampling round's figures, the time a record carries)."""
    path = ROOT.joinpath(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else \
        path.with_suffix(".py")
    tree = ast.parse(path.read_text())
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            used |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module \
                and not node.level:
            used.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("open", "print", "input"):
            used.add(f"{node.func.id}()")
    assert not used & (SHELL_MODULES | {"open()", "print()", "input()"}), \
        used
