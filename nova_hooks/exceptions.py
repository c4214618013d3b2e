"""Every error the destination agent raises on purpose.

::

    NovaHooksError
     +-- ContractError (ValueError)      a message the agent cannot accept
     +-- JournalError (OSError)          the journal cannot be written:
     |                                   no change may be made
     +-- HostError                       the host refused or lost a guest
     |    +-- QemuNotFound (LookupError) no QEMU process / thread for it
     |    +-- QmpError (RuntimeError)    its QMP monitor failed
     |    +-- MadviseError (OSError)     process_madvise / pidfd_open /
     |                                   process_vm_readv refused
     +-- Unobserved                      the reducer needs a reading of
                                         the host it was not given

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


class MadviseError(HostError, OSError):
    """``process_madvise``, ``pidfd_open`` or ``process_vm_readv`` on a
    QEMU process was refused (reclaim, pre-paging)."""


class Unobserved(NovaHooksError):
    """:func:`nova_hooks.core.reducer.step` needs the reading ``what``
    (a field of :class:`~nova_hooks.core.reducer.Readings`) that it was
    not given: the caller reads it from the host and calls again.  Not
    an error of the agent's: a request, raised so that nothing is read
    that the decision does not need."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what
