"""The errors of the provider's desk: each a ``ValueError`` with words a person can act on."""

from __future__ import annotations


class CyberTipError(ValueError):
    """A CyberTipline report that cannot be made or changed as asked."""


class CyberTipSchemaError(CyberTipError):
    """A document NCMEC would refuse: invalid against its XSD or against a documented rule the
    XSD does not express. Raised before anything is stored or sent."""


class CyberTipNotFoundError(CyberTipError):
    """An unknown subject or report."""


class CyberTipConflictError(CyberTipError):
    """A change a report's state no longer allows (a report past draft is not rebuilt)."""


class ProfileMissingError(CyberTipError):
    """No provider profile of that name: nothing to fill the report's reporter with."""
