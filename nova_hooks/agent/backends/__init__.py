"""Page-access sampling backends (stevedore namespace
``nova_hooks.page_backends``).

Each backend says whether it can watch a guest (:meth:`Backend.probe`
returns ``None`` or the reason it cannot) and, if so, turns one round of
sampling into an :class:`~nova_hooks.core.types.Observation` that
:func:`nova_hooks.core.classify.combine` folds with the others.  A
backend that needs a job-taking libvirt call says so
(``during_postcopy = False``): the manager samples it only after the
migration completed.
"""
from __future__ import annotations

import abc
import logging
from typing import Optional
from typing import Sequence

from nova_hooks.core.types import Observation

LOG = logging.getLogger(__name__)
NAMESPACE = "nova_hooks.page_backends"


class Backend(abc.ABC):
    name = ""
    #: may sample while an incoming post-copy migration holds the job
    during_postcopy = True

    def __init__(self, host, conf=None) -> None:
        self.host = host
        self.conf = conf

    @abc.abstractmethod
    def probe(self, guest) -> Optional[str]:
        """``None`` when this backend can watch ``guest``, else why not."""

    @abc.abstractmethod
    def sample(self, guest) -> Observation:
        """One round of sampling."""


def load(names: Sequence[str], host, conf=None) -> tuple[list[Backend],
                                                          dict[str, str]]:
    """The backends named, in order, and why any of them is missing."""
    from stevedore import named

    missing: dict[str, str] = {}

    def failed(_manager, entrypoint, exc) -> None:
        missing[entrypoint.name] = f"failed to load: {exc}"

    mgr = named.NamedExtensionManager(
        NAMESPACE, names=list(names), invoke_on_load=True,
        invoke_args=(host, conf), name_order=True,
        on_load_failure_callback=failed)
    loaded = [ext.obj for ext in mgr]
    for name in names:
        if name not in {b.name for b in loaded} and name not in missing:
            missing[name] = "not installed"
    return loaded, missing
