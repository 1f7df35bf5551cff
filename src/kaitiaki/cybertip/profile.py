"""The provider profile: who the provider is in every CyberTipline report it files.

Stored in ``provider_profiles`` (one row per name, "default" unless a provider runs several
services). Each field is checked against NCMEC's documented limits when it is set, so a bad
profile fails here, once, and not in every draft made from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kaitiaki.audit import record
from kaitiaki.cybertip.document import Reporter, good_email
from kaitiaki.cybertip.errors import CyberTipError, ProfileMissingError
from kaitiaki.cybertip.schema import MAX_LENGTHS
from kaitiaki.store import Store
from kaitiaki.store.models import ProviderProfile, utcnow

SET_COMMAND = "kaitiaki report profile set"
FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "esp_name",
    "esp_service",
    "platform",
    "company_template",
    "terms_of_service",
    "legal_url",
)
# NCMEC's limits where it documents one (schema.MAX_LENGTHS), else the column's width.
LIMITS = {
    "first_name": MAX_LENGTHS[("reportingPerson", "firstName")],
    "last_name": MAX_LENGTHS[("reportingPerson", "lastName")],
    "email": MAX_LENGTHS[("*", "email")],
    "phone": MAX_LENGTHS[("*", "phone")],
    "esp_name": 200,
    "esp_service": MAX_LENGTHS[("personOrUserReported", "espService")],
    "platform": MAX_LENGTHS[("incidentSummary", "platform")],
    "legal_url": MAX_LENGTHS[("reporter", "legalURL")],
}


@dataclass(frozen=True, slots=True)
class ProfileView:
    name: str
    first_name: str
    last_name: str
    email: str
    esp_name: str
    phone: str | None
    esp_service: str | None
    platform: str | None
    company_template: str | None
    terms_of_service: str | None
    legal_url: str | None
    updated_by: str
    updated_at: datetime

    def reporter(self) -> Reporter:
        return Reporter(
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            esp_name=self.esp_name,
            phone=self.phone,
            esp_service=self.esp_service,
            platform=self.platform,
            company_template=self.company_template,
            terms_of_service=self.terms_of_service,
            legal_url=self.legal_url,
        )


def _clean(field: str, value: str | None, *, required: bool = False) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise CyberTipError(f"the profile needs {field.replace('_', ' ')}")
        return None
    limit = LIMITS.get(field)
    if limit is not None and len(text) > limit:
        raise CyberTipError(f"{field.replace('_', ' ')} is {len(text)} characters; at most {limit}")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        raise CyberTipError(f"{field.replace('_', ' ')} holds control characters XML cannot carry")
    return text


def check_reporter(reporter: Reporter) -> Reporter:
    """``reporter`` trimmed, or ``CyberTipError`` naming the field NCMEC would refuse."""
    values = {f: getattr(reporter, f) for f in FIELDS}
    cleaned = {
        f: _clean(f, v, required=f in ("last_name", "email", "esp_name")) for f, v in values.items()
    }
    email = str(cleaned["email"])
    if not good_email(email):
        raise CyberTipError(f"{email!r} is not a well-formed email address")
    url = cleaned["legal_url"]
    if url and not (url.startswith(("http://", "https://")) and "." in url and " " not in url):
        raise CyberTipError(f"legal URL {url!r} is not an http(s) URL")
    return Reporter(
        first_name=cleaned["first_name"] or "",
        last_name=str(cleaned["last_name"]),
        email=email,
        esp_name=str(cleaned["esp_name"]),
        phone=cleaned["phone"],
        esp_service=cleaned["esp_service"],
        platform=cleaned["platform"],
        company_template=cleaned["company_template"],
        terms_of_service=cleaned["terms_of_service"],
        legal_url=url,
    )


def set_profile(
    store: Store,
    *,
    actor: str,
    name: str = "default",
    first_name: str,
    last_name: str,
    email: str,
    esp_name: str,
    phone: str | None = None,
    esp_service: str | None = None,
    platform: str | None = None,
    company_template: str | None = None,
    terms_of_service: str | None = None,
    legal_url: str | None = None,
) -> ProfileView:
    """Create or replace profile ``name``; audited ``cybertip.profile_set`` with the names of
    the fields that changed (not their values: the entry says who changed what, once)."""
    name = name.strip()
    if not name or len(name) > 60:
        raise CyberTipError("a profile name is 1 to 60 characters")
    if not actor.strip():
        raise CyberTipError("setting a profile needs the name of who sets it")
    reporter = check_reporter(
        Reporter(
            first_name,
            last_name,
            email,
            esp_name,
            phone,
            esp_service,
            platform,
            company_template,
            terms_of_service,
            legal_url,
        )
    )
    with store.session() as session:
        row = session.get(ProviderProfile, name)
        if row is None:
            row = ProviderProfile(name=name)
            session.add(row)
        changed = [f for f in FIELDS if getattr(row, f, None) != getattr(reporter, f)]
        for f in FIELDS:
            setattr(row, f, getattr(reporter, f))
        row.updated_by, row.updated_at = actor, utcnow()
        session.flush()
        record(
            session,
            actor=actor,
            action="cybertip.profile_set",
            target_type="provider_profile",
            target_id=name,
            details={"changed": changed},
        )
        return _view(row)


def _view(row: ProviderProfile) -> ProfileView:
    return ProfileView(
        name=row.name,
        first_name=row.first_name or "",
        last_name=row.last_name,
        email=row.email,
        esp_name=row.esp_name,
        phone=row.phone,
        esp_service=row.esp_service,
        platform=row.platform,
        company_template=row.company_template,
        terms_of_service=row.terms_of_service,
        legal_url=row.legal_url,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def get_profile(store: Store, name: str = "default") -> ProfileView:
    with store.session() as session:
        row = session.get(ProviderProfile, name)
        if row is None:
            command = SET_COMMAND if name == "default" else f"{SET_COMMAND} --name {name}"
            raise ProfileMissingError(f"no provider profile {name!r}: set one with `{command}`")
        return _view(row)
