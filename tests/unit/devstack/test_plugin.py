"""The DevStack plugin, run phase by phase in a stubbed DevStack.

``stub-devstack.sh`` stands in for DevStack's functions; every path the
plugin writes to points into a temporary directory, and the console
scripts it calls are shims that record their arguments (the guest-agent
zipapp, the real ``oslo-config-generator`` and the real qemu hook run for
real).  The tests then load what the plugin wrote with the project's own
option definitions and check the processes it would have started.
"""
from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import stat
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from oslo_config import cfg

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
STUB = HERE / "stub-devstack.sh"
INI = ROOT / "tools" / "services" / "openstack" / "iniset.py"

# Services DevStack enables on its own (stackrc) that the plugin looks at.
DEVSTACK_DEFAULTS = ["key", "g-api", "n-api", "n-cpu", "placement-api"]

ALL_PHASES = [("stack", "install"), ("stack", "post-config"),
              ("stack", "extra")]

# A shim console script: records its arguments like the stubbed DevStack
# functions do; REAL names the function it then runs in this interpreter.
SHIM = """#!{python}
import os, sys
with open(os.environ["STUB_CALLS"], "a") as calls:
    calls.write("\\x1f".join([{name!r}] + sys.argv[1:]) + "\\n")
{real}
"""
REAL = {
    "watcher-adaptive": (
        "if sys.argv[1:2] == ['guest-agent-zipapp']:\n"
        "    from watcher_adaptive.cmd.main import main\n"
        "    sys.exit(main())"),
    "nova-adaptive-qemu-hook": (
        "from nova_hooks.cmd.qemu_hook import main\n"
        "sys.exit(main())"),
}


class Stack:
    """One DevStack node: its temporary tree, environment and calls."""

    def __init__(self, root: Path, services: list[str], **settings: str):
        self.root = root
        self.dest = root / "opt" / "stack"
        self.data = self.dest / "data"
        self.etc = root / "etc"
        self.bin = root / "venv" / "bin"
        self.calls_file = root / "calls"
        for d in (self.dest, self.data, self.bin, self.etc / "watcher",
                  self.etc / "nova"):
            d.mkdir(parents=True, exist_ok=True)
        # enable_plugin clones the repository to $DEST/<plugin name>
        (self.dest / "watcher-adaptive").symlink_to(ROOT)
        self._shims()
        self.env = {
            "PATH": os.environ["PATH"], "HOME": str(root),
            "LC_ALL": "C.UTF-8",
            "DEST": str(self.dest), "DATA_DIR": str(self.data),
            "ENABLED_SERVICES": ",".join(services),
            "STUB_CALLS": str(self.calls_file), "STUB_BIN": str(self.bin),
            "STUB_PYTHON": sys.executable, "STUB_INI": str(INI),
            "WATCHER_CONF": str(self.etc / "watcher" / "watcher.conf"),
            "WATCHER_BIN_DIR": str(root / "watcher-bin"),
            "NOVA_CPU_CONF": str(self.etc / "nova" / "nova-cpu.conf"),
            "WATCHER_ADAPTIVE_AGENT_CONF_DIR":
                str(self.etc / "nova-adaptive-agent"),
            "WATCHER_ADAPTIVE_COLLECTOR_CONF_DIR":
                str(self.etc / "watcher-adaptive"),
            "WATCHER_ADAPTIVE_LIBVIRT_HOOK":
                str(self.etc / "libvirt" / "hooks" / "qemu"),
            "WATCHER_ADAPTIVE_MARKER_DIR": str(root / "run" / "markers"),
            "WATCHER_ADAPTIVE_AGENT_HOST": "compute-1",
            **settings,
        }

    def _shims(self) -> None:
        real_bin = Path(sys.executable).parent
        (self.bin / "oslo-config-generator").symlink_to(
            real_bin / "oslo-config-generator")
        for name, real in REAL.items():
            path = self.bin / name
            path.write_text(SHIM.format(python=sys.executable, name=name,
                                        real=real))
            path.chmod(0o755)

    def run(self, phases) -> None:
        """Source settings once and plugin.sh for each phase, as stack.sh
        does (errexit, and nounset to catch a misspelt variable)."""
        lines = ["set -eu -o pipefail", f"source {shlex.quote(str(STUB))}",
                 f"source {ROOT}/devstack/settings"]
        for mode, phase in phases:
            # unstack.sh and clean.sh pass no phase at all
            lines += [f"_stub_record phase {mode} {shlex.quote(phase)}",
                      f"source {ROOT}/devstack/plugin.sh {mode} {phase}"]
        proc = subprocess.run(["bash", "-c", "\n".join(lines)],
                              env=self.env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def calls(self, name: str | None = None, phase: str | None = None):
        """The recorded calls ``[name, args...]``, optionally of one
        function and of one phase (``"stack:extra"``)."""
        out, current = [], None
        text = (self.calls_file.read_text()
                if self.calls_file.exists() else "")
        for line in text.splitlines():
            call = line.split("\x1f")
            if call[0] == "phase":
                current = f"{call[1]}:{call[2]}"
                continue
            if (name is None or call[0] == name) and (
                    phase is None or phase == current):
                out.append(call)
        return out

    @property
    def agent_conf(self) -> Path:
        return self.etc / "nova-adaptive-agent" / "nova-adaptive-agent.conf"

    @property
    def collector_conf(self) -> Path:
        return (self.etc / "watcher-adaptive"
                / "watcher-adaptive-collector.conf")

    @property
    def watcher_conf(self) -> Path:
        return self.etc / "watcher" / "watcher.conf"

    @property
    def hook(self) -> Path:
        return self.etc / "libvirt" / "hooks" / "qemu"


def _ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(path)
    return parser


def _load(path: Path, register) -> cfg.ConfigOpts:
    """``path`` as the service itself would parse it."""
    conf = cfg.ConfigOpts()
    register(conf)
    conf(args=[], default_config_files=[str(path)])
    return conf


def _documented(path: Path) -> dict[str, set[str]]:
    """Options the generated sample documents per section
    (``#name = ...`` lines)."""
    out: dict[str, set[str]] = {}
    section = None
    for line in path.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
            out.setdefault(section, set())
        m = re.match(r"^#([a-z_0-9]+) = ", line)
        if m and section:
            out[section].add(m.group(1))
    return out


def _assert_every_option_documented(path: Path) -> None:
    """An option the plugin sets under a name the service does not have
    would be ignored silently by oslo.config: catch misspellings."""
    documented = _documented(path)
    ini = _ini(path)
    for section in ["DEFAULT", *ini.sections()]:
        items = (ini.defaults() if section == "DEFAULT"
                 else {k: v for k, v in ini.items(section, raw=True)
                       if k not in ini.defaults()})
        for option in items:
            assert option in documented.get(section, ()), \
                f"[{section}] {option} is not an option of {path.name}"


def _local_conf(node: str) -> tuple[list[str], list[str]]:
    """The services and the plugins (in order) of the sample
    ``devstack/local.conf.<node>``."""
    services: list[str] = list(DEVSTACK_DEFAULTS)
    plugins: list[str] = []
    in_localrc = False
    for line in (ROOT / "devstack" / f"local.conf.{node}").read_text(
            ).splitlines():
        if line.startswith("[["):
            in_localrc = line == "[[local|localrc]]"
            continue
        words = line.split()
        if not in_localrc or not words:
            continue
        if line.startswith("ENABLED_SERVICES="):
            services = line.partition("=")[2].split(",")
        elif words[0] == "enable_service":
            services += words[1:]
        elif words[0] == "enable_plugin":
            plugins.append(words[1])
    return services, plugins


def _local_conf_settings(node: str) -> dict[str, str]:
    """The plugin's own settings the sample sets (``WATCHER_ADAPTIVE_*``
    but the repository)."""
    text = (ROOT / "devstack" / f"local.conf.{node}").read_text()
    return dict(re.findall(r"^(WATCHER_ADAPTIVE_(?!REPO)\w+)=(\S+)$", text,
                           re.M))


def test_sample_local_confs_enable_plugins_in_order():
    _, controller = _local_conf("controller")
    assert controller.index("ceilometer") < controller.index("watcher") \
        < controller.index("watcher-adaptive")
    _, compute = _local_conf("compute")
    assert "watcher" not in compute
    assert compute.index("ceilometer") < compute.index("watcher-adaptive")


# --------------------------------------------------------------------
# the sample controller: Watcher and a compute on one node

@pytest.fixture(scope="module")
def aio(tmp_path_factory):
    services, _ = _local_conf("controller")
    stack = Stack(tmp_path_factory.mktemp("aio"), services,
                  WATCHER_ADAPTIVE_QEMU_HOOK="true")
    stack.run(ALL_PHASES)
    return stack


def _requirements() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [r for r in (line.split("#")[0].strip() for line in lines) if r]


def test_installs_the_package_keeping_devstacks_watcher(aio):
    wanted = [r for r in _requirements()
              if not r.startswith("python-watcher")]
    assert len(wanted) == len(_requirements()) - 1
    assert aio.calls("pip_install", "stack:install") == [
        ["pip_install", *wanted],
        ["pip_install", "--no-deps", "-e", f"{aio.dest}/watcher-adaptive"]]
    assert len(aio.calls("pip_install")) == 2


def test_writes_the_strategy_options_into_watcher_conf(aio):
    from watcher_adaptive.conf import strategy

    conf = _load(aio.watcher_conf, lambda c: c.register_opts(
        strategy.OPTS, group=strategy.GROUP))
    opts = conf[strategy.GROUP]
    assert opts.model_path == ""
    assert opts.journal_path == str(
        aio.data / "watcher-adaptive" / "adaptive_migration_moves.json")
    assert opts.gnocchi_chunk_size == 500
    assert opts.resource_type == "instance"
    assert opts.allow_pinned_moves is False
    assert opts.action_type == "adaptive_migrate"
    assert (aio.data / "watcher-adaptive").is_dir()
    groups = {c[2] for c in aio.calls("iniset")
              if c[1] == str(aio.watcher_conf)}
    assert groups == {strategy.GROUP, "watcher_planners.weight"}


def test_the_weight_planner_knows_adaptive_migrate(aio):
    """Watcher's weight planner options, read with the installed
    Watcher's own definitions from what the plugin wrote: adaptive_migrate
    has migrate's weight and parallelization, and every default of the
    installed Watcher is kept."""
    from oslo_config import cfg
    from watcher.decision_engine.planner import weight

    conf = cfg.ConfigOpts()
    conf.register_opts(weight.WeightPlanner.get_config_opts(),
                       group="watcher_planners.weight")
    conf(["--config-file", str(aio.watcher_conf)])
    group = conf["watcher_planners.weight"]
    weights = {k: int(v) for k, v in group.weights.items()}
    parallel = {k: int(v) for k, v in group.parallelization.items()}
    for name, value in weight.WeightPlanner.action_weights.items():
        assert weights[name] == value
    for name, value in weight.WeightPlanner.parallelization.items():
        assert parallel[name] == value
    assert weights["adaptive_migrate"] == weights["migrate"]
    assert parallel["adaptive_migrate"] == parallel["migrate"]


def test_agent_config_is_generated_and_set(aio):
    from nova_hooks import conf as agent_conf

    text = aio.agent_conf.read_text()
    # the generated sample documents every option in place
    assert "#balloon_floor_mib = 256" in text
    assert "#max_concurrent_migrations = 2" in text
    _assert_every_option_documented(aio.agent_conf)
    conf = _load(aio.agent_conf, agent_conf.register_opts)
    assert conf.agent.host == "compute-1"
    assert conf.agent.rpc_enabled is True
    assert conf.agent.dry_run is False
    assert conf.agent.journal_path == str(
        aio.data / "watcher-adaptive" / "nova-adaptive-agent"
        / "journal.jsonl")
    assert Path(conf.agent.journal_path).parent.is_dir()
    assert conf.agent.hook_marker_dir == aio.env[
        "WATCHER_ADAPTIVE_MARKER_DIR"]
    assert _ini(aio.agent_conf)["DEFAULT"]["transport_url"] == \
        "rabbit://stackrabbit:secret@192.0.2.10:5672/"


def test_collector_config_is_generated_and_set(aio):
    from watcher_adaptive.cmd import collector as collector_cmd
    from watcher_adaptive.conf import collector

    assert "#max_record_bytes = 4096" in aio.collector_conf.read_text()
    _assert_every_option_documented(aio.collector_conf)
    conf = _load(aio.collector_conf, collector.register)
    opts = conf.profiler_collector
    state = aio.data / "watcher-adaptive" / "collector"
    assert opts.channel == "qemu-ga"
    assert opts.guest_discovery == "libvirt"
    assert opts.gnocchi_auth == "keystone"
    assert opts.archive_policy == "watcher-adaptive-profile"
    assert opts.spool_path == str(state / "profile-spool.sqlite")
    assert opts.status_path == str(state / "collector-status.json")
    assert Path(opts.socket_dir).is_dir()
    # the Keystone section is complete enough for keystoneauth to build
    # the collector's Gnocchi client (no request is made)
    client = collector_cmd.gnocchi_client(conf)
    auth = client.api.session.auth
    assert auth.auth_url == "http://192.0.2.10/identity"
    assert auth._username == "admin"
    assert auth._project_name == "admin"


def test_permits_post_copy_in_nova_cpu_conf(aio):
    nova_cpu = _ini(Path(aio.env["NOVA_CPU_CONF"]))
    assert nova_cpu["libvirt"]["live_migration_permit_post_copy"] == "True"


def test_configuration_is_written_before_any_service_starts(aio):
    written = {c[1] for c in aio.calls("iniset", "stack:post-config")}
    assert written == {str(aio.watcher_conf), str(aio.agent_conf),
                       str(aio.collector_conf), aio.env["NOVA_CPU_CONF"]}
    assert not aio.calls("iniset", "stack:extra")
    assert not aio.calls("run_process", "stack:post-config")
    # nothing outside the temporary tree
    for call in aio.calls("iniset"):
        assert call[1].startswith(str(aio.root)), call


def test_starts_agent_collector_and_restarts_decision_engine(aio):
    assert aio.calls("run_process", "stack:extra") == [
        ["run_process", "watcher-adaptive-agent",
         f"{aio.bin}/nova-adaptive-agent --config-file {aio.agent_conf}",
         "", "root"],
        ["run_process", "watcher-adaptive-collector",
         f"{aio.bin}/watcher-adaptive-collector --config-file "
         f"{aio.collector_conf}"],
        ["run_process", "watcher-decision-engine",
         f"{aio.root}/watcher-bin/watcher-decision-engine --config-file "
         f"{aio.watcher_conf}"],
    ]
    assert aio.calls("stop_process", "stack:extra") == [
        ["stop_process", "watcher-decision-engine"]]


def test_commands_the_plugin_runs_are_our_console_scripts():
    """Every ``$bin/<script>`` of the plugin is declared in setup.cfg."""
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    declared = {line.split("=")[0].strip() for line in
                setup["entry_points"]["console_scripts"].splitlines()
                if line.strip()}
    lib = (ROOT / "devstack" / "lib" / "watcher-adaptive").read_text()
    used = set(re.findall(r'\$(?:bin|\(_watcher_adaptive_bin_dir\))/'
                          r'([a-z-]+)', lib))
    assert used - {"oslo-config-generator"} <= declared
    assert {"nova-adaptive-agent", "watcher-adaptive-collector",
            "watcher-adaptive", "nova-adaptive-qemu-hook"} <= used


def test_creates_the_profile_archive_policy_like_profiler_setup(aio):
    """The `openstack metric` calls create what
    ``sink.ensure_archive_policy`` (behind ``profiler-setup``) creates."""
    from gnocchiclient import exceptions as gexc

    from watcher_adaptive.profiler import sink

    class Api:
        def __init__(self):
            self.created = []

        def get(self, name):
            raise gexc.NotFound(404)

        def create(self, body):
            self.created.append(body)

    class Client:
        archive_policy = Api()
        archive_policy_rule = Api()

    assert sink.ensure_archive_policy(Client, "watcher-adaptive-profile",
                                      granularity_s=30)
    expected_policy, = Client.archive_policy.created
    expected_rule, = Client.archive_policy_rule.created

    metric = [c[2:] for c in aio.calls("openstack", "stack:extra")
              if c[1] == "metric"]
    assert [m[:2] for m in metric] == [
        ["archive-policy", "show"], ["archive-policy", "create"],
        ["archive-policy-rule", "show"], ["archive-policy-rule", "create"]]
    args = metric[1][2:]
    assert args[0] == expected_policy["name"]
    definitions = [dict(p.split(":") for p in args[i + 1].split(","))
                   for i, a in enumerate(args) if a == "--definition"]
    assert definitions == expected_policy["definition"]
    methods = [args[i + 1] for i, a in enumerate(args) if a == "-m"]
    assert sorted(methods) == sorted(expected_policy["aggregation_methods"])
    assert args[args.index("--back-window") + 1] == str(
        expected_policy["back_window"])
    rule = metric[3][2:]
    assert rule == [expected_rule["name"],
                    "--archive-policy-name",
                    expected_rule["archive_policy_name"],
                    "--metric-pattern", expected_rule["metric_pattern"]]


def test_gives_the_default_image_a_guest_agent_channel(aio):
    images = [c for c in aio.calls("openstack", "stack:extra")
              if c[1] == "image"]
    assert images == [["openstack", "image", "set", "--property",
                       "hw_qemu_guest_agent=yes",
                       "cirros-0.6.2-x86_64-disk"]]


def test_packs_the_guest_agent_for_image_builders(aio):
    pyz = aio.data / "watcher-adaptive" / "watcher-adaptive-guest-agent.pyz"
    assert aio.calls("watcher-adaptive") == [
        ["watcher-adaptive", "guest-agent-zipapp", str(pyz)]]
    with zipfile.ZipFile(pyz) as zf:
        assert "__main__.py" in zf.namelist()


def test_qemu_hook_is_installed_and_leaves_its_marker(aio):
    text = aio.hook.read_text()
    assert "written by the watcher-adaptive devstack plugin" in text
    assert aio.hook.stat().st_mode & stat.S_IXUSR
    assert aio.calls("restart_service", "stack:post-config") == [
        ["restart_service", "libvirtd"]]
    # libvirt's call on the destination at 'migrate begin'
    uuid = "2f0e5a9c-3b1d-4c6e-8f7a-9d0b1c2e3f4a"
    xml = f"<domain type='kvm'><name>instance-0001</name><uuid>{uuid}" \
          "</uuid></domain>"
    proc = subprocess.run([str(aio.hook), "instance-0001", "migrate",
                           "begin", "-"], input=xml, text=True,
                          capture_output=True, env=aio.env, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    marker = Path(aio.env["WATCHER_ADAPTIVE_MARKER_DIR"]) / \
        f"{uuid}.migrate"
    assert json.loads(marker.read_text())["name"] == "instance-0001"


# --------------------------------------------------------------------
# the other roles

def test_compute_node_then_unstack_and_clean(tmp_path):
    services, _ = _local_conf("compute")
    settings = _local_conf_settings("compute")
    assert settings == {"WATCHER_ADAPTIVE_QEMU_HOOK": "True"}
    stack = Stack(tmp_path, services, **settings)
    stack.run(ALL_PHASES)
    assert not stack.watcher_conf.exists()
    assert not stack.calls("openstack")
    assert not stack.calls("watcher-adaptive")
    assert [c[1] for c in stack.calls("run_process")] == [
        "watcher-adaptive-agent", "watcher-adaptive-collector"]
    assert not stack.calls("stop_process")
    assert stack.agent_conf.exists() and stack.collector_conf.exists()
    assert stack.hook.exists()
    assert stack.calls("restart_service") == [
        ["restart_service", "libvirtd"]]

    stack.run([("unstack", ""), ("clean", "")])
    assert stack.calls("stop_process", "unstack:") == [
        ["stop_process", "watcher-adaptive-agent"],
        ["stop_process", "watcher-adaptive-collector"]]
    assert not (stack.data / "watcher-adaptive").exists()
    assert not stack.agent_conf.parent.exists()
    assert not stack.collector_conf.parent.exists()
    assert not stack.hook.exists()
    # nova-cpu.conf belongs to Nova: clean leaves it alone
    assert _ini(Path(stack.env["NOVA_CPU_CONF"]))["libvirt"][
        "live_migration_permit_post_copy"] == "True"


def test_controller_with_basic_auth_gnocchi_uses_profiler_setup(tmp_path):
    from watcher_adaptive.cmd import main as cli

    stack = Stack(tmp_path, ["watcher-decision-engine"],
                  WATCHER_ADAPTIVE_GNOCCHI_AUTH="basic",
                  WATCHER_ADAPTIVE_GNOCCHI_URL="http://gnocchi:8041",
                  WATCHER_ADAPTIVE_PROFILE_GRANULARITY="60")
    stack.run(ALL_PHASES)
    assert stack.calls("pip_install")[-1] == [
        "pip_install", "--no-deps", "-e", f"{stack.dest}/watcher-adaptive"]
    setup = [c[1:] for c in stack.calls("watcher-adaptive")
             if c[1] == "profiler-setup"]
    assert len(setup) == 1
    # the real command line accepts what the plugin passes
    args = cli.build_parser().parse_args(setup[0])
    assert (args.gnocchi, args.user, args.archive_policy,
            args.granularity) == ("http://gnocchi:8041", "admin",
                                  "watcher-adaptive-profile", 60)
    assert not [c for c in stack.calls("openstack") if c[1] == "metric"]
    # no Glance on this node: no image is touched
    assert not stack.calls("openstack")
    assert [c[1] for c in stack.calls("run_process")] == [
        "watcher-decision-engine"]
    assert not stack.agent_conf.exists()
    assert not Path(stack.env["NOVA_CPU_CONF"]).exists()


def test_existing_archive_policy_and_rule_are_kept(tmp_path):
    stack = Stack(tmp_path, ["watcher-decision-engine"],
                  STUB_OPENSTACK_EXISTING="watcher-adaptive-profile,"
                                          "watcher-adaptive-profile-rule")
    stack.run(ALL_PHASES)
    verbs = [c[3] for c in stack.calls("openstack") if c[1] == "metric"]
    assert verbs == ["show", "show"]


def test_a_foreign_qemu_hook_is_left_alone(tmp_path):
    stack = Stack(tmp_path, ["n-cpu", "watcher-adaptive-agent"],
                  WATCHER_ADAPTIVE_QEMU_HOOK="yes")
    stack.hook.parent.mkdir(parents=True)
    foreign = textwrap.dedent("""\
        #!/bin/sh
        # the operator's own hook
        exit 0
        """)
    stack.hook.write_text(foreign)
    stack.run(ALL_PHASES + [("unstack", ""), ("clean", "")])
    assert stack.hook.read_text() == foreign
    warnings = stack.calls("warn", "stack:post-config")
    assert len(warnings) == 1 and "is not watcher-adaptive's" in " ".join(
        warnings[0])
    assert not stack.calls("restart_service")


def test_a_node_without_our_services_is_left_alone(tmp_path):
    stack = Stack(tmp_path, ["key", "n-api", "n-cpu", "g-api"])
    stack.run(ALL_PHASES + [("unstack", ""), ("clean", "")])
    assert stack.calls() == []
    assert not any(stack.etc.rglob("*.conf"))


def test_qemu_hook_can_add_a_second_monitor_on_this_destination(tmp_path):
    stack = Stack(tmp_path, ["n-cpu", "watcher-adaptive-agent"],
                  WATCHER_ADAPTIVE_QEMU_HOOK="True",
                  WATCHER_ADAPTIVE_QEMU_HOOK_SECOND_MONITOR="True")
    stack.run(ALL_PHASES)
    uuid = "2f0e5a9c-3b1d-4c6e-8f7a-9d0b1c2e3f4b"
    xml = f"<domain type='kvm'><name>instance-0002</name><uuid>{uuid}" \
          "</uuid></domain>"
    proc = subprocess.run([str(stack.hook), "instance-0002", "migrate",
                           "begin", "-"], input=xml, text=True,
                          capture_output=True, env=stack.env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "unix:/run/libvirt/qemu/instance-0002.qmp2,server=on,wait=off" \
        in proc.stdout
    assert proc.stdout.rstrip().endswith("</domain>")
