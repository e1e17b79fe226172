"""The history tables (SQLAlchemy 2 declarative models).

Times are seconds since the Unix epoch (UTC), as in the events, so the
statistics compute on plain numbers on SQLite and PostgreSQL alike.
Personal data is kept to the minimum and only in ``citizens`` and
``callbacks.number``; ``guichet purge`` removes it after the retention period.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Metadata of every history table."""


class ProcessRow(Base):
    """A process of the catalogue (démarche)."""

    __tablename__ = "processes"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(64))
    min_level: Mapped[int] = mapped_column(Integer)


class AgentRow(Base):
    """An agent of the skill matrix."""

    __tablename__ = "agents"
    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    channels: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str | None] = mapped_column(String(200))
    desk: Mapped[str | None] = mapped_column(String(64))


class SkillRow(Base):
    """One agent's level (1-3) on one process."""

    __tablename__ = "skills"
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.agent_id", ondelete="CASCADE"), primary_key=True)
    process: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)


class CitizenRow(Base):
    """A citizen known by an id (minimal data, consent, retention)."""

    __tablename__ = "citizens"
    citizen_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float, index=True)


class ContactRow(Base):
    """One contact, one row: its channel, process, agent, every timestamp and its outcome."""

    __tablename__ = "contacts"
    contact_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    process: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[int | None] = mapped_column(Integer)
    ticket: Mapped[str | None] = mapped_column(String(32))
    citizen_id: Mapped[str | None] = mapped_column(String(64), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    arrived_at: Mapped[float | None] = mapped_column(Float, index=True)
    queued_at: Mapped[float | None] = mapped_column(Float)
    qualified_at: Mapped[float | None] = mapped_column(Float)
    offered_at: Mapped[float | None] = mapped_column(Float)
    answered_at: Mapped[float | None] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float)
    deadline: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str | None] = mapped_column(String(24))
    waited: Mapped[float | None] = mapped_column(Float)
    wait_approximate: Mapped[bool | None] = mapped_column(Boolean)
    """The wait is an estimate: the caller left while the dispatcher could not see them."""
    end_approximate: Mapped[bool | None] = mapped_column(Boolean)
    """The end time (so a conversation's length) is an estimate: it ended while the dispatcher could not see it."""
    updated_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class ContactEventRow(Base):
    """The trace: every routing event, one row, keyed by its number in the event stream."""

    __tablename__ = "contact_events"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(32))
    contact_id: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    __table_args__ = (Index("ix_contact_events_contact", "contact_id", "seq"),)


class AgentStateRow(Base):
    """One change of an agent's state (the intervals for occupancy run from one to the next)."""

    __tablename__ = "agent_states"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    agent_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    contact_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)
    __table_args__ = (Index("ix_agent_states_agent", "agent_id", "at"),)


class CallbackRow(Base):
    """A callback a caller asked for, with its deadline (the callback contact has the same id)."""

    __tablename__ = "callbacks"
    callback_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(32))
    requested_at: Mapped[float] = mapped_column(Float, index=True)
    deadline: Mapped[float] = mapped_column(Float)


class HistoryProgressRow(Base):
    """How far the writer got in the event stream (updated with the rows it wrote)."""

    __tablename__ = "history_progress"
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class UserRow(Base):
    """A person who logs in to the pages (argon2 hash; an agent account names its matrix agent)."""

    __tablename__ = "users"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)
    password_changed_at: Mapped[float] = mapped_column(Float)


class AuditRow(Base):
    """A sensitive action: who did what to what, when and from where."""

    __tablename__ = "audit_log"
    audit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    source: Mapped[str | None] = mapped_column(String(64))
