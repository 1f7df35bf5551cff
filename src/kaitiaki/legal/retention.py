"""The retention policy: deleting what no hold covers once its retention period has passed.

Periods are per kind, in days, and each left unset keeps that kind forever: the default policy
deletes nothing, so an installation never loses a record until an operator writes a policy
(``--policy FILE``, or ``KAITIAKI_RETENTION_POLICY`` for the server's daily run)::

    [retention]
    accounts_days = 365   # by the account's last activity (last_seen)
    subjects_days = 365   # when none of its accounts is left, or by their last activity
    evidence_days = 730   # by when the item was registered
    reports_days = 365    # finished (by finished_at) or retracted (by retracted_at)
    drafts_days = 30      # report drafts never submitted, by created_at

What a standing hold covers is kept and listed with the holds' ids; so is a referred subject and
its accounts. A dry run lists all of it, changes nothing and writes one ``retention.dry_run``
entry. A real run deletes one record per transaction (with its ``retention.deleted`` entry), so
a crash leaves every record either wholly there or wholly gone, then writes one
``retention.applied`` entry with the totals, so a run that found nothing is on record too.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.audit.log import utc
from kaitiaki.legal.coverage import HeldError, lock_holds, protected
from kaitiaki.legal.deletion import ReferredError, delete_record, referred_subjects
from kaitiaki.legal.holds import HoldNotFoundError
from kaitiaki.store import Store
from kaitiaki.store.models import Account, CyberTipReport, Evidence, Job, Subject

KINDS: Final = ("account", "subject", "evidence", "report")
POLICY_ENV: Final = "KAITIAKI_RETENTION_POLICY"
JOB_KIND: Final = "retention"
SCHEDULER: Final = "kaitiaki:scheduler"
MAX_DAYS: Final = 36_500

Progress = Callable[[int, int, str], None]


class RetentionError(ValueError):
    """A policy that cannot be used (unknown key, a period that is not a number of days)."""


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each kind is kept; None keeps it forever."""

    accounts_days: int | None = None
    subjects_days: int | None = None
    evidence_days: int | None = None
    reports_days: int | None = None
    drafts_days: int | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            # bool is an int in Python: "true" as a period is a mistake, not one day.
            if isinstance(value, bool) or not isinstance(value, int):
                raise RetentionError(f"{f.name}: must be a whole number of days")
            if not 1 <= value <= MAX_DAYS:
                raise RetentionError(f"{f.name}: must be between 1 and {MAX_DAYS} days")

    @property
    def keeps_everything(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def as_params(self) -> dict[str, int | None]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RetentionPolicy:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RetentionError(f"{unknown[0]}: unknown setting; expected one of {sorted(known)}")
        return cls(**{k: data[k] for k in known if k in data})


DEFAULT_POLICY: Final = RetentionPolicy()


def load_policy(path: Path) -> RetentionPolicy:
    """The ``[retention]`` table of a TOML file."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RetentionError(f"{path}: cannot read the policy ({exc})") from None
    table = document.get("retention")
    if not isinstance(table, dict) or set(document) - {"retention"}:
        raise RetentionError(f"{path}: the policy is a [retention] table and nothing else")
    return RetentionPolicy.from_mapping(table)


def policy_from_env(environ: Mapping[str, str] | None = None) -> RetentionPolicy:
    """The server's policy: the file ``KAITIAKI_RETENTION_POLICY`` names, else the default."""
    import os

    path = (environ if environ is not None else os.environ).get(POLICY_ENV, "").strip()
    return load_policy(Path(path)) if path else DEFAULT_POLICY


@dataclass
class KindResult:
    kind: str
    to_delete: list[str] = field(default_factory=list)
    held: dict[str, list[int]] = field(default_factory=dict)
    referred: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "to_delete": len(self.to_delete),
            "deleted": len(self.deleted),
            "held": len(self.held),
            "referred": len(self.referred),
        }


@dataclass
class RetentionResult:
    dry_run: bool
    at: datetime
    policy: RetentionPolicy
    kinds: dict[str, KindResult]

    def counts(self) -> dict[str, dict[str, int]]:
        return {k: r.counts() for k, r in self.kinds.items()}

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "at": self.at.isoformat(),
            "policy": self.policy.as_params(),
            "kinds": {k: asdict(r) for k, r in self.kinds.items()},
        }


def _before(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def _old(at: datetime | None, cutoff: datetime) -> bool:
    return at is not None and utc(at) < cutoff


def _account_candidates(
    session: Session, policy: RetentionPolicy, now: datetime
) -> tuple[set[str], dict[str, set[str]], dict[str, datetime | None]]:
    """(accounts past their period, subject -> its accounts, subject -> last activity)."""
    last_of: dict[str, list[datetime | None]] = {}
    accounts_of: dict[str, set[str]] = {}
    for account_id, subject_id, last_seen in session.execute(
        select(Account.account_id, Account.subject_id, Account.last_seen)
    ):
        last_of.setdefault(account_id, []).append(last_seen)
        if subject_id is not None:
            accounts_of.setdefault(subject_id, set()).add(account_id)
    cutoff = _before(now, policy.accounts_days)
    # An account with no recorded activity is never "old": there is nothing to date it by.
    old = (
        set()
        if cutoff is None
        else {a for a, seen in last_of.items() if all(_old(s, cutoff) for s in seen)}
    )
    activity: dict[str, datetime | None] = {}
    for subject_id, accounts in accounts_of.items():
        seen = [s for a in accounts for s in last_of[a]]
        activity[subject_id] = (
            None if not seen or any(s is None for s in seen) else max(utc(s) for s in seen if s)
        )
    return old, accounts_of, activity


def plan(session: Session, policy: RetentionPolicy, *, now: datetime) -> dict[str, KindResult]:
    """What the policy would delete at ``now``, and what it keeps because of holds or
    referrals; changes nothing."""
    covered = protected(session, at=now)
    referred = referred_subjects(session)
    results = {k: KindResult(k) for k in KINDS}

    def sort(kind: str, target: str, subject: str | None = None) -> None:
        if held := covered.hold_ids(kind, target):
            results[kind].held[target] = held
        elif subject is not None and subject in referred:
            results[kind].referred.append(target)
        else:
            results[kind].to_delete.append(target)

    old_accounts, accounts_of, activity = _account_candidates(session, policy, now)
    subject_of = {a: s for s, accounts in accounts_of.items() for a in accounts}
    for account_id in sorted(old_accounts):
        sort("account", account_id, subject_of.get(account_id))
    going = set(results["account"].to_delete)
    if (cutoff := _before(now, policy.subjects_days)) is not None:
        for subject_id in sorted(session.scalars(select(Subject.id))):
            left = accounts_of.get(subject_id, set()) - going
            if not left or _old(activity.get(subject_id), cutoff):
                sort("subject", subject_id, subject_id)
    if (cutoff := _before(now, policy.evidence_days)) is not None:
        for evidence_id, created in session.execute(select(Evidence.id, Evidence.created_at)):
            if _old(created, cutoff):
                sort("evidence", str(evidence_id))
    reports_cut = _before(now, policy.reports_days)
    drafts_cut = _before(now, policy.drafts_days)
    for report in session.scalars(select(CyberTipReport).order_by(CyberTipReport.id)):
        at, cutoff = {
            "finished": (report.finished_at, reports_cut),
            "retracted": (report.retracted_at, reports_cut),
            "draft": (report.created_at, drafts_cut),
        }.get(report.state, (None, None))
        if cutoff is not None and _old(at, cutoff):
            sort("report", str(report.id))
    for result in results.values():
        result.to_delete.sort(key=lambda v: (len(v), v))
    return results


def apply_retention(
    store: Store,
    policy: RetentionPolicy,
    *,
    actor: str,
    dry_run: bool,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> RetentionResult:
    """Apply ``policy``; see the module's description. ``progress(done, total, message)`` is
    called after each record (a job's progress, which may raise to stop the run between
    records)."""
    if not actor.strip():
        raise RetentionError("actor: a retention run needs the name of who (or what) runs it")
    at = utc(now) if now is not None else datetime.now(UTC)
    with store.session() as session:
        kinds = plan(session, policy, now=at)
        result = RetentionResult(dry_run, at, policy, kinds)
        if dry_run:
            record(
                session,
                actor=actor,
                action="retention.dry_run",
                target_type="retention",
                target_id="dry-run",
                details={"policy": policy.as_params(), "counts": result.counts()},
            )
            return result
    total = sum(len(r.to_delete) for r in kinds.values())
    done = 0
    reason = f"retention policy {_describe(policy)}"
    for kind in KINDS:
        found = kinds[kind]
        for target in list(found.to_delete):
            try:
                with store.session() as session:
                    delete_record(session, kind, target, actor=actor, reason=reason, at=at)
                found.deleted.append(target)
            except HeldError as exc:  # held since the plan was made
                found.held[target] = exc.hold_ids
            except ReferredError:
                found.referred.append(target)
            except HoldNotFoundError:  # gone meanwhile (another run, a re-analysis)
                pass
            done += 1
            if progress is not None:
                progress(done, total, f"{kind} {target}")
    with store.session() as session:
        record(
            session,
            actor=actor,
            action="retention.applied",
            target_type="retention",
            target_id="run",
            details={"policy": policy.as_params(), "counts": result.counts()},
        )
    return result


def _describe(policy: RetentionPolicy) -> str:
    set_ = [f"{k}={v}" for k, v in policy.as_params().items() if v is not None]
    return ", ".join(set_) or "keeping everything"


def queue_due_retention(
    store: Store,
    *,
    policy: RetentionPolicy | None = None,
    every: timedelta = timedelta(days=1),
    now: datetime | None = None,
) -> int | None:
    """The job runner's periodic task: queue a retention job once per ``every`` (daily) if the
    configured policy deletes anything; the job's id, or None when nothing was queued.

    Safe from several runners at once: each checks and queues under the holds lock, so one
    queues and the others see its job."""
    chosen = policy if policy is not None else policy_from_env()
    if chosen.keeps_everything:
        return None
    at = utc(now) if now is not None else datetime.now(UTC)
    with store.session() as session:
        lock_holds(session)
        recent = session.scalar(
            select(Job.id)
            .where(
                Job.kind == JOB_KIND,
                (Job.status.in_(("queued", "running"))) | (Job.created_at > at - every),
            )
            .limit(1)
        )
        if recent is not None:
            return None
        params: dict[str, Any] = {**chosen.as_params(), "dry_run": False}
        job = Job(
            kind=JOB_KIND, params=params, status="queued", created_by=SCHEDULER, message="queued"
        )
        session.add(job)
        session.flush()
        record(
            session,
            actor=SCHEDULER,
            action="job_submitted",
            target_type="job",
            target_id=str(job.id),
            details={"kind": JOB_KIND, "params": params, "because": "daily retention"},
        )
        event.listen(session, "after_commit", _wake_runners, once=True)
        return job.id


def _wake_runners(session: Session) -> None:
    from kaitiaki.jobs.queue import work_arrived

    with work_arrived:
        work_arrived.notify_all()


__all__ = [
    "DEFAULT_POLICY",
    "KindResult",
    "RetentionError",
    "RetentionPolicy",
    "RetentionResult",
    "apply_retention",
    "load_policy",
    "plan",
    "policy_from_env",
    "queue_due_retention",
]
