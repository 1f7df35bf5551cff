"""One signed file: the DSSE envelope around an outcome file or a series update.

A referral package is a folder, signed by its manifest (``refer.signing``). What comes back is
one JSON file, so it is signed the way in-toto and Sigstore sign single documents: a DSSE
envelope (https://github.com/secure-systems-lab/dsse, v1.0), whose signature covers the payload
*and* its declared type (the "pre-authentication encoding"), so an outcome file can never be
replayed as a series update, and the payload is kept as the exact bytes that were signed.

    {"payloadType": "application/vnd.kaitiaki.outcome+json",
     "payload": "<base64 of the JSON document>",
     "signatures": [{"keyid": "<SHA-256 of the raw Ed25519 public key>", "sig": "<base64>"}]}

The envelope carries no key: a signature is checked against the trust store (a partner's key,
added by a person after confirming its fingerprint) or one key pinned by the caller, never a key
the file brings along, so a file from an unknown key is refused rather than "verified".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kaitiaki.refer.signing import SigningKeyError, fingerprint_hex, load_public
from kaitiaki.refer.trust import trusted_keys
from kaitiaki.store import Store

OUTCOME_TYPE: Final = "application/vnd.kaitiaki.outcome+json"
SERIES_UPDATE_TYPE: Final = "application/vnd.kaitiaki.series-update+json"
# Far above any real outcome file or series update (a few KB to a few MB), far below memory.
MAX_ENVELOPE_BYTES: Final = 32 * 1024 * 1024
_MAX_SIGNATURES: Final = 16


class EnvelopeError(ValueError):
    """A signed file that cannot be read or verified; the message names the file and why."""


class UnknownSignerError(EnvelopeError):
    """Intact as far as can be told, but signed by no key in the trust store (nor the pinned)."""


@dataclass(frozen=True, slots=True)
class Opened:
    """A verified envelope: its document, who signed it and the file's own SHA-256."""

    payload: dict[str, Any]
    payload_type: str
    sender: str  # the trust store's name, or "pinned key"
    key_fingerprint: str  # hex SHA-256 of the raw public key
    key_source: Literal["trusted", "pinned"]
    sha256: str
    jurisdictions: tuple[str, ...]  # what the trust store binds the sender to ("CC:Agency")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def seal(document: dict[str, Any], payload_type: str, key: Ed25519PrivateKey) -> bytes:
    """The envelope's bytes: ``document`` as JSON, signed with ``key``."""
    payload = (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    envelope = {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {
                "keyid": fingerprint_hex(key.public_key()),
                "sig": base64.b64encode(key.sign(pae(payload_type, payload))).decode("ascii"),
            }
        ],
    }
    return (json.dumps(envelope, indent=2) + "\n").encode("ascii")


def write_sealed(
    path: Path, document: dict[str, Any], payload_type: str, key: Ed25519PrivateKey
) -> str:
    """Write the envelope to ``path`` (via a temporary file, so no half file is left); returns
    its SHA-256."""
    data = seal(document, payload_type, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return hashlib.sha256(data).hexdigest()


def read_bounded(path: Path) -> bytes:
    """A received file's bytes, refusing what is not a plain file or is too large, by name."""
    if path.is_symlink():
        raise EnvelopeError(f"{path}: a link, not a file; give the file itself")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_ENVELOPE_BYTES + 1)
    except FileNotFoundError:
        raise EnvelopeError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise EnvelopeError(f"{path}: a folder, not a signed file") from None
    except OSError as exc:
        raise EnvelopeError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError(f"{path}: larger than {MAX_ENVELOPE_BYTES:,} bytes")
    return data


def _json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except RecursionError:  # json recurses into arrays: a document nested thousands deep
        raise EnvelopeError(f"{where}: nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise EnvelopeError(f"{where}: not UTF-8 (byte {exc.start})") from None
    except ValueError as exc:  # bad JSON, or an integer past 4,300 digits
        raise EnvelopeError(f"{where}: not JSON ({exc})") from None


def is_envelope(data: bytes) -> bool:
    """Whether ``data`` looks like a DSSE envelope (to tell it from a CSV or VICS file)."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and b'"payloadType"' in data[: 1 << 20]


def _parts(data: bytes, where: str) -> tuple[str, bytes, list[tuple[str, bytes]]]:
    doc = _json(data, where)
    if not isinstance(doc, dict) or not isinstance(doc.get("payloadType"), str):
        raise EnvelopeError(f"{where}: not a signed kaitiaki file (no DSSE payloadType)")
    try:
        payload = base64.b64decode(doc.get("payload", ""), validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise EnvelopeError(f"{where}: payload is not base64") from None
    raw = doc.get("signatures")
    if not isinstance(raw, list) or not raw:
        raise EnvelopeError(f"{where}: no signatures")
    if len(raw) > _MAX_SIGNATURES:
        raise EnvelopeError(f"{where}: more than {_MAX_SIGNATURES} signatures")
    signatures = []
    for i, entry in enumerate(raw, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("sig"), str):
            raise EnvelopeError(f"{where}: signature {i} has no 'sig'")
        try:
            sig = base64.b64decode(entry["sig"], validate=True)
        except (binascii.Error, ValueError):
            raise EnvelopeError(f"{where}: signature {i} is not base64") from None
        keyid = entry.get("keyid")
        signatures.append((keyid if isinstance(keyid, str) else "", sig))
    return doc["payloadType"], payload, signatures


def _candidates(
    store: Store | None, pinned: Path | None
) -> list[tuple[str, Ed25519PublicKey, tuple[str, ...], Literal["trusted", "pinned"]]]:
    if pinned is not None:
        try:
            return [("pinned key", load_public(pinned), (), "pinned")]
        except SigningKeyError as exc:
            raise EnvelopeError(str(exc)) from None
    if store is None:
        raise EnvelopeError("verifying against the trust store needs the store")
    return [(t.name, t.key, t.jurisdictions, "trusted") for t in trusted_keys(store)]


def open_sealed(
    path: Path,
    payload_type: str,
    *,
    store: Store | None,
    pinned: Path | None = None,
    data: bytes | None = None,
) -> Opened:
    """Read ``path`` (or ``data`` received under that name), check it is an envelope of
    ``payload_type`` signed by a trusted key (or ``pinned``), and return its document."""
    where = str(path)
    raw = read_bounded(path) if data is None else data
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError(f"{where}: larger than {MAX_ENVELOPE_BYTES:,} bytes")
    kind, payload, signatures = _parts(raw, where)
    if kind != payload_type:
        raise EnvelopeError(f"{where}: a {kind!r} file, not {payload_type!r}")
    message = pae(kind, payload)
    candidates = _candidates(store, pinned)
    for keyid, sig in signatures:
        # The keyid says which key to try first; a signature is checked against every key we
        # hold, so a wrong or missing keyid never makes a genuine file fail.
        for name, key, bound, source in sorted(
            candidates, key=lambda c: fingerprint_hex(c[1]) != keyid
        ):
            try:
                key.verify(sig, message)
            except InvalidSignature:
                continue
            document = _json(payload, f"{where} (payload)")
            if not isinstance(document, dict):
                raise EnvelopeError(f"{where}: the signed document is not a JSON object")
            return Opened(
                document,
                kind,
                name,
                fingerprint_hex(key),
                source,
                hashlib.sha256(raw).hexdigest(),
                bound,
            )
    keyids = ", ".join(sorted({k for k, _ in signatures if k})) or "none given"
    if pinned is not None:
        raise EnvelopeError(f"{where}: not signed by the pinned key (or altered after signing)")
    raise UnknownSignerError(
        f"{where}: not signed by any key in the trust store, or altered after signing "
        f"(key ids in the file: {keyids})"
    )
