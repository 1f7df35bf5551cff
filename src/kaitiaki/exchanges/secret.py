"""Exchange credentials encrypted at rest (Fernet: AES-128-CBC with an HMAC-SHA256 tag).

The key is ``$KAITIAKI_SECRET_KEY`` (a Fernet key) or, without it, a key file beside the signing
keys, created mode 0600 on first use. A database copied without its key file gives away no
credentials; losing the key means entering the credentials again, nothing worse.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from kaitiaki.exchanges.registry import ExchangeError

ENV_KEY = "KAITIAKI_SECRET_KEY"
KEY_FILE = "exchange-credentials.key"


def key_path() -> Path:
    from kaitiaki.refer.signing import keys_dir

    return keys_dir() / KEY_FILE


def _fernet() -> Fernet:
    env = os.environ.get(ENV_KEY, "").strip()
    if env:
        try:
            return Fernet(env.encode())
        except ValueError:
            raise ExchangeError(
                f"${ENV_KEY} is not a Fernet key (32 bytes, url-safe base64)"
            ) from None
    path = key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # O_EXCL: two processes starting at once never both write (and one lose) a key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
    try:
        return Fernet(path.read_bytes().strip())
    except ValueError:
        raise ExchangeError(f"{path} is not a Fernet key") from None


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        # The message names no part of the token or the credentials.
        raise ExchangeError(
            "stored credentials cannot be decrypted with this key; enter them again"
        ) from None
