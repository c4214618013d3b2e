"""nova_hooks.core imports nothing but numpy and the standard library."""
import subprocess
import sys

BLOCKED = {"oslo_config", "oslo_messaging", "oslo_log", "libvirt",
           "libvirt_qemu", "stevedore", "watcher", "watcher_adaptive"}

SCRIPT = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import nova_hooks.core, nova_hooks.core.lifecycle, nova_hooks.core.contract
import nova_hooks.core.journal_model
print('ok')
"""


def test_core_imports_without_openstack_or_libvirt():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(blocked=BLOCKED)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
