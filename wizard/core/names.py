"""The closed sets of names the wizard uses everywhere: strategies, outcomes, progress phases and
audited operations.

Each is a ``str`` enum, so a member is equal to its value, is stored and printed as its value
(the audit log and ``--json`` output hold the plain strings), and is found again with
``Strategy("merge")``. A strategy's rule holds what it does (the flags the importer reads), its
label and its help text: adding one is a member and a rule here (and its radio button's object
name in ``wizard.ui.labels``).
User-facing labels of the other sets live with the shell that shows them (``wizard.ui.labels``);
a test checks that every member has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Name(str, Enum):
    """A closed-set name: equal to, printed as and serialized as its string value."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Strategy(Name):
    """How an import meets the records already in the store (docs/FORMATS.md section 4). What
    each one does, its label and its help text are its :class:`StrategyRule`."""

    MERGE = "merge"
    REPLACE = "replace"
    SKIP = "skip"

    @property
    def rule(self) -> StrategyRule:
        return STRATEGY_RULES[self]

    @property
    def overwrites(self) -> bool:
        """Whether a record whose key the store has is written over (else it is skipped)."""
        return self.rule.overwrites

    @property
    def deletes_all(self) -> bool:
        """Whether the store (or the server) ends holding only the file's records: every record
        the file does not hold is deleted (agentmemory's own replace, on a server, wipes first;
        the local store changes only what differs)."""
        return self.rule.deletes_all

    @property
    def label(self) -> str:
        return self.rule.label

    @property
    def mnemonic(self) -> str:
        """The label with its keyboard accelerator (``&``)."""
        return self.rule.mnemonic

    @property
    def help(self) -> str:
        return self.rule.help

    @property
    def description(self) -> str:
        """'Merge: add new records and ...' (the label, then the help text)."""
        return f"{self.label}: {self.help[0].lower()}{self.help[1:]}"


@dataclass(frozen=True)
class StrategyRule:
    """One strategy: the flags the importer reads, and how people see it."""

    overwrites: bool
    deletes_all: bool
    label: str
    mnemonic: str
    help: str


STRATEGY_RULES: dict[Strategy, StrategyRule] = {
    Strategy.MERGE: StrategyRule(
        overwrites=True,
        deletes_all=False,
        label="Merge",
        mnemonic="&Merge",
        help="Add new records and overwrite existing ones that have the same id.",
    ),
    Strategy.REPLACE: StrategyRule(
        overwrites=True,
        deletes_all=True,
        label="Replace",
        mnemonic="&Replace",
        help="Make the store hold exactly the file's records: delete those the file does not "
        "have (the audit history is kept).",
    ),
    Strategy.SKIP: StrategyRule(
        overwrites=False,
        deletes_all=False,
        label="Skip existing",
        mnemonic="&Skip existing",
        help="Add only records whose id is not in the store yet; change nothing else.",
    ),
}


class Outcome(Name):
    """How a run ended, as the audit records it (``planned`` only for a dry run, never audited)."""

    SUCCEEDED = "succeeded"
    REFUSED = "refused"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the process died with its transaction open
    PLANNED = "planned"


class Operation(Name):
    """What an audit entry records."""

    IMPORT = "import"
    REVERT = "revert"
    DELIVER = "deliver"
    PRUNE = "prune"


class Phase(Name):
    """Where a long step is, in its progress reports."""

    READING = "reading"  # the input file is read and parsed
    VALIDATING = "validating"  # its records are checked
    READ_STORE = "read"  # the store's keys of one collection are loaded
    PLAN = "plan"  # a dry run compares records with the store
    DELETE = "delete"  # replace deletes the collections the file does not hold
    WRITE = "write"  # records are written
    INDEX = "index"  # the indexes of a table written from empty are built
    COMMIT = "commit"  # the transaction is committed (one long step)
    CONNECT = "connect"  # a delivery reaches the server (version, auth)
    WIPE = "wipe"  # a replace delivery empties the server
    SEND = "send"  # a delivery sends its chunks
    VERIFY = "verify"  # a delivery reads back what the server holds
    COMPACT = "compact"  # a prune rebuilds the store file without its free space
    DONE = "done"


class ErrorKind(Name):
    """Why a run that was asked to write did not succeed (besides a refused file, whose
    problem code says why)."""

    LOCKED = "locked"
    READONLY = "readonly"
    FULL = "full"
    NEWER_SCHEMA = "newer-schema"
    CORRUPT = "corrupt"
    IO = "io"
    CANCELLED = "cancelled"
    INTERNAL = "internal"
    INTERRUPTED = "interrupted"  # the process died with the transaction open
    CONFLICT = "conflict"  # a revert that a later import prevents
    NOT_REVERTIBLE = "not-revertible"  # a revert of something that is not a live import
    REVERT_DATA_PRUNED = "revert-data-pruned"  # a revert of an import whose revert data is gone
    UNREACHABLE = "unreachable"  # the server did not answer (after the retries)
    UNAUTHORIZED = "unauthorized"  # the server refused the secret
    SERVER_REFUSED = "server-refused"  # the server refused a request (success: false)
    INCOMPLETE = "incomplete"  # delivered, but the read-back misses records or could not verify
    NOT_DELIVERABLE = "not-deliverable"  # the delivery asked for cannot be made (a partial replace)
