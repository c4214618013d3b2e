"""What the strategy plans for an overloading host: the scenario the
action's functional tests execute (with the Compute-API stand-in, and
end to end through real libvirt)."""
from __future__ import annotations


def plan_for_overloading_host(tmp_path, source: str, dest: str,
                              tag: str) -> tuple[list, dict[str, str]]:
    """What the strategy plans: five climbing VMs on ``source``, an idle
    ``dest``; the moves are ``adaptive_migrate`` actions with hints.
    Returns the planned actions and the VMs (name -> instance UUID;
    ``tag`` keeps the UUIDs apart from other runs')."""
    from tests.unit.strategy import builders
    from tests.unit.strategy.test_adaptive_migration import load_strategy

    vms = {f"busy-{tag}-{i}": {"host": source,
                               "metadata": {"adaptive_vm_type": "db"}}
           for i in range(5)}
    model = builders.make_model({source: {}, dest: {}}, vms)
    rising = [0.5 + 0.04 * k for k in range(11)] + [0.9]
    cpu = {builders.vm_uuid(name): rising for name in vms}
    (tmp_path / "strategy").mkdir()
    strategy = load_strategy(tmp_path / "strategy",
                             builders.RecordingSource(cpu), horizon=1800)
    strategy.config.action_type = "adaptive_migrate"
    strategy._history_source = type("NoHistory", (), {
        "read": staticmethod(lambda _uuid: [])})()
    strategy._compute_model = model
    planned = [a for a in strategy.execute().actions
               if a["action_type"] == "adaptive_migrate"]
    assert planned, "the strategy planned no adaptive_migrate"
    return planned, {name: builders.vm_uuid(name) for name in vms}
