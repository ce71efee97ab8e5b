"""SQLAlchemy models. Schema changes go through Alembic (engine/migrations)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes on every backend (SQLite keeps no zone: we store UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        from datetime import UTC

        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        from datetime import UTC

        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Money(TypeDecorator):
    """Money with two decimal places, exact on every backend, never a float: ``NUMERIC(14, 2)``
    on PostgreSQL; on SQLite (which has no decimal type and would keep a NUMERIC as a binary
    float) a whole number of fen (分), so sums in SQL stay exact there too."""

    impl = Numeric(14, 2)
    cache_ok = True
    CENT = Decimal("0.01")

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError("Money takes a Decimal, never a float")
        value = value.quantize(self.CENT)
        return int(value * 100) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(self.CENT)
        return Decimal(value).quantize(self.CENT)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict: JSON, list: JSON}


class Village(Base):
    __tablename__ = "village"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    township: Mapped[str] = mapped_column(String(200), index=True)
    county: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    adults: Mapped[int] = mapped_column(Integer)
    households: Mapped[int] = mapped_column(Integer)
    party_members: Mapped[int] = mapped_column(Integer)
    representatives: Mapped[int] = mapped_column(Integer)
    two_committees: Mapped[int] = mapped_column(Integer)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    # Anchor of the publicity chain: number of entries and the newest hash. Kept in the same
    # transaction as each post, so deleting the newest entry is detected too.
    board_count: Mapped[int] = mapped_column(Integer, default=0)
    board_head: Mapped[str] = mapped_column(String(64), default="")


class User(Base):
    __tablename__ = "person"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(400))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Where notices reach the person (issue 17): an 11-digit mainland mobile, an email address.
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    #: The person's own choice of notices (issue 17; engine.records.notices.preferences): channels on or off,
    #: a daily digest hour, quiet hours. None: the defaults.
    notice_prefs: Mapped[dict | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    #: Given a one-time password by the admin: the person chooses their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )


class AuthSession(Base):
    """A login: a browser session or an API token. The token itself is never stored, only its
    SHA-256, so a copy of the database opens nothing. A logout or a token's DELETE revokes the
    row; a changed password ends every row of the person (``password_tag`` no longer matches)."""

    __tablename__ = "auth_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "web" | "api"
    password_tag: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class LoginCounter(Base):
    """Password checks per key (an account or an address) in the current window, shared by
    every worker and counted with one atomic upsert before the password is checked."""

    __tablename__ = "login_counter"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column()
    count: Mapped[int] = mapped_column(Integer)


class RoleAssignment(Base):
    __tablename__ = "role_assignment"
    __table_args__ = (UniqueConstraint("user_id", "role", "village_id", "township", name="uq_role_assignment"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), nullable=True)
    township: Mapped[str | None] = mapped_column(String(200), nullable=True)
    county: Mapped[str | None] = mapped_column(String(200), nullable=True)
    user: Mapped[User] = relationship(back_populates="roles")
    village: Mapped[Village | None] = relationship(lazy="joined")


class ProcessDefinition(Base):
    """A deployed version of one catalogue item: the BPMN source and its parsed spec."""

    __tablename__ = "process_definition"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_definition_version"),
        UniqueConstraint("key", "content_hash", name="uq_definition_hash"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(4))
    meta: Mapped[dict] = mapped_column(JSON)
    # The BPMN text and the serialised spec (tens of KB each) are read only where they are used
    # (parsing a version once per process, compliance, diagrams), not with every case that joins
    # its definition: a task completion would otherwise fetch and hydrate both on every request.
    source: Mapped[str] = mapped_column(Text, deferred=True)
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)
    deployed_at: Mapped[datetime]


class Case(Base):
    __tablename__ = "case_instance"
    __table_args__ = (Index("ix_case_village_status", "village_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="running")
    state: Mapped[str] = mapped_column(Text)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    # Optimistic locking: every UPDATE checks and bumps lock_version (a stale save is a 409).
    __mapper_args__ = {"version_id_col": lock_version}
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True, nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    hold_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Who placed the current hold and at which supervision level (engine.domain.roles.level_of).
    hold_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    hold_level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Usernames kept off this case's tasks (回避, R45), set by a form's ``check``.
    excluded_users: Mapped[list] = mapped_column(JSON, default=list)
    definition: Mapped[ProcessDefinition] = relationship(lazy="joined")
    village: Mapped[Village] = relationship(lazy="joined")


class TaskRow(Base):
    """Projection of the workflow's human tasks, so a worklist is an indexed query."""

    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_worklist", "state", "village_id", "role"),
        Index("ix_task_case", "case_id", "state"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id", ondelete="CASCADE"))
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    extra_roles: Mapped[str] = mapped_column(String(200), default="")
    form: Mapped[str] = mapped_column(String(40))
    body: Mapped[str | None] = mapped_column(String(40), nullable=True)
    state: Mapped[str] = mapped_column(String(20))  # ready | completed | cancelled
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None] = mapped_column(nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    data: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    objection_id: Mapped[int | None] = mapped_column(ForeignKey("objection.id"), nullable=True)
    #: When the overdue notice of this task was written (once per task, engine.records.notices).
    overdue_noticed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class AuditEvent(Base):
    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id", ondelete="CASCADE"), index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), nullable=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    at: Mapped[datetime]


class BoardEntry(Base):
    """An append-only, hash-chained disclosure on a village's public board."""

    __tablename__ = "board_entry"
    __table_args__ = (UniqueConstraint("village_id", "seq", name="uq_board_seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime]
    notice_until: Mapped[datetime | None] = mapped_column(nullable=True)
    posted_by: Mapped[str] = mapped_column(String(200))
    reviewed_by: Mapped[str] = mapped_column(String(200), default="")
    refers_to_id: Mapped[int | None] = mapped_column(ForeignKey("board_entry.id"), nullable=True)
    #: The public photos of the disclosure: ``[{name, sha256, original}]`` (the board's copy without
    #: location data, and the original's hash). In the entry's hash when present.
    evidence: Mapped[list | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Objection(Base):
    __tablename__ = "objection"
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("board_entry.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    contact: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime]
    decision: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    replied_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    replied_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Attachment(Base):
    """A photo or scan uploaded to a task: the bytes live in the file store under ``sha256``.
    Bound to the record (``bound_at``) when the task completes."""

    __tablename__ = "attachment"
    __table_args__ = (Index("ix_attachment_case_task", "case_id", "task_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    #: The copy without metadata that the public board shows (images of a disclosure), if made.
    public_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    uploaded_at: Mapped[datetime]
    bound_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: The posted notice this is the photo of (张贴照片, R44): not evidence of a step but of the notice on
    #: the board; ``task_id`` is then the step that posted it. Bound (and chained) when uploaded.
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("board_entry.id"), nullable=True, index=True)


class Lead(Base):
    """A complaint lead (问题线索, 速查快办, DOMAIN.md §5.4): the reporter's record beside its case
    of process ``complaint-lead``. ``name`` and ``contact`` never go into the case's data or
    history; they are read only through :mod:`engine.records.leads` (R60), and every read is audited."""

    __tablename__ = "lead"
    __table_args__ = (Index("ix_lead_village_status", "village_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # the reporter's query code
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id", ondelete="CASCADE"), unique=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    channel: Mapped[str] = mapped_column(String(10))  # web | qr | phone | letter | visit
    category: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    contact: Mapped[str | None] = mapped_column(String(200), nullable=True)
    real_name: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The lead names an official of the township: it goes to the county inspector (R60).
    to_county: Mapped[bool] = mapped_column(Boolean, default=False)
    about_case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id"), nullable=True)
    about_entry_id: Mapped[int | None] = mapped_column(ForeignKey("board_entry.id"), nullable=True)
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    received_at: Mapped[datetime]
    accept_due: Mapped[datetime]
    forward_due: Mapped[datetime]
    #: The deadline was counted over a year without a holiday schedule (weekdays only).
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="received")
    accepted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(30), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: 速查快办 record of the assignment: 责任单位, 经办人, 完成时限, 完成标准.
    assignment: Mapped[dict | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    finding: Mapped[str | None] = mapped_column(String(20), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    feedback: Mapped[str | None] = mapped_column(Text, nullable=True)
    feedback_at: Mapped[datetime | None] = mapped_column(nullable=True)
    objection: Mapped[str | None] = mapped_column(Text, nullable=True)
    objection_at: Mapped[datetime | None] = mapped_column(nullable=True)
    objection_until: Mapped[datetime | None] = mapped_column(nullable=True)
    review: Mapped[str | None] = mapped_column(Text, nullable=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rating_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    rated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: 县纪委督办: the county inspector supervises the township's handling to a deadline (issue 12).
    supervised_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    supervised_at: Mapped[datetime | None] = mapped_column(nullable=True)
    supervision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    supervision_due: Mapped[datetime | None] = mapped_column(nullable=True)


class LeadAccountability(Base):
    """一案双查 (R59): one person held to account for a substantiated lead: the 主体责任 of the
    village Party organisation or the 监督责任 of the supervisors or the township 纪委, with the
    measure decided (中国共产党问责条例 第八条; 监督执纪 "四种形态"), when and by whom."""

    __tablename__ = "lead_accountability"
    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    person: Mapped[str] = mapped_column(String(100))
    position: Mapped[str] = mapped_column(String(100))
    duty: Mapped[str] = mapped_column(String(20))  # primary (主体责任) | supervisory (监督责任)
    measure: Mapped[str] = mapped_column(String(30))
    decided_on: Mapped[str] = mapped_column(String(10))  # ISO date
    decided_by: Mapped[str] = mapped_column(String(100))  # 决定机关
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    recorded_at: Mapped[datetime]


class HolidayDay(Base):
    """A day of a State Council holiday schedule loaded by an admin (``cunwu holidays load``) for
    a year the ``chinesecalendar`` library does not know: a holiday (``workday`` false) or a
    调休 working weekend (``workday`` true). A loaded year replaces the library's for that year."""

    __tablename__ = "holiday_day"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # ISO date
    year: Mapped[int] = mapped_column(Integer, index=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(100), default="")


class LedgerEntry(Base):
    """One line of a village's books (三资, 村财乡管). Append-only (R62): a correction is a new
    entry that reverses the old one (红字冲销: the same direction, the opposite amount), never an
    edit. ``task_id`` is the payment step that wrote it (at most one entry per step);
    ``reverses_id`` the entry a reversal cancels (at most one reversal per entry)."""

    __tablename__ = "ledger_entry"
    __table_args__ = (Index("ix_ledger_village_date", "village_id", "entity", "entry_date", "id"),
                      Index("ix_ledger_village_day", "village_id", "entry_date", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    entity: Mapped[str] = mapped_column(String(20))  # committee | cooperative (R41)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    amount: Mapped[Decimal] = mapped_column(Money())
    entry_date: Mapped[date] = mapped_column(Date)
    account: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text)
    counterparty: Mapped[str] = mapped_column(String(200), default="")
    voucher: Mapped[str] = mapped_column(String(200), default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id"), nullable=True, index=True)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True, unique=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"), nullable=True, unique=True)
    #: The register contract a receipt collects (rent, contract fee): its receivable goes down.
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_contract.id"), nullable=True, index=True)
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    created_by_name: Mapped[str] = mapped_column(String(200), default="")


class LedgerMonth(Base):
    """The books summed per village, entity, month, direction and account, kept in step with
    ``ledger_entry`` in the transaction that inserts an entry (``engine.records.ledger_months``: an insert hook).
    Totals, counts and statements read whole months here and only the partial months at the edges
    of a date filter from the entries, so they cost the same with 10^3 or 10^5 entries; ``cunwu
    doctor`` checks every row against the entries."""

    __tablename__ = "ledger_month"
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(20), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # the first day of the month
    direction: Mapped[str] = mapped_column(String(3), primary_key=True)
    account: Mapped[str] = mapped_column(String(100), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    entries: Mapped[int] = mapped_column(Integer)


class LedgerContract(Base):
    """A contract of the register (发包, 租赁, 承包; R40): who pays the village what, how often,
    for how long. Its receivable (应收) is due at each period's start; receipts that name the
    contract collect it; what is due and not received is 应收未收 on the desks."""

    __tablename__ = "ledger_contract"
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    entity: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))  # lease | contracting | outsourcing
    subject: Mapped[str] = mapped_column(String(300))
    counterparty: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money())  # per period
    every_months: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(String(100))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id"), nullable=True)
    created_at: Mapped[datetime]
    created_by_name: Mapped[str] = mapped_column(String(200), default="")
    #: The asset or resource of the register the contract lets, contracts out or sells.
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_asset.id"), nullable=True, index=True)
    #: The step of an asset-disposal case that recorded the contract (at most one contract per step).
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True, unique=True)


class LedgerAsset(Base):
    """An asset or resource of the register (资产/资源台账; DOMAIN §3.3.4 清产核资 and 台账): which
    entity holds it, its category (资源性/经营性/非经营性), where it is, how much of it, its
    original and book value, and its status. The status changes only through
    :class:`LedgerAssetEvent` rows (never a silent edit)."""

    __tablename__ = "ledger_asset"
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    entity: Mapped[str] = mapped_column(String(20))  # committee | cooperative (R41)
    category: Mapped[str] = mapped_column(String(20))  # resource | operating | non_operating
    code: Mapped[str] = mapped_column(String(50), default="")  # the village's own 登记编号
    name: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(300), default="")
    quantity: Mapped[str] = mapped_column(String(30))  # an exact decimal as text
    unit: Mapped[str] = mapped_column(String(20))
    original_value: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    book_value: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    acquired_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20))  # in_use | leased | contracted | idle | disposed
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    created_by_name: Mapped[str] = mapped_column(String(200), default="")


class LedgerAssetEvent(Base):
    """One line of an asset's history: registered, or its status changed (by hand with a reason,
    or by the contract of an asset-disposal case)."""

    __tablename__ = "ledger_asset_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("ledger_asset.id"), index=True)
    at: Mapped[datetime]
    status_from: Mapped[str | None] = mapped_column(String(20), nullable=True)
    status_to: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id"), nullable=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_contract.id"), nullable=True)
    by_name: Mapped[str] = mapped_column(String(200), default="")


class ReceivableNotice(Base):
    """A contract's due date told (``stage`` ``due``: it fell due; ``overdue``: still unpaid after
    the grace days). Unique, so each due date is told once per stage however many workers run."""

    __tablename__ = "ledger_receivable_notice"
    __table_args__ = (UniqueConstraint("contract_id", "due_on", "stage", name="uq_receivable_notice"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("ledger_contract.id"))
    due_on: Mapped[date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime]


class LedgerPeriod(Base):
    """A disclosure period of a village's books (``2026Q1``, or ``2026-01`` monthly) and the
    ``finance-disclosure`` case opened for it; unique, so the case is opened once per village
    and period however many workers run the timers."""

    __tablename__ = "ledger_period"
    __table_args__ = (UniqueConstraint("village_id", "period", name="uq_ledger_period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    period: Mapped[str] = mapped_column(String(10))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id"), nullable=True)
    opened_at: Mapped[datetime]


class Notification(Base):
    """A notice in one person's inbox (issue 17), written in the transaction of its event."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user", "user_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # objection | hold | overdue | lead
    title: Mapped[str] = mapped_column(String(300))
    #: The page of the notice, relative to the public URL (``/cases/12``).
    path: Mapped[str] = mapped_column(String(200), default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id", ondelete="CASCADE"),
                                                nullable=True, index=True)
    #: The complaint lead (its id, as on the lead desk; never the reporter's query code).
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), nullable=True)
    at: Mapped[datetime]
    read_at: Mapped[datetime | None] = mapped_column(nullable=True)


class OutboxMessage(Base):
    """One message to send on one channel (email, sms, webhook), written with its notice and
    delivered by ``cunwu worker``. ``next_at`` is when it may be tried next (also the lease a
    worker takes while sending); after the last failed try the message is ``dead``."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notification.id", ondelete="CASCADE"),
                                                        nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(10))  # email | sms | webhook
    address: Mapped[str] = mapped_column(String(254), default="")  # email or phone; "" for the webhook
    kind: Mapped[str] = mapped_column(String(20))
    village: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(String(200), default="")
    #: pending | sent | dead | skipped; ``digest``: waiting for the person's daily digest,
    #: ``digested``: sent inside the digest message ``digest_id``.
    status: Mapped[str] = mapped_column(String(10), default="pending")
    #: Whom it is for (None: the chat group) and the village of its event (the township desk's scope).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), nullable=True,
                                                index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), nullable=True, index=True)
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"), nullable=True)
    #: A digest's lines (one a notice).
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class DeliveryAttempt(Base):
    """Every try of sending an outbox message, successful or not."""

    __tablename__ = "delivery_attempt"
    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str] = mapped_column(Text, default="")
