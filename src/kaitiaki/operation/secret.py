"""The secret that namespaces an operation's subject ids (their HMAC key).

Given on the command line or in ``$KAITIAKI_OPERATION_KEY``, or read from a file: an operation
folder's ``keys/operation.key`` (``$KAITIAKI_OPERATION_KEY_FILE`` for the server's jobs).
"""

from __future__ import annotations

import os
from pathlib import Path

KEY_ENV = "KAITIAKI_OPERATION_KEY"
KEY_FILE_ENV = "KAITIAKI_OPERATION_KEY_FILE"
# Without a secret, subject ids are still HMAC-namespaced, by this well-known constant: stable
# between runs, but anyone can recompute them; so an operation folder makes a key.
UNKEYED = b"kaitiaki-operation"


class OperationKeyError(ValueError):
    """A key file that cannot be read or is empty; the message names it."""


def operation_key(key: str | None = None, key_file: Path | None = None) -> bytes:
    """``key`` if given, else the content of ``key_file`` (its line ending dropped: an editor
    adds one), else the unkeyed constant."""
    if key is not None:
        return key.encode()
    if key_file is None:
        return UNKEYED
    try:
        secret = key_file.read_bytes().rstrip(b"\r\n")
    except OSError as error:
        raise OperationKeyError(f"operation key file {key_file}: {error.strerror}") from None
    if not secret:
        raise OperationKeyError(f"operation key file {key_file} is empty")
    return secret


def server_operation_key() -> bytes:
    """For a job run by the server: the secret stays in the server's environment, as for the
    command line; never in the job's row."""
    file = os.environ.get(KEY_FILE_ENV, "").strip()
    return operation_key(os.environ.get(KEY_ENV) or None, Path(file) if file else None)
