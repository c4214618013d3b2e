"""Each ``ConfigOpts`` the agent's options are registered on keeps its
settings to itself: several live in one process (the action's client,
agents in the functional tests, the tests' own), and what one of them
overrides must not become another's value (#18)."""
from __future__ import annotations

import pytest
from oslo_config import cfg

from nova_hooks import conf as agent_conf


def fresh_conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    agent_conf.register_opts(conf)
    conf([], default_config_files=[])
    return conf


@pytest.mark.parametrize("group,name,value", [
    ("agent", "rpc_topic", "topic-of-one-conf"),
    ("page_sampling", "vm_type_thresholds", {"db": "0.3/0.02/60"}),
    ("resource_manager", "balloon_floor_mib", 4096),
])
def test_a_setting_on_one_conf_is_no_other_confs_value(group, name, value):
    one, other = fresh_conf(), fresh_conf()
    default = getattr(getattr(other, group), name)
    one.set_override(name, value, group)
    assert getattr(getattr(one, group), name) == value
    assert getattr(getattr(other, group), name) == default
    # nor for a conf made afterwards, nor through set_default
    one.set_default(name, value, group)
    assert getattr(getattr(fresh_conf(), group), name) == default


def test_the_actions_topic_is_not_the_agents_in_the_same_process():
    pytest.importorskip("oslo_messaging")
    from nova_hooks.agent import rpc
    from watcher_adaptive.adapters.agent_rpc import AgentNotifier

    notifier = AgentNotifier("fake://", "topic-of-the-action", 1.0)
    try:
        assert notifier._client("cmp-b").target.topic == \
            "topic-of-the-action"
        # an agent endpoint configured in this process afterwards
        # listens on its own configured topic
        conf = fresh_conf()
        assert conf.agent.rpc_topic == "nova-adaptive-agent"
        client = rpc.make_client(conf, "cmp-b", url="fake://")
        assert client.target.topic == "nova-adaptive-agent"
        client.transport.cleanup()
    finally:
        notifier.close()
