"""Country attribution: home, travellers, VPN users, private-only subjects, explained."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from accounts_samples import T0

from kaitiaki.accounts import IpActivity, Subject, SubjectEvent, attribute_subjects


@dataclass(frozen=True)
class Ip:
    """Stands in for ``kaitiaki.geo.IpInfo``: same attributes, typed against the Protocol."""

    scope: str
    country: str | None
    hosting: bool = False
    asn: int | None = None


IP_INFO = {
    "81.2.69.160": Ip("public", "NZ", asn=9500),
    "81.2.69.161": Ip("public", "NZ", asn=9500),
    "2a02:cf40::7": Ip("public", "AU", asn=1221),
    "89.160.20.112": Ip("public", "GB"),
    "185.220.101.50": Ip("public", "US", hosting=True, asn=16509),  # a VPN exit
    "185.220.101.51": Ip("public", "DE", hosting=True, asn=24940),
    "192.168.1.1": Ip("private", None),
    "100.64.0.7": Ip("cgnat", None),
    "175.16.199.200": Ip("public", None),
}


def _events(account: str, ip: str, count: int, start_hours: int = 0) -> list[SubjectEvent]:
    return [
        SubjectEvent(account, ip, T0 + timedelta(hours=start_hours, minutes=i))
        for i in range(count)
    ]


def test_single_country() -> None:
    events = _events("a", "81.2.69.160", 6) + _events("b", "81.2.69.161", 3)
    (att,) = attribute_subjects([Subject("S-1", ("a", "b"))], events, IP_INFO)
    assert (att.country, att.status, att.vpn_or_hosting, att.multi_country) == (
        "NZ",
        "attributed",
        False,
        False,
    )
    assert att.confidence == round(9 / 10, 3)
    assert att.countries == (("NZ", 9),)
    assert att.events == 9
    assert [(e.ip, e.events, e.used) for e in att.evidence] == [
        ("81.2.69.160", 6, True),
        ("81.2.69.161", 3, True),
    ]
    assert att.evidence[0].first == T0 and att.evidence[0].last == T0 + timedelta(minutes=5)
    assert att.reason == "NZ from 9 of 9 attributable events on 2 IPs"


def test_traveller_is_listed_as_multi_country() -> None:
    events = _events("a", "81.2.69.160", 7) + _events("a", "2A02:CF40:0::7", 3, start_hours=48)
    (att,) = attribute_subjects([Subject("S-1", ("a",))], events, IP_INFO)
    assert att.country == "NZ"
    assert att.countries == (("NZ", 7), ("AU", 3))
    assert att.multi_country
    assert att.confidence == round(7 / 11, 3)
    assert "seen in several countries: AU 3" in att.reason


def test_one_stray_event_in_a_big_history_is_not_multi_country() -> None:
    events = _events("a", "81.2.69.160", 20) + _events("a", "89.160.20.112", 1)
    (att,) = attribute_subjects([Subject("S-1", ("a",))], events, IP_INFO)
    assert (att.country, att.multi_country) == ("NZ", False)
    assert att.countries == (("NZ", 20), ("GB", 1))
    assert "also: GB 1" in att.reason


def test_ties_go_to_more_ips_then_most_recent() -> None:
    more_ips = (
        _events("a", "81.2.69.160", 1)
        + _events("a", "81.2.69.161", 1)
        + _events("a", "2a02:cf40::7", 2)
    )
    (att,) = attribute_subjects([Subject("S-1", ("a",))], more_ips, IP_INFO)
    assert att.country == "NZ"
    recent = _events("a", "81.2.69.160", 2) + _events("a", "89.160.20.112", 2, start_hours=5)
    (att,) = attribute_subjects([Subject("S-1", ("a",))], recent, IP_INFO)
    assert att.country == "GB"
    assert att.confidence == round(2 / 5, 3)


def test_vpn_only_subject_is_flagged_not_attributed() -> None:
    events = _events("a", "185.220.101.50", 5) + _events("a", "185.220.101.51", 2)
    (att,) = attribute_subjects([Subject("S-1", ("a",))], events, IP_INFO)
    assert att.country is None
    assert att.vpn_or_hosting and att.status == "vpn_or_hosting"
    assert att.confidence == 0.0
    assert "hosting/VPN" in att.reason and "7 from hosting/VPN IPs" in att.reason
    assert {(e.ip, e.use, e.asn) for e in att.evidence} == {
        ("185.220.101.50", "hosting", 16509),
        ("185.220.101.51", "hosting", 24940),
    }


def test_mixed_vpn_and_home_takes_country_from_home() -> None:
    events = _events("a", "185.220.101.50", 8) + _events("a", "81.2.69.160", 2)
    (att,) = attribute_subjects([Subject("S-1", ("a",))], events, IP_INFO)
    assert att.country == "NZ"  # never US, the VPN exit's country
    assert att.vpn_or_hosting and att.status == "attributed"
    assert att.countries == (("NZ", 2),)
    assert att.confidence == round(2 / 3, 3)
    assert "mostly behind hosting/VPN" in att.reason and "8 from hosting/VPN IPs" in att.reason


def test_minority_vpn_is_not_flagged() -> None:
    events = _events("a", "185.220.101.50", 1) + _events("a", "81.2.69.160", 5)
    (att,) = attribute_subjects([Subject("S-1", ("a",))], events, IP_INFO)
    assert (att.country, att.vpn_or_hosting) == ("NZ", False)
    assert "not used: 1 from hosting/VPN IPs" in att.reason


@pytest.mark.parametrize(
    ("ips", "words"),
    [
        (("192.168.1.1", "100.64.0.7"), "from private/CGNAT/reserved IPs"),
        (("175.16.199.200",), "from public IPs of unknown country"),
        (("81.2.69.99",), "from IPs missing from the lookup"),
    ],
)
def test_unattributable_subjects_say_why(ips: tuple[str, ...], words: str) -> None:
    events = [e for ip in ips for e in _events("a", ip, 2)]
    (att,) = attribute_subjects([Subject("S-1", ("a",))], events, IP_INFO)
    assert (att.country, att.status, att.vpn_or_hosting) == (None, "unattributed", False)
    assert att.reason.startswith("unattributed: no attributable events")
    assert f"{2 * len(ips)} {words}" in att.reason


def test_private_and_a_little_vpn_is_still_flagged() -> None:
    events = _events("a", "192.168.1.1", 5) + _events("a", "185.220.101.50", 1)
    (att,) = attribute_subjects([Subject("S-1", ("a",))], events, IP_INFO)
    assert (att.country, att.vpn_or_hosting, att.status) == (None, True, "vpn_or_hosting")


def test_subjects_without_events_and_foreign_events() -> None:
    subjects = [Subject("S-1", ("a",)), Subject("S-2", ("b",))]
    events = _events("a", "81.2.69.160", 1) + _events("stranger", "89.160.20.112", 4)
    first, second = attribute_subjects(subjects, events, IP_INFO)
    assert (first.subject_id, first.country, first.confidence) == ("S-1", "NZ", 0.5)
    assert (second.subject_id, second.status, second.country) == ("S-2", "no_events", None)


def test_ip_written_two_ways_is_one_row_and_naive_times_are_utc() -> None:
    events = [
        SubjectEvent("a", "::ffff:81.2.69.160", T0.replace(tzinfo=None)),
        SubjectEvent("a", "81.2.69.160", T0 + timedelta(minutes=1)),
    ]
    (att,) = attribute_subjects([Subject("S-1", ("a",))], events, IP_INFO)
    (row,) = att.evidence
    assert (row.ip, row.events, row.first, row.country) == ("81.2.69.160", 2, T0, "NZ")


def test_pre_aggregated_activity_equals_single_events() -> None:
    events = _events("a", "81.2.69.160", 4) + _events("a", "2a02:cf40::7", 2, start_hours=3)
    activity = [
        IpActivity("a", "81.2.69.160", 3, T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)),
        IpActivity(
            "a", "2a02:cf40::7", 2, T0 + timedelta(hours=3), T0 + timedelta(hours=3, minutes=1)
        ),
        events[0],  # single events and aggregates mix
    ]
    subjects = [Subject("S-1", ("a",))]
    assert attribute_subjects(subjects, activity, IP_INFO) == attribute_subjects(
        subjects, events, IP_INFO
    )
