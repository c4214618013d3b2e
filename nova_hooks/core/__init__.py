"""Pure core of the destination agent: numpy and the standard library.

Classification (:mod:`.classify`), the balloon and pinning planners
(:mod:`.balloon`, :mod:`.pinning`), the migration state machine
(:mod:`.lifecycle`), the agent's every decision as one reducer
(:mod:`.reducer`: state, event and readings, :mod:`.agent_events`, and
policy in; the next state and what to do, :mod:`.agent_actions`, out),
its state as the fold of the journal
(:mod:`.agent_state`), the changes as values (:mod:`.intents`), the
journal's record model (:mod:`.journal_model`), the agent's policy
(:mod:`.settings`), the migration hint (:mod:`.hint`) and the RPC
message contract (:mod:`.contract`).  Nothing here touches libvirt,
oslo, the file system or the clock: the adapters pass in what they
read, and apply what comes back.
"""
from nova_hooks.core.balloon import plan_balloon
from nova_hooks.core.classify import classify_pages
from nova_hooks.core.classify import classify_regions
from nova_hooks.core.classify import combine
from nova_hooks.core.classify import resolve_thresholds
from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.pinning import plan_pinning
from nova_hooks.core.types import BalloonPlan
from nova_hooks.core.types import BalloonPolicy
from nova_hooks.core.types import BalloonStats
from nova_hooks.core.types import Classification
from nova_hooks.core.types import HostTopology
from nova_hooks.core.types import NumaNode
from nova_hooks.core.types import Observation
from nova_hooks.core.types import PageClass
from nova_hooks.core.types import PageSamples
from nova_hooks.core.types import Phase
from nova_hooks.core.types import PinningPlan
from nova_hooks.core.types import PinningPolicy
from nova_hooks.core.types import Region
from nova_hooks.core.types import Thresholds
from nova_hooks.core.types import VmFigures

__all__ = [
    "BalloonPlan", "BalloonPolicy", "BalloonStats", "Classification",
    "HostTopology", "MigrationHint", "NumaNode", "Observation", "PageClass",
    "PageSamples", "Phase", "PinningPlan", "PinningPolicy", "Region",
    "Thresholds", "VmFigures", "classify_pages", "classify_regions",
    "combine", "plan_balloon", "plan_pinning", "resolve_thresholds",
]
