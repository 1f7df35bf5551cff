"""Flagged accounts: identifier normalisation, identity resolution into subjects, attribution.

Each module has one job: ``identifiers`` (normalisers), ``ids`` (keyed ids), ``records`` (the
values), ``resolve`` (strong links and subjects), ``weak`` (IP co-location links), ``attribute``
(country of a subject), ``evaluate`` (scores against ground truth).
"""

from kaitiaki.accounts.attribute import (
    Attribution,
    IpActivity,
    IpEvidence,
    IpLike,
    SubjectEvent,
    attribute_subjects,
)
from kaitiaki.accounts.evaluate import (
    country_accuracy,
    pairwise_counts,
    pairwise_precision_recall,
    silent_misattributions,
)
from kaitiaki.accounts.identifiers import (
    classify_ip,
    ip_scope,
    normalise_device_id,
    normalise_email,
    normalise_ip,
    normalise_phone,
)
from kaitiaki.accounts.ids import hmac_identifier, subject_id
from kaitiaki.accounts.records import (
    AccountIdentifiers,
    IpEvent,
    Link,
    Resolution,
    SkippedIdentifier,
    Subject,
)
from kaitiaki.accounts.resolve import resolve_subjects

__all__ = [
    "AccountIdentifiers",
    "Attribution",
    "IpActivity",
    "IpEvent",
    "IpEvidence",
    "IpLike",
    "Link",
    "Resolution",
    "SkippedIdentifier",
    "Subject",
    "SubjectEvent",
    "attribute_subjects",
    "classify_ip",
    "country_accuracy",
    "hmac_identifier",
    "ip_scope",
    "normalise_device_id",
    "normalise_email",
    "normalise_ip",
    "normalise_phone",
    "pairwise_counts",
    "pairwise_precision_recall",
    "resolve_subjects",
    "silent_misattributions",
    "subject_id",
]
