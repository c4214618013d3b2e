"""The hardening catalogue: every fault, load and hostile case the
hardening report must account for, and what a test records about one.

A test proves a case by carrying ``@pytest.mark.hardening("<case id>")``
(several ids allowed) and, once its assertions passed, calling the
``hardening`` fixture's :meth:`Recorder.record` with what happened and
what was lost.  ``tools/run-tests.sh`` collects those records and each
marked test's outcome into ``$WA_HARDENING_LOG``; ``tools/
hardening_report.py`` renders them, case by case, into the report.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import os
import time
from typing import Optional


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    kind: str          # "fault", "load" or "hostile"
    title: str         # the case as the hardening issue states it


CASES: tuple[Case, ...] = (
    Case("gnocchi-audit", "fault",
         "Gnocchi API down, slow (latency through a local proxy) or "
         "answering 5xx during an audit: the audit ends with a clear "
         "state, no half-plan"),
    Case("gnocchi-collector", "fault",
         "Gnocchi down for the host collector: it spools and later "
         "delivers every profile within the spool bound"),
    Case("broker-mid-action", "fault",
         "RabbitMQ restarted while the action talks to a destination "
         "agent: both sides reconnect, no action left running, no "
         "duplicate pre-configuration"),
    Case("broker-idle", "fault",
         "RabbitMQ restarted while the agents are idle"),
    Case("libvirtd-postcopy", "fault",
         "libvirtd restarted in the middle of a post-copy migration into "
         "the agent's host"),
    Case("agent-kill-postcopy", "fault",
         "the agent killed with SIGKILL in the middle of a post-copy "
         "migration into its host: it restores from its journal"),
    Case("migration-aborted", "fault",
         "a migration that fails or is cancelled mid-way: destination "
         "changes undone, source untouched"),
    Case("disk-full-journal", "fault",
         "disk full under the agent's journal: it refuses changes it "
         "cannot journal and keeps the guest safe"),
    Case("disk-full-spool", "fault",
         "disk full under the collector's spool"),
    Case("collector-flood", "load",
         "50 guests' agents flooding one collector at 10x their rate "
         "with valid and hostile records: valid records of well-behaved "
         "guests all land, each flooder throttled on its own, memory "
         "bounded"),
    Case("audit-10k-vms", "load",
         "an audit over 10,000 VMs while Gnocchi is also ingesting: the "
         "batched reads stay bounded"),
    Case("agent-8-migrations", "load",
         "the destination agent handling 8 concurrent incoming "
         "migrations: no event lost, each VM handled once"),
    Case("fuzz-guest-records", "hostile",
         "fuzzed guest records and framing"),
    Case("fuzz-audit-parameters", "hostile", "fuzzed audit parameters"),
    Case("fuzz-action-input", "hostile",
         "fuzzed adaptive_migrate input parameters"),
    Case("fuzz-rpc", "hostile",
         "fuzzed RPC messages and notifications to the agent"),
    Case("fuzz-trace-loaders", "hostile",
         "fuzzed trace loaders and QEMU's post-copy trace"),
    Case("forged-profile", "hostile",
         "a guest forging its profile to look idle or busy: the damage "
         "is bounded"),
    Case("secrets", "hostile", "no passwords or tokens in logs"),
)

CASE_IDS = frozenset(c.id for c in CASES)
LOG_ENV = "WA_HARDENING_LOG"


class Recorder:
    """What one test tells the report about its case(s)."""

    def __init__(self, nodeid: str, cases: tuple[str, ...]) -> None:
        self.nodeid = nodeid
        self.cases = cases
        #: outcomes of generated inputs (fuzz tests): the fixture writes
        #: them as the record when the test passed
        self.tally: collections.Counter = collections.Counter()

    def count(self, outcome: str) -> None:
        """One generated input ended as ``outcome`` (e.g. "refused with
        ContractError", "accepted")."""
        self.tally[outcome] += 1

    def record_tally(self) -> None:
        total = sum(self.tally.values())
        self.record(
            happened=f"{total} generated inputs: " + ", ".join(
                f"{n} {what}" for what, n in self.tally.most_common())
            + "; no other exception, no crash")

    def record(self, happened: str, lost: str = "nothing",
               case: Optional[str] = None, **figures) -> None:
        """Called after the assertions: ``happened`` with its figures,
        ``lost`` (the goal: ``"nothing"``).  ``case`` narrows a test
        that proves several cases to one of them."""
        cases = (case,) if case else self.cases
        unknown = set(cases) - CASE_IDS
        if unknown or not cases:
            raise ValueError(f"not hardening cases: {sorted(unknown)} "
                             f"(mark the test with a case of "
                             f"tests/hardening.py)")
        print(f"\n[hardening {','.join(cases)}] {happened} | lost: {lost}")
        write({"type": "record", "nodeid": self.nodeid,
                "cases": list(cases), "happened": happened, "lost": lost,
                "figures": figures})


def write(entry: dict) -> None:
    """Append to ``$WA_HARDENING_LOG`` when the run collects a report."""
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    entry = dict(entry, time=time.time())
    with open(path, "a") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
