"""Records of the store. Every table here has an Alembic migration under ``store/migrations``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kaitiaki.signals import PDQ


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    # Python None is SQL NULL, not the JSON literal null, so "IS NULL" filters mean what they say.
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON(none_as_null=True),
        list[Any]: JSON(none_as_null=True),
    }


class Evidence(Base):
    """A source as received: a seized device, a cache, a provider export. Never modified."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    acquired_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # SHA-256 over the sorted manifest lines "sha256  size  path" of everything read from it.
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    # The authority to examine its content (a warrant, a provider's terms): with none recorded,
    # files the provider never viewed are not shown to anyone without a stated legal basis.
    legal_basis: Mapped[str | None] = mapped_column(Text)


class Scan(Base):
    """One run of ``kaitiaki scan`` over an evidence item; resuming adds a run to the same item."""

    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    roots: Mapped[list[Any]] = mapped_column(JSON(none_as_null=True))
    hash_sets: Mapped[list[Any]] = mapped_column(JSON(none_as_null=True))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tool_version: Mapped[str] = mapped_column(String(40))


class File(Base):
    """One content blob, keyed by SHA-256; many instances may point at it."""

    __tablename__ = "files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    md5: Mapped[str] = mapped_column(String(32), index=True)
    sha1: Mapped[str] = mapped_column(String(40), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    mime: Mapped[str] = mapped_column(String(100))
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None] = mapped_column(Integer)
    # The 8 dihedral hashes, space separated, in pdqhash's order (original first).
    pdq_dihedral: Mapped[str | None] = mapped_column(Text)
    # The image with an added border taken off: [{"view", "box", "quality", "dihedral"}, ...]
    pdq_views: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    # The robust signal's signature (``signals.robust``); None where not computed.
    robust: Mapped[bytes | None] = mapped_column(LargeBinary)
    # [[frame, quality, hex, seconds], ...]
    vpdq: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    exif: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Content that was read but could not be decoded (corrupt image, bomb, ...).
    error: Mapped[str | None] = mapped_column(Text)


class FileInstance(Base):
    """A path inside an evidence item (``archive.zip!/inner/a.jpg`` for archive members)."""

    __tablename__ = "file_instances"
    __table_args__ = (UniqueConstraint("evidence_id", "path", name="uq_instance_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    path: Mapped[str] = mapped_column(Text)
    # The top-level file the instance was read from: the unit of work a resumed scan skips.
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(ForeignKey("files.sha256"), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    # Why the instance has no hashes (unreadable, encrypted member, path traversal, ...).
    error: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    scanned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # A file system's unallocated entry, recovered from a disk image.
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # File-system times as the evidence recorded them (None where the file system keeps none).
    modified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accessed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_on_fs_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The provider's fileViewedByEsp for this instance; None where the source does not say.
    viewed_by_provider: Mapped[bool | None] = mapped_column(Boolean)
    # A file system's own structure ($UPCASE_TABLE, $ALLOC_BITMAP, ...), not a file a user made:
    # hashed and kept for completeness, listed apart from the user's files.
    fs_metadata: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


Index("ix_instances_source", FileInstance.evidence_id, FileInstance.source)


class AcquisitionCheck(Base):
    """An acquisition hash checked against what kaitiaki read: an E01's stored MD5/SHA-1, or a
    digest the examiner gave for a folder, archive or image (``--expected-sha256``).

    ``status`` is "verified", "mismatch" or "no stored hash"; ``expected`` and ``computed`` map
    algorithm to hex digest; ``detail`` says why where the status alone would mislead (a media
    size that differs from the one acquired, a read that stopped).
    """

    __tablename__ = "acquisition_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"))
    source: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    expected: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    computed: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    media_size: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")
    checked_by: Mapped[str] = mapped_column(String(200))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


Index("ix_acquisition_checks_evidence", AcquisitionCheck.evidence_id, AcquisitionCheck.source)


class HashSet(Base):
    """A bank of known signals from one source, with its category profile and PDQ threshold."""

    __tablename__ = "hash_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(200), default="")
    profile: Mapped[str] = mapped_column(String(40))
    pdq_threshold: Mapped[int] = mapped_column(Integer, default=PDQ.threshold)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # SHA-256 of the imported file (chain of custody for the set itself).
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    source_format: Mapped[str] = mapped_column(String(20))
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    # An allowlist bank: its entries cancel matches of the same content from other banks.
    allowlist: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # The highest entry id matched retroactively against everything already stored: entries
    # after it are the "new" ones the next retroactive match takes.
    retro_matched_through: Mapped[int | None] = mapped_column(Integer)
    # Bumped on every change to the entries (``hashsets.versions.touch``): a server process
    # compares it with its loaded index's to know it is behind, without reading entries.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Removals so far: entry ids may be reused after one, so a server then rebuilds the set's
    # index instead of reading only the entries added since (``hashsets.versions``).
    removals: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class HashSetEntry(Base):
    """One known item of a hash set; the VICS Media fields we keep, the rest in ``extra``."""

    __tablename__ = "hash_set_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash_set_id: Mapped[int] = mapped_column(
        ForeignKey("hash_sets.id", ondelete="CASCADE"), index=True
    )
    media_id: Mapped[str | None] = mapped_column(String(100))
    md5: Mapped[str | None] = mapped_column(String(32), index=True)
    sha1: Mapped[str | None] = mapped_column(String(40), index=True)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    pdq: Mapped[str | None] = mapped_column(String(64))
    vpdq: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    # The robust signal's signature, for sets made from images kaitiaki scanned.
    robust: Mapped[bytes | None] = mapped_column(LargeBinary)
    photodna: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(20))
    series: Mapped[str | None] = mapped_column(String(200))
    victim_identified: Mapped[bool | None] = mapped_column(Boolean)
    offender_identified: Mapped[bool | None] = mapped_column(Boolean)
    is_distributed: Mapped[bool | None] = mapped_column(Boolean)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Set by the flood guard: an entry matching far above its normal rate waits for a reviewer.
    quarantined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    quarantine_reason: Mapped[str | None] = mapped_column(Text)
    # HMA's per-content switch: the entry matches nothing until then (far future: for good).
    disabled_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EntryMatchCount(Base):
    """How often one entry matched in one window: the flood guard's measure of normal."""

    __tablename__ = "entry_match_counts"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("hash_set_entries.id", ondelete="CASCADE"), primary_key=True
    )
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    matches: Mapped[int] = mapped_column(Integer)


class Match(Base):
    """A file meeting a hash-set entry, by which signal and at which distance."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("sha256", "entry_id", "signal", name="uq_match"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("files.sha256"), index=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("hash_set_entries.id", ondelete="CASCADE"), index=True
    )
    signal: Mapped[str] = mapped_column(String(16))
    # For the robust signal the number of verified feature matches (more is closer).
    distance: Mapped[int] = mapped_column(Integer)
    # Which view of the file matched: a trimmed view's name ("border", "letterbox", ...);
    # None for the file as it is.
    view: Mapped[str | None] = mapped_column(String(16))


class Classification(Base):
    """What a file is for one evidence item: known, ignorable, new or error."""

    __tablename__ = "classifications"

    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("files.sha256"), primary_key=True)
    label: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(20))
    hash_set_id: Mapped[int | None] = mapped_column(ForeignKey("hash_sets.id", ondelete="SET NULL"))
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("hash_set_entries.id", ondelete="SET NULL")
    )
    signal: Mapped[str | None] = mapped_column(String(16))
    distance: Mapped[int | None] = mapped_column(Integer)
    series: Mapped[str | None] = mapped_column(String(200))
    victim_identified: Mapped[bool | None] = mapped_column(Boolean)


class Account(Base):
    """A provider account that touched flagged material, with its activity on it."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform", "account_id", name="uq_account"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(100), default="provider")
    account_id: Mapped[str] = mapped_column(String(200))
    flagged_files: Mapped[int] = mapped_column(Integer, default=0)
    uploads: Mapped[int] = mapped_column(Integer, default=0)
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    views: Mapped[int] = mapped_column(Integer, default=0)
    shares: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ips: Mapped[int] = mapped_column(Integer, default=0)
    countries: Mapped[str | None] = mapped_column(Text)
    categories: Mapped[str | None] = mapped_column(Text)
    subject_id: Mapped[str | None] = mapped_column(String(40), index=True)


class Subject(Base):
    """Accounts believed to be one person, and the country and agency their activity points to."""

    __tablename__ = "subjects"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    country: Mapped[str | None] = mapped_column(String(2))
    confidence: Mapped[float | None] = mapped_column()
    agency: Mapped[str | None] = mapped_column(String(200))
    vpn_or_hosting: Mapped[bool] = mapped_column(Boolean, default=False)
    multi_country: Mapped[bool] = mapped_column(Boolean, default=False)
    # {"NZ": 12, "AU": 3}: attributable flagged events per country.
    countries: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Why the country is what it is (or why there is none), in words for the investigator.
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))


class AccountLink(Base):
    """Why two accounts were joined into one subject; ``rejected`` is an investigator's undo."""

    __tablename__ = "account_links"
    __table_args__ = (UniqueConstraint("account_a", "account_b", "reason", name="uq_link"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_a: Mapped[str] = mapped_column(String(200), index=True)
    account_b: Mapped[str] = mapped_column(String(200), index=True)
    reason: Mapped[str] = mapped_column(Text)
    rejected: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Priority(Base):
    """A subject's explainable score: the factors behind it, and a person's override."""

    __tablename__ = "priorities"

    subject_id: Mapped[str] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column()
    tier: Mapped[str] = mapped_column(String(20))
    # [{"factor": ..., "value": ..., "weight": ..., "points": ..., "reason": ...}, ...]
    factors: Mapped[list[Any]] = mapped_column(JSON(none_as_null=True))
    override_tier: Mapped[str | None] = mapped_column(String(20))
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_by: Mapped[str | None] = mapped_column(String(200))
    override_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Enrichment(Base):
    """A risk indicator a partner filled in for a subject (position of trust, prior offences...)."""

    __tablename__ = "enrichments"
    __table_args__ = (UniqueConstraint("subject_id", "indicator", name="uq_enrichment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(40), index=True)
    indicator: Mapped[str] = mapped_column(String(60))
    value: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, default="")
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Referral(Base):
    """One package to one agency about one or more subjects."""

    __tablename__ = "referrals"

    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    agency: Mapped[str] = mapped_column(String(200), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(30), default="draft")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    package_path: Mapped[str | None] = mapped_column(Text)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    # Raised each time the package is rebuilt about the same subjects (``referral revise``).
    package_version: Mapped[int] = mapped_column(Integer, default=1)


class ReferralSubject(Base):
    """A subject in a referral; unique, so no subject is referred twice within kaitiaki."""

    __tablename__ = "referral_subjects"

    subject_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    referral_id: Mapped[str] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )


class ReferralEvent(Base):
    """The status history of a referral: every change, when, by whom, and a note."""

    __tablename__ = "referral_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[str] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    by: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")


class Outcome(Base):
    """What came of a referral for a subject: arrests, children safeguarded, charges..."""

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[str | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    subject_id: Mapped[str | None] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(Integer, default=1)
    date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    # The partner's step id, for outcomes from a signed outcome file: a file imported twice (or
    # a later file repeating earlier steps) adds each step once.
    external_id: Mapped[str | None] = mapped_column(String(80), unique=True)


class OutcomeFile(Base):
    """A signed outcome file a partner sent back, as imported (chain of custody)."""

    __tablename__ = "outcome_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.id"), index=True)
    sender: Mapped[str] = mapped_column(String(100))
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    schema_version: Mapped[str] = mapped_column(String(10))
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    steps: Mapped[int] = mapped_column(Integer, default=0)
    new_steps: Mapped[int] = mapped_column(Integer, default=0)
    imported_by: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    """A person who works the operation; what they may do follows from ``role``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    # A liaison officer sees only the referrals of this agency.
    agency: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UserJurisdiction(Base):
    """One (country, agency) pair a liaison officer works for.

    A liaison sees and changes only the referrals whose country *and* agency match one of its
    pairs: an agency name alone is not a boundary (every INTERPOL NCB has the same name)."""

    __tablename__ = "user_jurisdictions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    agency: Mapped[str] = mapped_column(String(200), primary_key=True)


class SignInAttempt(Base):
    """A sign-in attempt, written *before* its password is checked, so concurrent guesses
    cannot all slip under the limit; kept in the store so a restart forgets nothing.
    ``key`` is ``name:<user>`` or ``addr:<client address>``."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # None while the password is being checked, then True or False.
    succeeded: Mapped[bool | None] = mapped_column(Boolean)


class TrustedKey(Base):
    """A partner's Ed25519 public key: what ``verify`` checks a received package against."""

    __tablename__ = "trusted_keys"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    # SHA-256 of the raw 32-byte public key, hex; one key cannot be trusted under two names.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    # The (country, agency) pairs this partner answers for, as "CC:Agency": an outcome file it
    # signs is accepted only for a referral sent to one of them.
    jurisdictions: Mapped[list[Any] | None] = mapped_column(default=None)


class AuditEvent(Base):
    """One entry of the append-only audit log; ``hash`` covers it and the previous entry's hash."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class WebSession(Base):
    """A signed-in browser; the cookie carries the token, the store only its SHA-256."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    client: Mapped[str] = mapped_column(String(200), default="")


class Job(Base):
    """Long work (scan, ingest, analysis, referrals) queued by a person; survives a restart."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSON(none_as_null=True))
    # queued, running, done, failed, interrupted (the server stopped while it ran), cancelled
    status: Mapped[str] = mapped_column(String(20), index=True, default="queued")
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int | None] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class FileGroup(Base):
    """Near-duplicate group of a file within an evidence item: its representative and distance."""

    __tablename__ = "file_groups"

    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("files.sha256"), primary_key=True)
    representative: Mapped[str] = mapped_column(String(64), index=True)
    # PDQ (or vPDQ) distance to the representative; 0 for the representative itself.
    distance: Mapped[int] = mapped_column(Integer, default=0)
    signal: Mapped[str] = mapped_column(String(16), default="pdq")


class ReviewDecision(Base):
    """A reviewer's categorisation of new material; a group decision writes one row per file."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("files.sha256"), index=True)
    # A category code of the evidence's profile, "ignorable", or "skip".
    category: Mapped[str] = mapped_column(String(20))
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
    # The representative the decision was taken on, when it was applied to its group.
    via_group: Mapped[str | None] = mapped_column(String(64))


class Series(Base):
    """A victim-identification series: material showing the same victim(s)."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # True once every victim shown in the series is identified.
    identified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Victim(Base):
    """A victim by pseudonymous id only: never a name, never an image."""

    __tablename__ = "victims"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("series.id", ondelete="SET NULL"), index=True
    )
    age_band: Mapped[str | None] = mapped_column(String(20))
    identified: Mapped[bool] = mapped_column(Boolean, default=False)
    country: Mapped[str | None] = mapped_column(String(2))
    agency: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")


class Offender(Base):
    """An offender seen in or producing a series, by pseudonymous id."""

    __tablename__ = "offenders"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("series.id", ondelete="SET NULL"), index=True
    )
    identified: Mapped[bool] = mapped_column(Boolean, default=False)
    country: Mapped[str | None] = mapped_column(String(2))
    agency: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")


class SeriesLink(Base):
    """A hash-set entry or a file that belongs to a series, and who linked it."""

    __tablename__ = "series_links"
    __table_args__ = (UniqueConstraint("series_id", "entry_id", "sha256", name="uq_series_link"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("hash_set_entries.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str | None] = mapped_column(ForeignKey("files.sha256"), index=True)
    linked_by: Mapped[str] = mapped_column(String(200), default="")
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReceivedCase(Base):
    """A referral package another kaitiaki sent us, imported: the receiving agency's case.

    One row per (sender key, sender's reference); each newer package version is merged into it
    and listed in ``received_versions``."""

    __tablename__ = "received_cases"
    __table_args__ = (UniqueConstraint("sender_fingerprint", "reference", name="uq_received_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The sender's referral id (``package_id``): what outcomes name when they go back.
    reference: Mapped[str] = mapped_column(String(60), index=True)
    sender: Mapped[str] = mapped_column(String(100))
    sender_fingerprint: Mapped[str] = mapped_column(String(64))
    # Set when a person accepted a package from a key not in the trust store, and why.
    unknown_sender_reason: Mapped[str | None] = mapped_column(Text)
    # The recipient named by the package: what a liaison's jurisdiction is checked against.
    country: Mapped[str | None] = mapped_column(String(2))
    agency: Mapped[str] = mapped_column(String(200))
    schema_version: Mapped[str] = mapped_column(String(10))
    package_version: Mapped[int] = mapped_column(Integer, default=1)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    built_by: Mapped[str] = mapped_column(String(200), default="")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    received_by: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(30), default="received")
    assigned_to: Mapped[str | None] = mapped_column(String(200))
    # The sender's highest priority among the subjects, for ordering the list.
    priority_tier: Mapped[str | None] = mapped_column(String(20))
    priority_score: Mapped[float | None] = mapped_column()
    # The hash set holding the sender's flagged files, so our own scans match against them.
    hash_set: Mapped[str | None] = mapped_column(String(200))
    # The package document as received (validated): the case's full record for display.
    document: Mapped[dict[str, Any]] = mapped_column()


class ReceivedSubject(Base):
    """A subject of a received case, as the sender described it (its ``doc``)."""

    __tablename__ = "received_subjects"
    __table_args__ = (UniqueConstraint("case_id", "subject_id", name="uq_received_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("received_cases.id", ondelete="CASCADE"), index=True
    )
    subject_id: Mapped[str] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(2))
    priority_tier: Mapped[str | None] = mapped_column(String(20))
    priority_score: Mapped[float | None] = mapped_column()
    doc: Mapped[dict[str, Any]] = mapped_column()


class ReceivedVersion(Base):
    """Each package version imported into a case, and what it changed."""

    __tablename__ = "received_versions"
    __table_args__ = (UniqueConstraint("case_id", "manifest_sha256", name="uq_received_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("received_cases.id", ondelete="CASCADE"), index=True
    )
    package_version: Mapped[int] = mapped_column(Integer)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(200))
    differences: Mapped[list[Any] | None] = mapped_column(default=None)


class CaseStep(Base):
    """A step of the local investigation of a received case (or a note), with its date."""

    __tablename__ = "case_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Travels in the outcome file, so the sender adds each step once however often it is sent.
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("received_cases.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(40))
    on: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    count: Mapped[int | None] = mapped_column(Integer)
    # Exported with the step (the "no further action" reason).
    reason: Mapped[str] = mapped_column(Text, default="")
    # Kept here only: ISP names, subscriber details, warrant numbers, notes.
    detail: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaseHit(Base):
    """Deconfliction at import: a received subject shares an identifier with one of ours (our
    own subject, or a subject of another received case). Shown on both."""

    __tablename__ = "case_hits"
    __table_args__ = (
        UniqueConstraint(
            "case_id", "subject_id", "other_type", "other_id", "kind", name="uq_case_hit"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("received_cases.id", ondelete="CASCADE"), index=True
    )
    subject_id: Mapped[str] = mapped_column(String(40))
    # "subject" (ours: ``other_id`` is a subject id) or "received" (``other_id`` is
    # "<case id>:<subject id>").
    other_type: Mapped[str] = mapped_column(String(20))
    other_id: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SeriesUpdateFile(Base):
    """A signed series update another agency sent, as imported: what was applied, and the
    differences left for a person because they would have overwritten a specialist's record."""

    __tablename__ = "series_update_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    sender: Mapped[str] = mapped_column(String(100))
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    schema_version: Mapped[str] = mapped_column(String(10))
    imported_by: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    applied: Mapped[list[Any] | None] = mapped_column(default=None)
    differences: Mapped[list[Any] | None] = mapped_column(default=None)


class ApiToken(Base):
    """A machine client's token: stored as its SHA-256 only, with the scopes it may use."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Exchange(Base):
    """A hash exchange (NCMEC, StopNCII, ThreatExchange, TAT, a file) feeding one hash set."""

    __tablename__ = "exchanges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    api: Mapped[str] = mapped_column(String(40))
    # The exchange's settings that are not secret (the collaboration config).
    config: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # Credentials, encrypted at rest; never logged, never returned.
    credentials: Mapped[str | None] = mapped_column(Text)
    hash_set: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The fetch checkpoint as the threatexchange package serialises it.
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    last_fetch_started: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_fetch_finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_fetch_status: Mapped[str | None] = mapped_column(String(20))
    last_fetch_items: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Seconds between scheduled fetches; None: fetched by hand only.
    fetch_every_s: Mapped[int | None] = mapped_column(Integer)


class ExchangeApiCredentials(Base):
    """Credentials set for a whole exchange API (HMA's per-API credentials): an exchange of
    that API with none of its own uses these."""

    __tablename__ = "exchange_api_credentials"

    api: Mapped[str] = mapped_column(String(40), primary_key=True)
    # The credential class's fields as JSON, encrypted at rest; never logged, never returned.
    credentials: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExchangeFeedback(Base):
    """A reviewer's decision on a matched signal, to be sent back to the exchange it came from
    (NCMEC's up/down votes, StopNCII's review status)."""

    __tablename__ = "exchange_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange_id: Mapped[int] = mapped_column(
        ForeignKey("exchanges.id", ondelete="CASCADE"), index=True
    )
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("hash_set_entries.id", ondelete="SET NULL")
    )
    signal_type: Mapped[str] = mapped_column(String(40))
    signal_value: Mapped[str] = mapped_column(Text)
    # "positive" (a true match) or "negative" (a false one).
    opinion: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # "pending", "sent", "failed", "unsupported"
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)


class ExchangeItem(Base):
    """One signal as the exchange last said it (opinion included), so upstream deletes and
    opinion changes apply once and a refetch duplicates nothing."""

    __tablename__ = "exchange_items"
    __table_args__ = (
        UniqueConstraint(
            "exchange_id", "signal_type", "signal_value", "record_id", name="uq_exchange_item"
        ),
        # NULLs are distinct in a unique constraint: items of exchanges keyed by signal (no
        # record id) stay one per signal by this partial index.
        Index(
            "uq_exchange_item_signal",
            "exchange_id",
            "signal_type",
            "signal_value",
            unique=True,
            sqlite_where=text("record_id IS NULL"),
            postgresql_where=text("record_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange_id: Mapped[int] = mapped_column(
        ForeignKey("exchanges.id", ondelete="CASCADE"), index=True
    )
    # The upstream record that carried the signal, for exchanges that key their updates by
    # record (NCMEC) and delete by record id alone; None for exchanges keyed by signal. A hash
    # several records carry has one item per record, all pointing at one hash-set entry.
    record_id: Mapped[str | None] = mapped_column(String(200), index=True)
    signal_type: Mapped[str] = mapped_column(String(40))
    signal_value: Mapped[str] = mapped_column(Text)
    # "positive", "negative", "disputed" (the exchange's opinions, summarised).
    opinion: Mapped[str] = mapped_column(String(20))
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("hash_set_entries.id", ondelete="SET NULL"), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProviderProfile(Base):
    """Who the provider is when it reports to NCMEC's CyberTipline: the ``<reporter>`` of every
    report and the service named in each ``personOrUserReported``. One row per profile name
    ("default" unless a provider runs several services)."""

    __tablename__ = "provider_profiles"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    # The reportingPerson: NCMEC requires one person with a name and an email.
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(60))
    # The company's own name, its product (espService) and the application (platform).
    esp_name: Mapped[str] = mapped_column(String(200))
    esp_service: Mapped[str | None] = mapped_column(String(100))
    platform: Mapped[str | None] = mapped_column(String(256))
    # companyTemplate: how legal process is served, data retention, 24-hour contacts.
    company_template: Mapped[str | None] = mapped_column(Text)
    terms_of_service: Mapped[str | None] = mapped_column(Text)
    legal_url: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CyberTipReport(Base):
    """One CyberTipline report: drafted, reviewed, then submitted step by step.

    ``state`` moves draft -> submitting -> submitted (NCMEC gave ``ncmec_report_id``) ->
    files_uploaded -> finishing -> finished, or to retracted or failed. Each step is written
    before and after its call, so a retry after a crash resumes at the step that stopped and a
    report is never finished twice (see ``kaitiaki.cybertip.submit``)."""

    __tablename__ = "cybertip_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(40), index=True)
    profile: Mapped[str] = mapped_column(String(60), default="default")
    state: Mapped[str] = mapped_column(String(20), index=True)
    # The ``<report>`` document as drafted and reviewed (valid against NCMEC's XSD).
    document: Mapped[str] = mapped_column(Text)
    document_sha256: Mapped[str] = mapped_column(String(64))
    # What a person set on review: escalateToHighPriority's reason, reportAnnotations' names.
    escalate: Mapped[str | None] = mapped_column(Text)
    annotations: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    # The provider's choice to upload the files it holds (sent from the evidence, never copied).
    include_files: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # "test" (exttest.cybertip.org) unless production is configured; the base URL used.
    environment: Mapped[str] = mapped_column(String(20), default="test")
    base_url: Mapped[str | None] = mapped_column(Text)
    ncmec_report_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # NCMEC's responseCode and responseDescription of the call that failed.
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    # Reports NCMEC opened for this record and that were abandoned (a crash mid-call): NCMEC
    # deletes an unfinished report after 24 hours; kept here so a person can account for them.
    abandoned_report_ids: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retracted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CyberTipReportFile(Base):
    """A file of a CyberTipline report: its ``fileDetails`` and, when the provider sends the file
    itself, the evidence instance it is read from and NCMEC's file id once uploaded."""

    __tablename__ = "cybertip_report_files"
    __table_args__ = (UniqueConstraint("report_id", "object_id", name="uq_cybertip_file"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("cybertip_reports.id", ondelete="CASCADE"), index=True
    )
    # The provider's object id (the catalog's) and the content's SHA-256 where known.
    object_id: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    # The evidence instance the file is uploaded from; None: details only, nothing to upload.
    instance_id: Mapped[int | None] = mapped_column(
        ForeignKey("file_instances.id", ondelete="SET NULL")
    )
    # The fileDetails document with reportId 0 and fileId "pending", filled in when sent.
    details: Mapped[str] = mapped_column(Text)
    # pending -> uploading -> uploaded -> detailed (fileinfo sent); "skipped" when not sent.
    state: Mapped[str] = mapped_column(String(20), default="pending")
    ncmec_file_id: Mapped[str | None] = mapped_column(String(64))
    # The MD5 NCMEC computed of what it received, checked against the evidence's.
    received_md5: Mapped[str | None] = mapped_column(String(32))


class LegalHold(Base):
    """A legal hold: while it stands (not released, not expired) nothing it covers is deleted.

    ``target_type`` is account, subject, evidence or report; ``basis`` is ncmec_report,
    preservation_request, court_order or other, with ``reference`` (NCMEC's report id, the
    request's or the order's reference) and the words of ``basis_text``."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[str] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(String(30))
    basis_text: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # None: until released (a court order with no end date).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # A preservation request's 90 days may be extended once (18 U.S.C. 2703(f)).
    extended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    extended_by: Mapped[str | None] = mapped_column(String(200))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[str | None] = mapped_column(String(200))
    release_reason: Mapped[str | None] = mapped_column(Text)


Index("ix_legal_holds_target", LegalHold.target_type, LegalHold.target_id)


class Disclosure(Base):
    """A disclosure package written in answer to legal process for one account."""

    __tablename__ = "disclosures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_ref: Mapped[str] = mapped_column(String(200), index=True)
    platform: Mapped[str] = mapped_column(String(100), default="provider")
    account_id: Mapped[str] = mapped_column(String(200), index=True)
    package_name: Mapped[str] = mapped_column(Text)
    package_sha256: Mapped[str] = mapped_column(String(64))
    # Images go only when the request covers them and a person confirmed it (who, recorded).
    includes_files: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    files_confirmed_by: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
