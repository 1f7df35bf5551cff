""" "Your work" on a real store (both engines): a person's own waiting and running jobs only, and
each item only for a role that may open its list (the browser test covers the page itself)."""

from __future__ import annotations

from kaitiaki.store import Store
from kaitiaki.store.models import Job
from kaitiaki.users import Jurisdiction, Role
from kaitiaki.web.authz import CurrentUser
from kaitiaki.web.your_work import running_jobs, your_work


def person(role: Role, *pairs: Jurisdiction) -> CurrentUser:
    return CurrentUser(1, f"{role.value}.one", role, frozenset(pairs), "0" * 64, "csrf")


def test_only_the_persons_queued_and_running_jobs_count(store: Store) -> None:
    with store.session() as session:
        for actor, status in [
            ("web:ian", "queued"),
            ("web:ian", "running"),
            ("web:ian", "done"),
            ("web:ian", "failed"),
            ("web:ada", "running"),
        ]:
            session.add(Job(kind="scan", params={}, status=status, created_by=actor))
    assert running_jobs(store, "web:ian") == 2
    assert running_jobs(store, "web:ada") == 1
    assert running_jobs(store, "web:nobody") == 0


def test_each_role_gets_only_the_items_it_may_open(store: Store) -> None:
    nz = Jurisdiction("NZ", "New Zealand Police")
    keys = {
        role: [item.key for item in your_work(store, person(role, *pairs))]
        for role, pairs in [
            (Role.ADMIN, ()),
            (Role.INVESTIGATOR, ()),
            (Role.REVIEWER, ()),
            (Role.LIAISON, (nz,)),
            (Role.AUDITOR, ()),
        ]
    }
    desk = ["holds", "reports-draft", "reports-failed"]
    assert keys == {
        Role.ADMIN: ["review", "received", "assigned", "referrals-draft", "jobs", *desk],
        Role.INVESTIGATOR: ["review", "received", "assigned", "referrals-draft", "jobs", *desk],
        Role.REVIEWER: ["review"],
        Role.LIAISON: ["received", "assigned", "referrals-sent"],
        Role.AUDITOR: ["received", "jobs", *desk],
    }
    # An empty store: nothing waits, and every item says what to do next.
    for role in Role:
        for item in your_work(store, person(role)):
            assert item.count == 0 and item.idle, item
