"""CSRF protection for cookie-authenticated requests.

Every unsafe method must carry the session's token in the ``X-CSRF-Token`` header (the pages'
scripts) or a ``csrf_token`` form field (plain forms). The cookie is SameSite=Strict too, but
that alone leaves same-site attackers and older browsers; the token does not.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = "X-CSRF-Token"
FIELD = "csrf_token"
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


async def submitted_token(request: Request) -> str:
    header = request.headers.get(HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(_FORMS):
        # Starlette caches the parsed form, so the route still sees it afterwards.
        value = (await request.form()).get(FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def check_csrf(request: Request, expected: str) -> None:
    if request.method in SAFE_METHODS:
        return
    given = await submitted_token(request)
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(403, "missing or wrong CSRF token (send the X-CSRF-Token header)")
