"""Red-flag engine state: current outcomes, their append-only history, peer statistics and public responses.

Nothing here is ever deleted by the engine or the services: a flag that no longer holds is *cleared* (its row keeps
``cleared_at`` and the events say when), and responses, annotations and dismissals are append-only rows.

Every row carries ``source`` (the publisher of the compiled release): organisation ids are stable only within one
publisher, so peer statistics and organisation flags never mix publishers (RED_FLAGS.md section 1).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bos.db import Base, utcnow
from bos.enums import db_enum


class FlagStatus(enum.StrEnum):
    FLAGGED = "flagged"
    NOT_FLAGGED = "not_flagged"
    INSUFFICIENT_DATA = "insufficient_data"
    NOT_APPLICABLE = "not_applicable"


class FlagEventKind(enum.StrEnum):
    RAISED = "raised"  # the outcome became ``flagged``
    CLEARED = "cleared"  # a ``flagged`` outcome became anything else
    CHANGED = "changed"  # any other change of status (e.g. not_flagged -> insufficient_data)


class ResponseKind(enum.StrEnum):
    RESPONSE = "response"  # the buyer's officer answers publicly
    ANNOTATION = "annotation"  # a monitor (CSO) adds context
    DISMISSAL = "dismissal"  # an administrator dismisses the flag, with a public reason


class RedFlag(Base):
    """The current outcome of one indicator for one subject: a process (``subject`` = ocid) or an organisation.

    A process-grain outcome is a row once it is flagged or has insufficient data, and stays one (a cleared flag keeps
    its history); outcomes that never flagged are only counted, in ``RedFlagProcess.statuses``. Organisation-grain
    outcomes (a handful per organisation, not per process) are all rows.

    One row per (source, code, grain, subject, key), guarded by a unique constraint, so re-running a killed
    evaluation updates rows instead of adding duplicates.
    """

    __tablename__ = "red_flags"
    __table_args__ = (
        UniqueConstraint("source", "code", "grain", "subject", "key", name="uq_red_flags_subject"),
        # The public list: flags by status in id order (keyset), optionally by indicator.
        Index("ix_red_flags_status_id", "status", "id"),
        Index("ix_red_flags_code_status_id", "code", "status", "id"),
        Index("ix_red_flags_buyer_status", "buyer", "status"),
        Index("ix_red_flags_ocid", "ocid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(16))
    grain: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(256))
    key: Mapped[str] = mapped_column(String(256), default="")
    ocid: Mapped[str | None] = mapped_column(String(128))  # process grain only
    buyer: Mapped[str | None] = mapped_column(String(128))  # the process's buyer, or the buyer subject
    #: Organisation ids the flag points at, space-delimited with a leading and trailing space (" a b "), so a
    #: supplier filter is a plain LIKE '% id %'.
    parties: Mapped[str] = mapped_column(Text, default=" ")
    status: Mapped[FlagStatus] = mapped_column(db_enum(FlagStatus, "red_flag_status"))
    value: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    evidence: Mapped[str] = mapped_column(Text)  # JSON object
    explanation: Mapped[str] = mapped_column(Text)
    rule_version: Mapped[int]
    first_raised_at: Mapped[dt.datetime | None]
    last_confirmed_at: Mapped[dt.datetime | None]
    cleared_at: Mapped[dt.datetime | None]
    dismissed_at: Mapped[dt.datetime | None]
    evaluated_at: Mapped[dt.datetime]


class RedFlagEvent(Base):
    """Append-only history of status changes; ids increase, so the alerts job reads ``id > last seen``."""

    __tablename__ = "red_flag_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("red_flags.id"), index=True)
    kind: Mapped[FlagEventKind] = mapped_column(db_enum(FlagEventKind, "red_flag_event_kind"))
    source: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(16))
    grain: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(256))
    key: Mapped[str] = mapped_column(String(256), default="")
    ocid: Mapped[str | None] = mapped_column(String(128))
    buyer: Mapped[str | None] = mapped_column(String(128))
    status_from: Mapped[str | None] = mapped_column(String(32))
    status_to: Mapped[str] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(Float)
    rule_version: Mapped[int]
    at: Mapped[dt.datetime]


class RedFlagProcess(Base):
    """Per evaluated process: what was evaluated (hash of the compiled release and of the rules), whether it is
    frozen, and its composite score with coverage (RED_FLAGS.md section 4)."""

    __tablename__ = "red_flag_processes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ocid: Mapped[str] = mapped_column(String(128), unique=True)
    source: Mapped[str] = mapped_column(String(200))
    buyer: Mapped[str | None] = mapped_column(String(128), index=True)
    compiled_sha: Mapped[str] = mapped_column(String(64))
    rules_sha: Mapped[str] = mapped_column(String(64))
    #: Digest of the outcome rows last written: an unchanged digest skips the row-by-row diff.
    outcomes_sha: Mapped[str] = mapped_column(String(64), default="")
    frozen: Mapped[bool] = mapped_column(default=False)
    applicable: Mapped[int] = mapped_column(default=0)  # indicators not ``not_applicable``
    evaluated: Mapped[int] = mapped_column(default=0)  # ``flagged`` or ``not_flagged``
    flagged: Mapped[int] = mapped_column(default=0)
    score: Mapped[float | None] = mapped_column(Float)  # None below the minimum coverage: never a bare 0
    evaluated_at: Mapped[dt.datetime]
    #: Digest of what the evaluation read besides the release (rules, currency, baselines, the day if day-bound):
    #: a clean process whose digest is unchanged is not re-evaluated by the nightly run (engine.inputs_digest).
    inputs_sha: Mapped[str | None] = mapped_column(String(64))
    baseline_keys: Mapped[str | None] = mapped_column(Text)  # "code<TAB>peer key" lines it looked up
    flagged_codes: Mapped[str | None] = mapped_column(Text)  # "R018|R024": its flags, confirmed when skipped
    day_bound: Mapped[bool | None]  # an outcome may change with the day alone (R063 pending or late)
    #: One status per process-grain indicator, "R003=n R018=f R024=i" (f flagged, n not flagged, i insufficient
    #: data; not applicable left out): the coverage counts read it, since outcomes that never flagged are no rows.
    statuses: Mapped[str | None] = mapped_column(Text)
    #: "R018|R024": the indicators with a row in red_flags for this process (rows are never deleted), so evaluation
    #: builds rows for those and for new flags or insufficient data only. None: unknown, every row is built.
    row_codes: Mapped[str | None] = mapped_column(Text)


class RedFlagMeasure(Base):
    """One measured value of a process for a peer-statistics indicator (R024 d, BOS-01 CV, R017 log unit price...).

    Baselines are rebuilt from these rows, never from releases; re-evaluating a process swaps its rows."""

    __tablename__ = "red_flag_measures"
    __table_args__ = (Index("ix_red_flag_measures_peer", "source", "code", "peer_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ocid: Mapped[str] = mapped_column(String(128), index=True)
    source: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(16))
    peer_key: Mapped[str] = mapped_column(String(300), default="")
    value: Mapped[float] = mapped_column(Float)


class RedFlagBaseline(Base):
    """Peer statistics of one indicator and peer group (a :class:`~bos.red_flags.stats.Baseline` as JSON), or the
    pinned fences of an organisation-grain indicator (``peer_key`` = grain), or the resolved main currency."""

    __tablename__ = "red_flag_baselines"
    __table_args__ = (UniqueConstraint("source", "code", "peer_key", name="uq_red_flag_baselines_peer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(16))
    peer_key: Mapped[str] = mapped_column(String(300), default="")
    n: Mapped[int] = mapped_column(default=0)
    data: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[dt.datetime]


class RedFlagContribution(Base):
    """One process's row towards an organisation-grain indicator (RED_FLAGS.md section 5, item 4)."""

    __tablename__ = "red_flag_contributions"
    __table_args__ = (Index("ix_red_flag_contributions_subject", "source", "code", "grain", "subject", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ocid: Mapped[str] = mapped_column(String(128), index=True)
    source: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(16))
    grain: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(256))
    key: Mapped[str] = mapped_column(String(256), default="")
    numerator: Mapped[float] = mapped_column(Float)
    denominator: Mapped[float] = mapped_column(Float)
    amount: Mapped[float | None] = mapped_column(Float)
    date: Mapped[str | None] = mapped_column(String(64))
    attrs: Mapped[str | None] = mapped_column(Text)  # JSON object, when the indicator needs extras


class RedFlagCoverage(Base):
    """How many outcomes of one indicator and grain are in each status, kept by difference as runs change them, so
    the catalogue's coverage is a read of a few rows. Process grain counts processes (``RedFlagProcess.statuses``:
    flagged, not flagged, insufficient data; not applicable = the processes not counted here); organisation grains
    count their rows in every status."""

    __tablename__ = "red_flag_coverage"
    __table_args__ = (UniqueConstraint("source", "code", "grain", "status", name="uq_red_flag_coverage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(16))
    grain: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    n: Mapped[int] = mapped_column(default=0)


class RedFlagOrgTotal(Base):
    """Running totals of contributions per (subject, key), adjusted by difference when a process's rows are swapped,
    so re-evaluating one organisation never re-reads its whole history."""

    __tablename__ = "red_flag_org_totals"
    __table_args__ = (UniqueConstraint("source", "code", "grain", "subject", "key", name="uq_red_flag_org_totals"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(16))
    grain: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(256))
    key: Mapped[str] = mapped_column(String(256), default="")
    numerator: Mapped[float] = mapped_column(Float, default=0.0)
    denominator: Mapped[float] = mapped_column(Float, default=0.0)
    rows: Mapped[int] = mapped_column(default=0)


class RedFlagResponse(Base):
    """A public response (buyer's officer), annotation (monitor) or dismissal (admin). Append-only."""

    __tablename__ = "red_flag_responses"
    __table_args__ = (Index("ix_red_flag_responses_flag", "flag_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("red_flags.id"))
    kind: Mapped[ResponseKind] = mapped_column(db_enum(ResponseKind, "red_flag_response_kind"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
