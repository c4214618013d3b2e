"""Every error the destination agent raises on purpose.

::

    NovaHooksError
     +-- ContractError (ValueError)      a message the agent cannot accept
     +-- JournalError (OSError)          the journal cannot be written:
     |                                   no change may be made
     +-- HostError                       the host refused or lost a guest
          +-- QemuNotFound (LookupError) no QEMU process / thread for it
          +-- QmpError (RuntimeError)    its QMP monitor failed

Each class keeps the builtin base it always had, so an ``except
ValueError`` written against the old classes still catches them.  This
module imports nothing, so the pure core may raise these too.
"""
from __future__ import annotations


class NovaHooksError(Exception):
    """Base of the agent's own errors."""


class ContractError(NovaHooksError, ValueError):
    """A message the agent cannot accept (:mod:`nova_hooks.core.contract`,
    :mod:`nova_hooks.core.hint`)."""


class JournalError(NovaHooksError, OSError):
    """The journal cannot be written: nothing may be changed."""


class HostError(NovaHooksError):
    """Something on the host the agent acts through failed."""


class QemuNotFound(HostError, LookupError):
    """No QEMU process (or thread) for a guest."""


class QmpError(HostError, RuntimeError):
    """A QMP monitor refused a command or went away."""
