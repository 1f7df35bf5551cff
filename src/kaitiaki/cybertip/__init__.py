"""The provider's desk: CyberTipline reports to NCMEC, valid against NCMEC's own schema.

``profile`` holds who the provider is, ``gather`` reads what a subject's report needs,
``document`` writes the ``<report>`` and ``<fileDetails>`` documents, ``schema`` checks them and
``drafts`` keeps them as reviewable drafts in the store.
"""

from __future__ import annotations

from kaitiaki.cybertip.errors import (
    CyberTipConflictError,
    CyberTipError,
    CyberTipNotFoundError,
    CyberTipSchemaError,
    ProfileMissingError,
)

__all__ = [
    "CyberTipConflictError",
    "CyberTipError",
    "CyberTipNotFoundError",
    "CyberTipSchemaError",
    "ProfileMissingError",
]
