"""Identity resolution: strong links, junk, transitive merges, undo, weak IP links."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from accounts_samples import KEY, OTHER_KEY, T0, PhoneSample, account, groups, phone_samples
from hypothesis import given
from hypothesis import strategies as st

from kaitiaki.accounts import (
    AccountIdentifiers,
    IpEvent,
    Link,
    resolve_subjects,
    subject_id,
)


def test_email_variants_link_but_dots_outside_gmail_do_not() -> None:
    resolution = resolve_subjects(
        [
            account("a", emails=("John.Smith@gmail.com",)),
            account("b", emails=("johnsmith+cam@googlemail.com",)),
            account("c", emails=("john.smith@example.com",)),
            account("d", emails=("johnsmith@example.com",)),
            account("e", emails=("JOHN.SMITH@EXAMPLE.COM",)),
        ],
        operation_key=KEY,
    )
    assert groups(resolution) == [["a", "b"], ["c", "e"], ["d"]]
    assert set(resolution.links) == {
        Link("a", "b", "email=johnsmith@gmail.com"),
        Link("c", "e", "email=john.smith@example.com"),
    }


@pytest.mark.parametrize("sample", phone_samples(), ids=lambda s: f"{s.region}-{s.e164}")
def test_phones_in_national_and_international_form_link(sample: PhoneSample) -> None:
    region, e164 = sample.region, sample.e164
    resolution = resolve_subjects(
        [
            account("national", phones=(sample.national,), region=region),
            account("intl", phones=(sample.international,)),
            account("e164", phones=(e164,), region="NZ" if region != "NZ" else "AU"),
        ],
        operation_key=KEY,
    )
    assert groups(resolution) == [["e164", "intl", "national"]]
    assert {link.reason for link in resolution.links} == {f"phone={e164}"}
    assert len(resolution.links) == 2


def test_national_phone_without_region_and_invalid_phones_do_not_link() -> None:
    resolution = resolve_subjects(
        [
            account("a", phones=("021 123 4567",)),  # national, region unknown: unusable
            account("b", phones=("021 123 4567",)),
            account("c", phones=("12345",), region="NZ"),
            account("d", phones=("12345",), region="NZ"),
        ],
        operation_key=KEY,
    )
    assert groups(resolution) == [["a"], ["b"], ["c"], ["d"]]
    assert resolution.links == ()


def test_device_id_variants_link() -> None:
    resolution = resolve_subjects(
        [
            account("a", devices=("6F9619FF-8B86-D011-B42D-00C04FC964FF",)),
            account("b", devices=("{6f9619ff8b86d011b42d00c04fc964ff}",)),
            account("c", devices=("00000000-0000-0000-0000-000000000000",)),
            account("d", devices=("00000000-0000-0000-0000-000000000000",)),
        ],
        operation_key=KEY,
    )
    assert groups(resolution) == [["a", "b"], ["c"], ["d"]]
    assert resolution.links == (Link("a", "b", "device=6f9619ff8b86d011b42d00c04fc964ff"),)


def test_over_shared_identifier_does_not_link_and_is_reported() -> None:
    rows = [account(f"x{i}", emails=("shared@example.com",)) for i in range(8)]
    rows += [account(f"y{i}", phones=("+64 21 123 4567",)) for i in range(5)]  # at the limit
    resolution = resolve_subjects(rows, operation_key=KEY)
    assert all([f"x{i}"] in groups(resolution) for i in range(8))
    assert [f"y{i}" for i in range(5)] in groups(resolution)
    (skipped,) = resolution.skipped
    assert (skipped.kind, skipped.value, skipped.accounts) == ("email", "shared@example.com", 8)
    assert "> 5" in skipped.reason
    # Lowering the limit skips the phone too.
    tighter = resolve_subjects(rows, max_accounts_per_identifier=4, operation_key=KEY)
    assert len(tighter.subjects) == 13
    assert {s.kind for s in tighter.skipped} == {"email", "phone"}


def test_star_links_per_identifier() -> None:
    rows = [account(name, emails=("kiri@example.co.nz",)) for name in "dcba"]
    resolution = resolve_subjects(rows, operation_key=KEY)
    assert [(link.account_a, link.account_b) for link in resolution.links] == [
        ("a", "b"),
        ("a", "c"),
        ("a", "d"),
    ]


def test_transitive_merge_keeps_both_reasons() -> None:
    resolution = resolve_subjects(
        [
            account("A", emails=("mere@example.org",)),
            account("B", emails=("Mere@Example.org",), phones=("021 123 4567",), region="NZ"),
            account("C", phones=("+64 21 123 4567",)),
        ],
        operation_key=KEY,
    )
    (subject,) = resolution.subjects
    assert subject.account_ids == ("A", "B", "C")
    assert subject.subject_id == subject_id(KEY, ["A", "B", "C"])
    assert resolution.links == (
        Link("A", "B", "email=mere@example.org"),
        Link("B", "C", "phone=+64211234567"),
    )
    assert [link.kind for link in resolution.links] == ["email", "phone"]
    assert resolution.subject_of() == dict.fromkeys("ABC", subject.subject_id)


def test_several_rows_of_one_account_merge() -> None:
    resolution = resolve_subjects(
        [
            account("a", emails=("aroha@example.com",)),
            account("a", phones=("0412 345 678",), region="AU"),
            account("b", phones=("+61412345678",)),
            account("c", emails=("aroha@example.com",)),
        ],
        operation_key=KEY,
    )
    assert groups(resolution) == [["a", "b", "c"]]


def test_usernames_do_not_link() -> None:
    rows = [
        AccountIdentifiers("a", usernames=("kiwi99",)),
        AccountIdentifiers("b", usernames=("kiwi99",)),
    ]
    assert groups(resolve_subjects(rows, operation_key=KEY)) == [["a"], ["b"]]


def test_rejected_link_splits_subject() -> None:
    rows = [
        account("A", emails=("mere@example.org",)),
        account("B", emails=("mere@example.org",), phones=("+64211234567",)),
        account("C", phones=("+64211234567",)),
    ]
    before = resolve_subjects(rows, operation_key=KEY)
    assert groups(before) == [["A", "B", "C"]]
    after = resolve_subjects(rows, rejected_links=[("B", "A")], operation_key=KEY)
    assert groups(after) == [["A"], ["B", "C"]]
    assert after.links == (Link("B", "C", "phone=+64211234567"),)
    # The split subject gets a new id; the untouched one would keep its id.
    assert before.subjects[0].subject_id not in {s.subject_id for s in after.subjects}


def test_rejection_removes_every_direct_link_of_the_pair() -> None:
    rows = [
        account("A", emails=("mere@example.org",), devices=("a1b2c3d4e5f6",)),
        account("B", emails=("mere@example.org",), devices=("A1:B2:C3:D4:E5:F6",)),
    ]
    assert len(resolve_subjects(rows, operation_key=KEY).links) == 2
    after = resolve_subjects(rows, rejected_links=[("A", "B")], operation_key=KEY)
    assert groups(after) == [["A"], ["B"]]


def test_rejection_does_not_split_when_other_evidence_joins() -> None:
    rows = [account(name, emails=("mere@example.org",)) for name in ("A", "B", "C")]
    after = resolve_subjects(rows, rejected_links=[("A", "B")], operation_key=KEY)
    # C shares the address with both: the three stay one subject, now linked through C.
    assert groups(after) == [["A", "B", "C"]]
    assert {(link.account_a, link.account_b) for link in after.links} == {("A", "C"), ("B", "C")}


def _ip_rows() -> list[AccountIdentifiers]:
    return [account(name) for name in ("a", "b", "c", "d", "e", "f", "g")]


def test_weak_links_are_off_by_default_and_on_with_events() -> None:
    events = [
        IpEvent("a", "81.2.69.160", T0),
        IpEvent("b", "81.2.69.160", T0 + timedelta(minutes=4)),
        IpEvent("c", "81.2.69.160", T0 + timedelta(hours=3)),  # same address, hours later
    ]
    assert len(resolve_subjects(_ip_rows(), operation_key=KEY).subjects) == 7
    resolution = resolve_subjects(_ip_rows(), weak_events=events, operation_key=KEY)
    assert ["a", "b"] in groups(resolution)
    (link,) = resolution.links
    assert (link.account_a, link.account_b, link.strong) == ("a", "b", False)
    assert link.reason == "ip=81.2.69.160 (240 s apart at 2024-03-01T10:00:00+00:00)"
    wider = resolve_subjects(
        _ip_rows(), weak_events=events, window=timedelta(hours=4), operation_key=KEY
    )
    assert ["a", "b", "c"] in groups(wider)


def test_weak_links_ignore_non_public_and_over_shared_addresses() -> None:
    events = [
        IpEvent("a", "192.168.1.1", T0),
        IpEvent("b", "192.168.1.1", T0),
        IpEvent("c", "100.64.3.4", T0),
        IpEvent("d", "100.64.3.4", T0),
        # 2a02:cf40::5 carries four accounts over the day (one not being resolved): a shared exit.
        IpEvent("e", "2a02:cf40::5", T0),
        IpEvent("f", "2A02:CF40:0::5", T0 + timedelta(minutes=1)),
        IpEvent("g", "2a02:cf40::5", T0 + timedelta(hours=5)),
        IpEvent("outsider", "2a02:cf40::5", T0 + timedelta(hours=9)),
        IpEvent("a", "not-an-ip", T0),
    ]
    resolution = resolve_subjects(_ip_rows(), weak_events=events, operation_key=KEY)
    assert len(resolution.subjects) == 7
    skipped = {(s.value, s.accounts): s.reason for s in resolution.skipped}
    assert "private" in skipped[("192.168.1.1", 2)]
    assert "carrier-grade NAT" in skipped[("100.64.3.4", 2)]
    assert "used by 4 accounts (> 3)" in skipped[("2a02:cf40::5", 4)]
    # With the limit raised the exit links e and f (one minute apart), not g (hours later).
    raised = resolve_subjects(
        _ip_rows(), weak_events=events, max_accounts_per_ip=4, operation_key=KEY
    )
    assert ["e", "f"] in groups(raised)


def test_weak_links_respect_rejections_and_naive_times() -> None:
    naive = T0.replace(tzinfo=None)
    events = [IpEvent("a", "81.2.69.160", naive), IpEvent("b", "81.2.69.160", T0)]
    assert ["a", "b"] in groups(resolve_subjects(_ip_rows(), weak_events=events, operation_key=KEY))
    rejected = resolve_subjects(
        _ip_rows(), weak_events=events, rejected_links=[("a", "b")], operation_key=KEY
    )
    assert len(rejected.subjects) == 7


def test_ids_stable_across_runs_and_key_dependent() -> None:
    rows = [
        account("A", emails=("mere@example.org",)),
        account("B", emails=("mere@example.org",)),
        account("C"),
    ]
    first = resolve_subjects(rows, operation_key=KEY)
    again = resolve_subjects(list(reversed(rows)), operation_key=KEY)
    assert first == again
    other = resolve_subjects(rows, operation_key=OTHER_KEY)
    assert groups(other) == groups(first)
    assert {s.subject_id for s in other.subjects}.isdisjoint(s.subject_id for s in first.subjects)


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        resolve_subjects([], max_accounts_per_identifier=1, operation_key=KEY)


_pool = st.sampled_from(
    ["kiri@example.com", "KIRI@example.com", "a.b@gmail.com", "ab@gmail.com", "x@example.net"]
)
_phones = st.sampled_from(["+64211234567", "021 123 4567", "+61412345678", "junk"])


@given(
    st.lists(
        st.tuples(
            st.sampled_from([f"acc{i}" for i in range(12)]),
            st.lists(_pool, max_size=2),
            st.lists(_phones, max_size=2),
        ),
        max_size=20,
    ),
    st.randoms(use_true_random=False),
)
def test_resolution_is_a_partition_independent_of_order(
    raw: list[tuple[str, list[str], list[str]]], rnd: random.Random
) -> None:
    rows = [account(a, emails=tuple(e), phones=tuple(p), region="NZ") for a, e, p in raw]
    resolution = resolve_subjects(rows, max_accounts_per_identifier=12, operation_key=KEY)
    members = [a for s in resolution.subjects for a in s.account_ids]
    assert sorted(members) == sorted({a for a, _, _ in raw})
    subject_of = resolution.subject_of()
    for link in resolution.links:
        assert link.account_a < link.account_b
        assert subject_of[link.account_a] == subject_of[link.account_b]
    # No link twice.
    assert len({(lk.account_a, lk.account_b, lk.reason) for lk in resolution.links}) == len(
        resolution.links
    )
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert resolve_subjects(shuffled, max_accounts_per_identifier=12, operation_key=KEY) == (
        resolution
    )
