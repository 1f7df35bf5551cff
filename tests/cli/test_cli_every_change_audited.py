"""Every command of the ``kaitiaki`` CLI is either read-only (and says why) or a change that writes
its audit entries as the operator, ``cli:$KAITIAKI_USER``, never a typed-in name.

Where a command takes ``--by`` (whose call it was), the scenario passes another name, and the
actor must still be the operator. The rule: one entry per change, in the change's transaction.
Most commands make one change and so write exactly one entry. The few that make several changes
in one act say so in their scenario: a scan writes two (the item and run it starts, then the
manifest digest it seals), ``triage`` two (the near-duplicate groups it builds, then the
report), ``series import`` two (the hash set, then the series synced from it), ``refer`` one per
referral built. A command missing from the tables fails the test, so a new command cannot slip
in unaudited. Each scenario runs the command in-process against a real store, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from in_process import kaitiaki
from kaitiaki.store import Store
from kaitiaki.store.models import Account, AccountLink, AuditEvent, Referral, Subject

ACTOR = "cli:alice"
# A name typed on the command line (whose call it was) never becomes the audit actor.
BY = ["--by", "Supervisor S"]
PASSWORD = "a long test password"

# Commands that change nothing in the store, each with why (read by hand from its code).
READ_ONLY: dict[str, str] = {
    "audit anchor": "reads the log's head; writes it to a file or standard output",
    "audit log": "lists entries",
    "audit verify": "recomputes the chain",
    "case list": "lists received cases",
    "config show": "prints the settings file in force; no store",
    "deconflict check": "compares a partner's pointer file with the store",
    "deconflict export": "an export is a read: writes a pointer file",
    "demo": "composite (scans, analyses, builds) over the audited calls tested here",
    "exchange list": "lists exchanges",
    "exchange status": "shows an exchange and its last fetch",
    "export": "an export is a read: writes a results file",
    "geo locate": "looks addresses up in a file; no store",
    "hash": "hashes files; no store",
    "hashset export": "an export is a read: writes a VICS or list file",
    "hashset list": "lists hash sets",
    "init": "writes a settings file, folders and key files; no store",
    "hashset quarantine": "lists the entries the flood guard quarantined",
    "jobs list": "lists jobs",
    "jobs show": "shows a job",
    "keys generate": "writes a key pair to files; no store",
    "keys show": "prints a public key; no store",
    "keys trust list": "lists trusted keys",
    "match": "matches hashes against the store's hash sets",
    "operation evaluate": "compares an analysis folder with a ground truth; no store",
    "priority show": "lists priorities",
    "hold list": "lists legal holds",
    "report profile show": "shows the provider profile",
    "report list": "lists CyberTipline reports",
    "report show": "shows a CyberTipline report's state",
    "report stand-in": "serves a stand-in for NCMEC's API in memory; no store",
    "report status": "asks NCMEC's /status whether the credentials work; changes nothing",
    "records ingest": "writes a workspace folder of Parquet, not the store",
    "referral history": "lists a referral's changes",
    "serve": "runs the web server, whose changes test_web_every_change_audited covers",
    "simulate operation": "writes generated files; no store",
    "series export": "a VICS export is a read (writes a file); --signed writes one "
    "series_update.exported entry, tested in tests/triage/test_series_update.py",
    "series list": "lists series",
    "series show": "shows a series",
    "series stats": "counts",
    "stats": "counts",
    "summary": "summarises an evidence item",
    "tokens list": "lists API tokens",
    "users list": "lists users",
    "verify": "checks a package's signature against the trust store",
}


@dataclass
class World:
    store: Store
    root: Path
    runner: CliRunner
    app: typer.Typer
    found: dict[str, Any] = field(default_factory=dict)
    # The test's monkeypatch, for a scenario that must register something only for the test.
    patch: Any = None


@dataclass(frozen=True)
class Change:
    """The command line (without ``--db``), standard input, and the entries it must write."""

    args: list[str]
    actions: tuple[str, ...]
    input: str | None = None
    # For ``refer``: one entry per referral built, however many that is.
    per_referral: bool = False


Scenario = Callable[[World], Change]


def _images(folder: Path) -> Path:
    """Two benign photographs (scikit-image's samples) as JPEG files."""
    import numpy as np
    from PIL import Image
    from skimage import data

    folder.mkdir()
    for name in ("coffee", "astronaut"):
        pixels = np.asarray(getattr(data, name)())
        Image.fromarray(pixels).convert("RGB").save(folder / f"{name}.jpg", "JPEG", quality=92)
    return folder


def _first(store: Store, column: Any) -> str:
    with store.session() as session:
        found = session.scalar(select(column).order_by(column).limit(1))
    assert found is not None, f"nothing in {column}"
    return str(found)


def _sha(w: World) -> str:
    import hashlib

    return hashlib.sha256((w.root / "evidence" / "coffee.jpg").read_bytes()).hexdigest()


def _spare_set(w: World) -> None:
    from kaitiaki.hashsets import import_hash_set

    listed = w.root / "spare.txt"
    listed.write_text("".join(f"{i:032x}\n" for i in range(1, 20)))
    import_hash_set(w.store, listed, "spare", "list", actor="test:setup")


def _hashset_import(w: World) -> Change:
    from kaitiaki.simulate.operation import simulate_operation

    op = w.root / "op"
    # Small: enough for links, subjects and a few referrals, which is all the scenarios need.
    simulate_operation(op, accounts=100, flagged_accounts=10, events=1000, seed=5)
    args = ["hashset", "import", str(op / "hashset.json"), "--name", "operation-set"]
    # A set gaining entries queues its retroactive match, in the same transaction.
    return Change([*args, "--format", "vics"], ("hashset.imported", "job_submitted"))


def _hashset_add(w: World) -> Change:
    from kaitiaki.hashsets import import_hash_set

    base, more = w.root / "grows.txt", w.root / "more.txt"
    base.write_text("".join(f"{i:032x}\n" for i in range(1, 5)))
    import_hash_set(w.store, base, "grows", "list", actor="test:setup")
    more.write_text("".join(f"{i:032x}\n" for i in range(3, 9)))
    # The set's import queued a retroactive match that has not started: it takes these too,
    # so no second job is queued (match.retro_trigger).
    return Change(["hashset", "add", "grows", str(more)], ("hashset.entries_added",))


def _hashset_toggle(verb: str) -> Scenario:
    def scenario(w: World) -> Change:
        if verb == "disable":
            _spare_set(w)
        args = ["hashset", verb, "spare", *(["--yes"] if verb == "remove" else [])]
        return Change(args, (f"hashset.{verb}d",))

    return scenario


def _hashset_release(w: World) -> Change:
    """A quarantined entry (as the flood guard leaves it) released: the release, then the
    retroactive match it queues for the set."""
    from datetime import UTC, datetime

    from kaitiaki.store.models import HashSet, HashSetEntry

    with w.store.session() as session:
        row = HashSet(name="flooded", profile="none", source_format="test", entry_count=1)
        session.add(row)
        session.flush()
        entry = HashSetEntry(hash_set_id=row.id, md5="f" * 32, quarantined_at=datetime.now(UTC))
        session.add(entry)
        session.flush()
        entry_id = entry.id
    args = ["hashset", "release", str(entry_id), "--reason", "a genuine surge, checked"]
    return Change(args, ("hashset.entry_released", "job_submitted"))


def _scan(w: World) -> Change:
    folder = _images(w.root / "evidence")
    return Change(
        ["scan", str(folder), "-e", "ev", "-w", "1"], ("evidence.created", "scan.finished")
    )


def _analyse(w: World) -> Change:
    op = w.root / "op"
    args = ["operation", "analyse", "-r", str(op / "records.csv")]
    args += ["--accounts", str(op / "accounts.csv"), "--catalog", str(op / "catalog.csv")]
    return Change([*args, "-o", str(w.root / "analysis")], ("operation.analysed",))


def _unlink(w: World) -> Change:
    with w.store.session() as session:
        link = session.scalars(select(AccountLink).where(AccountLink.rejected.is_(False))).first()
        assert link is not None, "the analysis left no link"
        pair = [link.account_a, link.account_b]
    args = ["operation", "unlink", *pair, "--reason", "checked: two different people", *BY]
    return Change(args, ("link.rejected",))


def _refer(w: World) -> Change:
    from kaitiaki.refer.signing import generate_key

    key = generate_key(w.root / "keys" / "sender.key")
    args = ["refer", "--analysis", str(w.root / "analysis"), "-o", str(w.root / "packages")]
    return Change([*args, "--key", str(key)], ("referral.built",), per_referral=True)


def _status(w: World) -> Change:
    w.found["referral"] = _first(w.store, Referral.id)
    return Change(["referral", "status", w.found["referral"], "sent"], ("referral.status",))


def _sheet(w: World, name: str, text: str) -> str:
    path = w.root / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _outcomes(w: World) -> Change:
    sheet = _sheet(w, "outcomes.csv", f"referral_id,arrested\n{w.found['referral']},1\n")
    return Change(["outcomes", "import", sheet], ("referral.outcome",))


def _enrichment(w: World) -> Change:
    sheet = _sheet(w, "enrich.csv", f"subject_id,travel\n{_first(w.store, Subject.id)},yes\n")
    return Change(["enrichment", "import", sheet], ("enrichment.imported",))


def _trust_add(w: World) -> Change:
    from kaitiaki.refer.signing import generate_key, public_path

    public = public_path(generate_key(w.root / "partner" / "partner.key"))
    return Change(["keys", "trust", "add", "partner-nz", str(public)], ("trust.key_added",))


def _jobs_cancel(w: World) -> Change:
    from kaitiaki.jobs import submit

    job = submit(w.store, "scan", {"evidence": "never", "roots": [str(w.root)]}, by="web:bob")
    w.found["job"] = job
    return Change(["jobs", "cancel", str(job)], ("job_cancelled",))


def _users_jurisdiction(w: World) -> Change:
    from kaitiaki.users import Role, add_user, parse_jurisdiction

    pair = parse_jurisdiction("NZ:New Zealand Police")
    add_user(w.store, "liaison", Role.LIAISON, PASSWORD, actor="test:setup", jurisdictions=[pair])
    args = ["users", "jurisdiction", "liaison", "--set", "AU:Australian Federal Police"]
    return Change(args, ("user.jurisdiction",))


def _received(w: World) -> Change:
    # Our own package, imported as a partner would: signed by a key this store does not trust,
    # so accepted with a reason. The sender's flagged files become a hash set first.
    folder = w.root / "packages" / w.found["referral"]
    args = ["referral", "import", str(folder), "--accept-unknown-sender"]
    return Change(
        [*args, "--reason", "test"], ("hashset.imported", "job_submitted", "received.created")
    )


def _revise(w: World) -> Change:
    # Something new since the package was built (a person raises a subject's priority): a
    # revision that would say nothing new is refused and writes nothing.
    from kaitiaki.priority import override
    from kaitiaki.store.models import ReferralSubject

    with w.store.session() as session:
        subject = session.scalar(
            select(ReferralSubject.subject_id)
            .where(ReferralSubject.referral_id == w.found["referral"])
            .limit(1)
        )
    assert subject is not None
    override(w.store, subject, "very high", "a second victim identified", by="test:setup")
    args = ["referral", "revise", w.found["referral"], "-o", str(w.root / "revised")]
    args += ["--analysis", str(w.root / "analysis"), "--key", str(w.root / "keys" / "sender.key")]
    return Change(args, ("referral.revised",))


def _case(*args: str) -> Callable[[World], list[str]]:
    return lambda w: [args[0], args[1], w.found["referral"], *args[2:]]


def _outcomes_export(w: World) -> Change:
    args = ["outcomes", "export", "--referral", w.found["referral"], "-o"]
    args += [str(w.root / "outcomes.json"), "--key", str(w.root / "keys" / "sender.key")]
    return Change(args, ("received.outcomes_exported",))


def _fixed(args: list[str], *actions: str, input: str | None = None) -> Scenario:
    return lambda w: Change(args, actions, input)


def _exchange_remove(w: World) -> Change:
    from kaitiaki.exchanges import add_exchange

    add_exchange(w.store, "spare-exchange", "sample", hash_set="shared-bank", actor="test:setup")
    return Change(["exchange", "remove", "spare-exchange"], ("exchange.removed",))


def _exchange_feedback(w: World) -> Change:
    """Feedback to an exchange that takes it: the package's sample exchange, taking opinions
    (registered only for this test; nothing is sent anywhere)."""
    from threatexchange.exchanges.impl.static_sample import StaticSampleSignalExchangeAPI
    from threatexchange.signal_type.pdq.signal import PdqSignal

    from kaitiaki.exchanges import add_exchange, fetch
    from kaitiaki.exchanges.registry import APIS

    class Opinions(StaticSampleSignalExchangeAPI):
        @classmethod
        def get_name(cls) -> str:
            return "opinions"

        def report_opinion(self, s_type: Any, signal: str, opinion: Any) -> None:
            return None

    w.patch.setitem(APIS, "opinions", Opinions)
    add_exchange(w.store, "opinions", "opinions", hash_set="shared-bank", actor="test:setup")
    fetch(w.store, "opinions", actor="test:setup")
    signal = min(PdqSignal.get_examples())
    args = ["--signal-type", "pdq", "--signal", signal, "--opinion", "negative"]
    return Change(["exchange", "feedback", "opinions", *args], ("exchange.feedback",))


NCMEC_USER, NCMEC_PASSWORD = "esp-user", "not-a-real-password"


def _report_submit(w: World) -> Change:
    """The drafted report sent to a stand-in for NCMEC (loopback HTTP, stopped by the next
    scenario); no files chosen, so: opened, files done, the year's hold placed, finished."""
    from kaitiaki.cybertip.standin import StandIn, serve_in_thread
    from kaitiaki.store.models import CyberTipReport

    serving = serve_in_thread(StandIn(NCMEC_USER, NCMEC_PASSWORD).app)
    w.patch.setenv("KAITIAKI_CYBERTIP_URL", serving.__enter__())
    w.found["stand-in"] = serving
    w.found["cybertip"] = _first(w.store, CyberTipReport.id)
    return Change(
        ["report", "submit", w.found["cybertip"]],
        ("cybertip.submitted", "cybertip.files_sent", "hold.placed", "cybertip.finished"),
    )


def _report_retract(w: World) -> Change:
    """A copy of the drafted report, never sent, retracted (the finished one cannot be)."""
    from kaitiaki.store.models import CyberTipReport

    w.found.pop("stand-in").__exit__(None, None, None)
    with w.store.session() as session:
        sent = session.get(CyberTipReport, int(w.found["cybertip"]))
        assert sent is not None
        copy = CyberTipReport(
            subject_id=sent.subject_id,
            state="draft",
            document=sent.document,
            document_sha256=sent.document_sha256,
            created_by="test:setup",
        )
        session.add(copy)
        session.flush()
        copy_id = str(copy.id)
    return Change(["report", "retract", copy_id], ("cybertip.retracted",))


def _preservation_hold(w: World) -> str:
    from kaitiaki.store.models import LegalHold

    with w.store.session() as session:
        found = session.scalar(
            select(LegalHold.id).where(LegalHold.basis == "preservation_request").limit(1)
        )
    assert found is not None
    return str(found)


def _retention_policy(w: World) -> str:
    return _sheet(w, "retention.toml", "[retention]\naccounts_days = 365\nreports_days = 365\n")


def _with(build: Callable[[World], list[str]], *actions: str) -> Scenario:
    return lambda w: Change(build(w), actions)


# In the order they run: the world each needs is made by the ones before it.
CHANGES: dict[str, Scenario] = {
    "hashset import": _hashset_import,
    "hashset add": _hashset_add,
    "hashset disable": _hashset_toggle("disable"),
    "hashset enable": _hashset_toggle("enable"),
    "hashset remove": _hashset_toggle("remove"),
    "hashset release": _hashset_release,
    "jobs cancel": _jobs_cancel,
    "scan": _scan,
    # Its entries queue their retroactive match in the same transaction.
    "hashset create": _fixed(
        ["hashset", "create", "ev-set", "--from-evidence", "ev"],
        "hashset.imported",
        "job_submitted",
    ),
    "hashset retro-match": _fixed(
        ["hashset", "retro-match", "operation-set"], "hashset.retro_matched"
    ),
    "evidence legal-basis": _fixed(
        ["evidence", "legal-basis", "ev", "search warrant 2026/117"], "evidence.legal_basis"
    ),
    "review": _with(
        lambda w: ["review", "-e", "ev", _sha(w), "ignorable", "--single", *BY], "review_decision"
    ),
    "triage": _with(
        lambda w: ["triage", "-e", "ev", "-o", str(w.root / "report.html"), *BY],
        "triage.groups_built",
        "triage.report",
    ),
    "operation analyse": _analyse,
    "operation unlink": _unlink,
    "priority compute": _with(
        lambda w: ["priority", "compute", "--workspace", str(w.root / "analysis" / "workspace")],
        "priorities.computed",
    ),
    "priority override": _with(
        lambda w: [
            *("priority", "override", _first(w.store, Subject.id), "high"),
            *("--reason", "disclosed in an interview today", *BY),
        ],
        "priority.override",
    ),
    "enrichment import": _enrichment,
    "refer": _refer,
    # Answering legal process discloses an account's records outside the provider (the key is
    # the one ``refer`` generated).
    "disclose": _with(
        lambda w: [
            *("disclose", "--account", _first(w.store, Account.account_id), "--request", "LP-1"),
            *("-a", str(w.root / "analysis"), "-o", str(w.root / "disclosed" / "lp-1")),
            *("--key", str(w.root / "keys" / "sender.key")),
        ],
        "disclosure.written",
    ),
    # Who the provider is in its reports to NCMEC: audited, with the fields that changed.
    "report profile set": _fixed(
        [
            *("report", "profile", "set", "--first-name", "R", "--last-name", "Reporter"),
            *("--email", "r@example.org", "--esp-name", "Example"),
        ],
        "cybertip.profile_set",
    ),
    # A report to NCMEC discloses a person outside the organisation: audited like a change.
    "report cybertipline": _with(
        lambda w: [
            *("report", "cybertipline", "--subject", _first(w.store, Subject.id)),
            *("-o", str(w.root / "disclosed" / "tip"), "-a", str(w.root / "analysis")),
        ],
        "cybertip.drafted",
    ),
    # NCMEC's username and password, on standard input only; the entry never holds them.
    "report credentials": _fixed(
        ["report", "credentials"],
        "cybertip.credentials_set",
        input=f'{{"username": "{NCMEC_USER}", "password": "{NCMEC_PASSWORD}"}}',
    ),
    "report submit": _report_submit,
    "report retract": _report_retract,
    # Legal holds and the retention policy: preservation is a legal duty, each step audited.
    "hold add": _with(
        lambda w: [
            *("hold", "add", "--account", _first(w.store, Account.account_id)),
            *("--kind", "preservation_request", "--reference", "PR-2026-1"),
            *("--basis", "preservation request from the police"),
        ],
        "hold.placed",
    ),
    "hold extend": _with(lambda w: ["hold", "extend", _preservation_hold(w)], "hold.extended"),
    "hold release": _with(
        lambda w: ["hold", "release", _preservation_hold(w), "--reason", "request withdrawn"],
        "hold.released",
    ),
    "retention apply": _with(
        lambda w: ["retention", "apply", "--dry-run", "--policy", _retention_policy(w)],
        "retention.dry_run",
    ),
    "referral status": _status,
    "outcomes import": _outcomes,
    "keys trust add": _trust_add,
    "keys trust remove": _fixed(["keys", "trust", "remove", "partner-nz"], "trust.key_removed"),
    "series add": _fixed(["series", "add", "S-1"], "series.created"),
    "series update": _fixed(
        ["series", "update", "S-1", "--identified", "--reason", "victim named"], "series.updated"
    ),
    "series link": _with(lambda w: ["series", "link", "S-1", "--file", _sha(w)], "series.linked"),
    "series sync": _fixed(["series", "sync"], "series.synced"),
    "series import": _with(
        lambda w: ["series", "import", str(w.root / "op" / "hashset.json"), "--name", "again"],
        "hashset.imported",
        "job_submitted",
        "series.synced",
    ),
    "series victim add": _fixed(["series", "victim", "add", "V-1"], "victim.created"),
    "series victim update": _fixed(
        ["series", "victim", "update", "V-1", "--identified", "--reason", "safe"],
        "victim.updated",
    ),
    "series offender add": _fixed(["series", "offender", "add", "O-1"], "offender.created"),
    "series offender update": _fixed(
        ["series", "offender", "update", "O-1", "--identified", "--reason", "arrested"],
        "offender.updated",
    ),
    "users add": _fixed(
        ["users", "add", "bob", "--role", "investigator", "--password-stdin"],
        "user.added",
        input=f"{PASSWORD}\n",
    ),
    "referral import": _received,
    "referral revise": _revise,
    "case show": _with(_case("case", "show"), "view"),
    "case assign": _with(_case("case", "assign", "bob"), "received.assigned"),
    "case step": _with(_case("case", "step", "legal_request"), "received.step"),
    "case note": _with(_case("case", "note", "called the ISP"), "received.note"),
    "outcomes export": _outcomes_export,
    "users jurisdiction": _users_jurisdiction,
    "users passwd": _fixed(
        ["users", "passwd", "bob", "--password-stdin"],
        "user.password_changed",
        input="another long test password\n",
    ),
    "users disable": _fixed(["users", "disable", "bob"], "user.disabled"),
    "tokens create": _fixed(
        ["tokens", "create", "hma-client", "--scope", "match"], "token.created"
    ),
    "tokens revoke": _fixed(["tokens", "revoke", "hma-client"], "token.revoked"),
    # The package's own sample exchange: no network. Its new hash set is a change of its own.
    "exchange add": _fixed(
        ["exchange", "add", "shared", "--api", "sample", "--hash-set", "shared-bank"],
        "hashset.imported",
        "exchange.added",
    ),
    "exchange fetch": _fixed(["exchange", "fetch", "shared"], "exchange.fetched", "job_submitted"),
    "exchange schedule": _fixed(
        ["exchange", "schedule", "shared", "--every", "1h"], "exchange.scheduled"
    ),
    "exchange feedback": _exchange_feedback,
    "exchange remove": _exchange_remove,
    "exchange credentials": _fixed(
        ["exchange", "credentials", "ncmec"],
        "exchange_api.credentials_set",
        input='{"user": "test-user", "password": "not-a-real-password"}',
    ),
}


def _package(w: World) -> list[str]:
    folder = next(p for p in sorted((w.root / "packages").iterdir()) if p.is_dir())
    return ["verify", str(folder), "--key", str(w.root / "keys" / "sender.key.pub")]


def _out(w: World, name: str) -> str:
    return str(w.root / "read" / name)


# Read-only commands run after the changes, over the world they made: each must succeed and
# write nothing (a check on the READ_ONLY table, which is read from the code by hand). Left
# out: serve, demo, simulate, hash, keys generate/show, records ingest, geo locate and
# operation evaluate, which open no store.
READ_RUNS: dict[str, Callable[[World], list[str]]] = {
    "audit anchor": lambda w: ["audit", "anchor", "-o", _out(w, "anchor.json")],
    "audit log": lambda w: ["audit", "log"],
    "audit verify": lambda w: ["audit", "verify", "--anchor", _out(w, "anchor.json")],
    "case list": lambda w: ["case", "list"],
    "deconflict export": lambda w: [
        *("deconflict", "export", "-o", _out(w, "pointers.json"), "--contact", "ops@example"),
        *("-a", str(w.root / "analysis")),
    ],
    "deconflict check": lambda w: [
        *("deconflict", "check", _out(w, "pointers.json"), "-a", str(w.root / "analysis")),
    ],
    "exchange list": lambda w: ["exchange", "list"],
    "exchange status": lambda w: ["exchange", "status", "shared"],
    "export": lambda w: ["export", "-e", "ev", "-f", "csv", "-o", _out(w, "ev.csv")],
    "hashset export": lambda w: [
        *("hashset", "export", "operation-set", "--format", "list", "-o", _out(w, "set.txt")),
    ],
    "hashset list": lambda w: ["hashset", "list"],
    "jobs list": lambda w: ["jobs", "list"],
    "jobs show": lambda w: ["jobs", "show", str(w.found["job"])],
    "keys trust list": lambda w: ["keys", "trust", "list"],
    "match": lambda w: ["match", _sha(w)],
    "priority show": lambda w: ["priority", "show"],
    "referral history": lambda w: ["referral", "history", w.found["referral"]],
    "report list": lambda w: ["report", "list"],
    "hold list": lambda w: ["hold", "list", "--all"],
    "report show": lambda w: ["report", "show", w.found["cybertip"]],
    "report profile show": lambda w: ["report", "profile", "show"],
    "series export": lambda w: ["series", "export", "-o", _out(w, "series.json")],
    "series list": lambda w: ["series", "list"],
    "series show": lambda w: ["series", "show", "S-1"],
    "series stats": lambda w: ["series", "stats"],
    "stats": lambda w: ["stats"],
    "summary": lambda w: ["summary", "-e", "ev"],
    "tokens list": lambda w: ["tokens", "list"],
    "users list": lambda w: ["users", "list"],
    "verify": _package,
}


def _commands() -> dict[str, click.Command]:
    from kaitiaki.cli.app import _register, app

    _register()
    found: dict[str, click.Command] = {}

    def walk(command: click.Command, prefix: list[str]) -> None:
        # Typer's groups are not always click.Group instances: walk whatever has commands.
        children = getattr(command, "commands", None)
        if children is None:
            found[" ".join(prefix)] = command
            return
        for name, child in children.items():
            walk(child, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return found


def test_every_command_is_classified() -> None:
    commands = set(_commands())
    both = READ_ONLY.keys() & CHANGES.keys()
    missing = sorted(commands - READ_ONLY.keys() - CHANGES.keys())
    stale = sorted((READ_ONLY.keys() | CHANGES.keys()) - commands)
    problems = [f"add a scenario or a READ_ONLY reason for kaitiaki {c}" for c in missing]
    problems += [f"no command kaitiaki {c} any more" for c in stale]
    problems += [f"kaitiaki {c} is both read-only and a change" for c in sorted(both)]
    assert not problems, "\n".join(problems)


def _head(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.max(AuditEvent.id))) or 0


def _since(store: Store, after: int) -> list[tuple[str, str]]:
    with store.session() as session:
        query = select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)
        return [(e.action, e.actor) for e in session.scalars(query)]


def _referrals(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(Referral)) or 0


def test_every_change_writes_its_entries_as_the_operator(
    store: Store, tmp_path: Path, monkeypatch: Any
) -> None:
    from kaitiaki.cli.app import _register, app

    _register()
    monkeypatch.setenv("KAITIAKI_USER", "alice")
    monkeypatch.setenv("KAITIAKI_KEYS", str(tmp_path / "keys"))
    monkeypatch.setenv("KAITIAKI_POINTER_KEY", "a secret agreed with the partners")
    w = World(store, tmp_path, CliRunner(), app)
    w.patch = monkeypatch
    failures: list[str] = []
    for name, scenario in CHANGES.items():
        change = scenario(w)
        before, referrals = _head(store), _referrals(store)
        # The command tree built once (Typer's runner rebuilt it on each of ~60 calls).
        result = kaitiaki(*change.args, "--db", store.url, input=change.input)
        if result.exit_code != 0:
            failures.append(f"{name}: exit {result.exit_code}: {result.output[-400:]}")
            continue
        written = _since(store, before)
        expected = change.actions
        if change.per_referral:
            built = _referrals(store) - referrals
            expected = change.actions * built
            if built < 1:
                failures.append(f"{name}: built no referral")
        if written != [(action, ACTOR) for action in expected]:
            failures.append(f"{name}: wrote {written}, expected {expected} by {ACTOR}")
    (tmp_path / "read").mkdir()
    for name, build in READ_RUNS.items():
        assert name in READ_ONLY, name
        before = _head(store)
        result = kaitiaki(*build(w), "--db", store.url)
        if result.exit_code != 0:
            failures.append(f"{name}: exit {result.exit_code}: {result.output[-400:]}")
        elif written := _since(store, before):
            failures.append(f"{name} is classed read-only but wrote {written}")
    assert not failures, "\n".join(failures)


def test_no_typed_name_becomes_the_actor(sqlite_store: Store, monkeypatch: Any) -> None:
    """``series`` commands once took ``--by NAME`` as the audit actor: anyone could write
    changes in another person's name. The option is gone; the operator is the actor."""
    from kaitiaki.cli.app import _register, app

    _register()
    monkeypatch.setenv("KAITIAKI_USER", "alice")
    runner, db = CliRunner(), ["--db", sqlite_store.url]
    spoofed = runner.invoke(app, ["series", "add", "S-9", "--by", "mallory", *db])
    assert spoofed.exit_code == 2 and _since(sqlite_store, 0) == []
    assert runner.invoke(app, ["series", "add", "S-9", *db]).exit_code == 0
    assert _since(sqlite_store, 0) == [("series.created", ACTOR)]
