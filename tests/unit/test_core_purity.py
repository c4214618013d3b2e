"""The pure parts import nothing from OpenStack or libvirt."""
import subprocess
import sys

BLOCKED = ("oslo_config", "oslo_messaging", "oslo_log", "watcher",
           "libvirt", "gnocchiclient", "novaclient", "keystoneauth1",
           "stevedore")
PURE = ("watcher_adaptive.traces", "watcher_adaptive.replay.api",
        "watcher_adaptive.replay.results", "watcher_adaptive.replay.engine",
        "watcher_adaptive.replay.cloudsim_policies",
        "watcher_adaptive.replay.cluster", "watcher_adaptive.replay.runner",
        "watcher_adaptive.replay.validation", "nova_hooks",
        "watcher_adaptive.profiler.record", "watcher_adaptive.profiler.gate",
        "watcher_adaptive.profiler.framing", "watcher_adaptive.profiler.spool",
        "watcher_adaptive.profiler.sink",
        "watcher_adaptive.profiler.guest.agent",
        "watcher_adaptive.core.migration", "watcher_adaptive.core.hotset")

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


def _run(modules):
    code = _SCRIPT.format(blocked=set(BLOCKED), modules=list(modules))
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120)


def test_pure_modules_import_without_openstack():
    proc = _run(PURE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_the_blocker_blocks():
    proc = _run(["oslo_config"])
    assert proc.returncode != 0
    assert "blocked: oslo_config" in proc.stderr
