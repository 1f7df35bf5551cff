"""Ed25519 keys, the signed manifest of a referral package, and verifying a received package.

A package is a folder: ``manifest.json`` lists every other file's SHA-256, ``manifest.sig`` is an
Ed25519 signature over the manifest's exact bytes, and ``public_key.pem`` travels with it. A key
found inside the package only proves the files were not altered after signing (anyone who altered
them could re-sign with their own key); a key from the trust store (:mod:`kaitiaki.refer.trust`)
or pinned with ``--key`` proves origin.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MANIFEST: Final = "manifest.json"
SIGNATURE: Final = "manifest.sig"
PUBLIC_KEY: Final = "public_key.pem"
# Files that sign or describe the manifest cannot be listed in it.
UNLISTED: Final = frozenset({MANIFEST, SIGNATURE, PUBLIC_KEY})
DEFAULT_KEY_NAME: Final = "kaitiaki-ed25519.pem"
# A PEM public key is a few hundred bytes; reading no more keeps a wrong file (a disk image
# given by mistake) from being loaded whole.
MAX_KEY_FILE: Final = 64 * 1024

# Where the key that checked a package's signature came from; only the first two prove origin.
KeySource = Literal["pinned", "trusted", "package"]


class SigningKeyError(ValueError):
    """A key file that is missing or not an Ed25519 key; the message names the file."""


def keys_dir() -> Path:
    """``$KAITIAKI_KEYS`` or ``~/.config/kaitiaki/keys``."""
    env = os.environ.get("KAITIAKI_KEYS")
    return Path(env) if env else Path.home() / ".config" / "kaitiaki" / "keys"


SIGNING_KEY_ENV = "KAITIAKI_SIGNING_KEY"


def default_key_path() -> Path:
    """``$KAITIAKI_SIGNING_KEY`` (a key file: ``kaitiaki serve`` sets it for its jobs from an
    operation folder's settings), else the keys folder's key."""
    env = os.environ.get(SIGNING_KEY_ENV, "").strip()
    return Path(env) if env else keys_dir() / DEFAULT_KEY_NAME


def public_path(private: Path) -> Path:
    return private.with_name(private.name + ".pub")


def generate_key(path: Path | None = None, *, overwrite: bool = False) -> Path:
    """Write a new private key (PEM, mode 0600) and ``<path>.pub``; returns the private path."""
    path = path or default_key_path()
    if path.exists() and not overwrite:
        raise SigningKeyError(f"{path}: a key already exists; refusing to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created 0600 from the start: never world-readable, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    path.chmod(0o600)
    public_path(path).write_bytes(public_pem(key.public_key()))
    return path


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise SigningKeyError(f"{path}: no key (create one with `kaitiaki keys generate`)") from exc
    except ValueError as exc:
        raise SigningKeyError(f"{path}: not a PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 private key")
    return key


def read_key_file(path: Path) -> bytes:
    """A key file's bytes, refusing a missing, unreadable or oversized file by name."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE + 1)
    except FileNotFoundError:
        raise SigningKeyError(f"{path}: no such file") from None
    except OSError as exc:
        raise SigningKeyError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_KEY_FILE:
        raise SigningKeyError(f"{path}: larger than {MAX_KEY_FILE} bytes; not a PEM public key")
    return data


def load_public(path: Path) -> Ed25519PublicKey:
    return public_from_pem(read_key_file(path), str(path))


def public_from_pem(data: bytes, where: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM bytes; the error names ``where`` and what is wrong."""
    if b"PRIVATE KEY-----" in data:
        # Said plainly: a private key must never be handed around in place of the public one.
        raise SigningKeyError(f"{where}: a private key; give the public key (the .pub file)")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{where}: not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        kind = type(key).__name__.removeprefix("_").replace("PublicKey", "") or "other"
        raise SigningKeyError(f"{where}: a {kind} key, not an Ed25519 public key")
    return key


def fingerprint_hex(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex: what the trust store keys on."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def fingerprint(key: Ed25519PublicKey) -> str:
    """The whole SHA-256 of the raw public key, grouped for reading aloud over a phone line."""
    return group_fingerprint(fingerprint_hex(key))


def group_fingerprint(digest: str) -> str:
    return ":".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sign_manifest(manifest_bytes: bytes, key: Ed25519PrivateKey) -> bytes:
    return key.sign(manifest_bytes)


def write_signed_manifest(
    folder: Path, key: Ed25519PrivateKey, meta: dict[str, str]
) -> tuple[Path, str]:
    """List every file in ``folder`` with its SHA-256, sign it; returns (path, manifest sha256)."""
    files = {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).as_posix() not in UNLISTED
    }
    doc = {**meta, "algorithm": "sha256", "signature": "ed25519", "files": files}
    data = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    (folder / MANIFEST).write_bytes(data)
    (folder / SIGNATURE).write_bytes(sign_manifest(data, key))
    (folder / PUBLIC_KEY).write_bytes(public_pem(key.public_key()))
    return folder / MANIFEST, hashlib.sha256(data).hexdigest()


@dataclass
class VerifyResult:
    """What a check of a received package found; ``ok`` only when nothing is wrong."""

    folder: Path
    altered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    signature_valid: bool = False
    key_source: KeySource = "package"
    # The trust store's name for the signer, when ``key_source`` is "trusted".
    sender: str = ""
    key_fingerprint: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Integrity: every file as signed, and the signature valid for the key used."""
        return self.signature_valid and not (
            self.altered or self.missing or self.extra or self.errors
        )

    @property
    def key_pinned(self) -> bool:
        return self.key_source == "pinned"

    @property
    def origin_proven(self) -> bool:
        """Checked against a key the receiver holds, not one the package brought along."""
        return self.key_source != "package"

    @property
    def trust_note(self) -> str:
        if self.key_source == "pinned":
            return "signature checked against the pinned public key: integrity and origin"
        if self.key_source == "trusted":
            return (
                f"signature checked against {self.sender}'s key in the trust store: "
                "integrity and origin"
            )
        return (
            "signature checked against the key inside the package: proves integrity only, "
            "not who sent it; trust the sender's key (`kaitiaki keys trust add`) or pin it "
            "with --key to prove origin"
        )

    def problems(self) -> list[str]:
        lines = [f"altered: {name}" for name in self.altered]
        lines += [f"missing: {name}" for name in self.missing]
        lines += [f"extra (not in manifest): {name}" for name in self.extra]
        lines += list(self.errors)
        if not self.signature_valid and not self.errors:
            lines.append(f"bad signature: {MANIFEST} was altered or signed by another key")
        return lines


def verify_package(folder: Path, public_key: Path | None = None) -> VerifyResult:
    """Recompute each listed file's SHA-256 and check the manifest's signature against
    ``public_key`` (pinned) or, without one, the key inside the package (integrity only)."""
    return _verify(folder, public_key, "pinned" if public_key is not None else "package")


def verify_with_key(folder: Path, key: Ed25519PublicKey, *, sender: str) -> VerifyResult:
    """As :func:`verify_package`, against a key from the trust store named ``sender``."""
    result = _verify(folder, key, "trusted")
    result.sender = sender
    return result


def package_key(folder: Path) -> Ed25519PublicKey:
    """The public key a package carries (which proves nothing about who made it)."""
    path = folder / PUBLIC_KEY
    if path.is_symlink() or not path.is_file():  # a link could point at any file of ours
        raise SigningKeyError(f"missing: {PUBLIC_KEY}")
    return public_from_pem(read_key_file(path), PUBLIC_KEY)


def signature_matches(folder: Path, key: Ed25519PublicKey) -> bool:
    """Whether ``key`` made the package's manifest signature (False when either is missing)."""
    manifest, signature = folder / MANIFEST, folder / SIGNATURE
    # Never through a link (it could point at an endless file); _verify reports those.
    if any(p.is_symlink() or not p.is_file() for p in (manifest, signature)):
        return False
    try:
        key.verify(signature.read_bytes(), manifest.read_bytes())
    except InvalidSignature:
        return False
    return True


def _verify(
    folder: Path, public_key: Path | Ed25519PublicKey | None, source: KeySource
) -> VerifyResult:
    result = VerifyResult(folder, key_source=source)
    manifest = folder / MANIFEST
    if manifest.is_symlink() or not manifest.is_file():
        result.errors.append(
            f"missing: {MANIFEST}" + (" (a link)" if manifest.is_symlink() else "")
        )
        return result
    data = manifest.read_bytes()
    try:
        doc = json.loads(data)
        listed = dict(doc["files"])
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in listed.items()):
            raise TypeError("file names and digests must be strings")
    # RecursionError: a manifest nested thousands deep (json recurses); never a crash.
    except (ValueError, KeyError, TypeError, RecursionError):
        result.errors.append(f"altered: {MANIFEST} is not a readable manifest")
        listed = {}
    for name, expected in sorted(listed.items()):
        path = folder / name
        # A manifest naming a path outside the package is itself an alteration.
        if ".." in Path(name).parts or Path(name).is_absolute():
            result.errors.append(f"altered: {MANIFEST} names a path outside the package: {name}")
            continue
        try:
            # Links are never followed: a sender's link could point at any file of ours (or at
            # an endless one such as /proc/kcore).
            if _linked(folder, path):
                result.errors.append(f"altered: {name} is a link, not a file of the package")
            elif not path.is_file():
                result.missing.append(name)
            elif sha256_file(path) != expected:
                result.altered.append(name)
        except OSError as exc:  # a name too long for the file system, a loop of links
            result.errors.append(f"altered: {name!r} cannot be read: {exc.strerror}")
    present = {
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
    } - UNLISTED
    result.extra = sorted(present - set(listed))
    _check_signature(folder, data, public_key, result)
    return result


def _linked(folder: Path, path: Path) -> bool:
    """Whether ``path`` or a folder on the way to it inside ``folder`` is a symbolic link."""
    while path != folder and folder in path.parents:
        if path.is_symlink():
            return True
        path = path.parent
    return False


def _check_signature(
    folder: Path, data: bytes, public_key: Path | Ed25519PublicKey | None, result: VerifyResult
) -> None:
    try:
        if isinstance(public_key, Ed25519PublicKey):
            key = public_key
        elif public_key is not None:
            key = load_public(public_key)
        elif (folder / PUBLIC_KEY).is_file():
            key = package_key(folder)
        else:
            result.errors.append(f"missing: {PUBLIC_KEY} (or give the sender's key with --key)")
            return
    except SigningKeyError as exc:
        result.errors.append(str(exc))
        return
    result.key_fingerprint = fingerprint(key)
    signature = folder / SIGNATURE
    if not signature.is_file():
        result.errors.append(f"missing: {SIGNATURE}")
        return
    try:
        key.verify(signature.read_bytes(), data)
        result.signature_valid = True
    except InvalidSignature:
        result.signature_valid = False
