"""Category profiles: what a hash set's category codes mean, as data.

Codes differ by country and by age of the scheme, so every hash set names its profile. For each
code a profile says its label, whether it is *non-pertinent* (a match makes the file
"ignorable") and whether it is *pertinent by default* (what a triage counts and a referral
carries). An entry without a category counts as pertinent: a known-bad set that did not grade
an item still lists it as known.

Sources the tables are based on (no code here is invented; doubtful points are marked):

* ``projectvic-us-2.0``: the Project VIC US tag set that Autopsy (Sleuth Kit) ships for VICS
  2.0 ("Project VIC" tag set, ImageGalleryService: 0 Non-Pertinent, 1 Child Abuse Material
  (CAM), 2 Child Exploitive (Non-CAM) Age Difficult, 3 CGI/Animation - Child Exploitive,
  4 Comparison Images); it agrees with DESIGN.md and with IPED's VICS reader, which treats 0
  as known-innocuous and 1-2 as pertinent.
* ``dhs-legacy``: the older six-category DHS scheme as Autopsy's ``DhsImageCategory`` has it
  (0 Uncategorized, 1 Child Exploitation (Illegal), 2 Child Exploitation (Non-Illegal/Age
  Difficult), 3 CGI/Animation (Child Exploitive), 4 Exemplar/Comparison (Internal Use Only),
  5 Non-pertinent). Here 5, not 0, is non-pertinent; 0 means "not graded" and is treated like
  an entry without a category (pertinent).
* ``uk-caid``: the legal grades of the Sentencing Council's guideline for indecent photographs
  of children, which CAID uses (A penetrative / bestiality / sadism, B non-penetrative sexual
  activity, C other indecent images). "0" (not indecent / non-pertinent) is an assumption: we
  found no public statement of how CAID or VICS UK files spell it. VICS UK files that grade
  with integers 1-3 are refused as unknown codes rather than mapped on a guess.
* ``ncmec``: the industry classification NCMEC uses in CyberTipline reports
  (``industryClassification``): A prepubescent / B pubescent minor, 1 sex act / 2 lascivious
  exhibition. Taken from NCMEC's reporting documentation as we know it, not re-checked here.
* ``none``: sets without categories (plain hash lists).

A code the profile does not define (NIST's NSRL "CAID" files grade every record 8) does not make
a file unreadable: the import keeps it in the entry, reports it, and the set treats it as *not
pertinent* and never ignorable, unless the user maps it onto a code of the profile
(``--category-map 8=0``; see ``summary``). Reviewers' decisions, in contrast, must use the
profile's own codes (``validate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from kaitiaki.hashsets.entry import EntryError


class UnknownCategoryError(EntryError):
    """A category code the profile does not define."""


class UnknownProfileError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown category profile {name!r}; valid profiles: {', '.join(PROFILES)}"
        )


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    label: str
    pertinent: bool = False
    ignorable: bool = False


@dataclass(frozen=True, slots=True)
class CategoryProfile:
    """One scheme of category codes. ``vics_region`` is the VICS 2.0 context segment."""

    name: str
    title: str
    categories: tuple[Category, ...]
    vics_region: str = "CUSTOM"
    # Codes written in the file that mean a category of this profile ("0" for "00", ...).
    _by_code: MappingProxyType[str, Category] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", MappingProxyType({c.code: c for c in self.categories}))

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.categories)

    def canonical(self, code: str) -> str:
        """How a code is spelled in this profile: "Cat A" -> "A", "01" -> "1"."""
        text = code.strip().upper()
        for prefix in ("CATEGORY", "CAT"):
            if text.startswith(prefix) and len(text) > len(prefix):
                text = text[len(prefix) :].lstrip(" -_:")
                break
        # isascii: int() refuses digits such as "²" that isdigit() accepts.
        return str(int(text)) if text.isascii() and text.isdigit() else text

    def validate(self, code: str | None) -> str | None:
        """The canonical code, or UnknownCategory naming the valid ones. None stays None."""
        if code is None:
            return None
        if not self.categories:
            raise UnknownCategoryError(
                f"category {code!r} given but profile {self.name!r} has no categories "
                f"(choose a profile: {', '.join(p for p in PROFILES if p != 'none')})"
            )
        canonical = self.canonical(code)
        if canonical not in self._by_code:
            raise UnknownCategoryError(
                f"category {code!r} is not a code of profile {self.name!r} "
                f"(valid: {', '.join(self.codes)})"
            )
        return canonical

    def known(self, code: str) -> str | None:
        """The canonical code when the profile defines ``code``, else None (never raises)."""
        return self.canonical(code) if self._find(code) is not None else None

    @property
    def ignorable_code(self) -> str | None:
        """The profile's non-pertinent code ("0", "5"), if it has one: what a map can target."""
        return next((c.code for c in self.categories if c.ignorable), None)

    def _find(self, code: str | None) -> Category | None:
        if code is None:
            return None
        return self._by_code.get(code) or self._by_code.get(self.canonical(code))

    def label(self, code: str | None) -> str:
        if code is None:
            return "no category"
        found = self._find(code)
        return found.label if found else f"{code} (not a code of {self.name})"

    def is_ignorable(self, code: str | None) -> bool:
        """True only for a code the profile marks non-pertinent; unknown codes never hide."""
        found = self._find(code)
        return found is not None and found.ignorable

    def is_pertinent(self, code: str | None) -> bool:
        """Pertinent by default: the profile's graded codes and no category. A code the profile
        does not define is not: the import kept it and said so, and the user may map it."""
        if code is None:
            return True
        found = self._find(code)
        return found is not None and found.pertinent


_PROFILES: tuple[CategoryProfile, ...] = (
    CategoryProfile(
        "projectvic-us-2.0",
        "Project VIC US 2.0",
        (
            Category("0", "Non-Pertinent", ignorable=True),
            Category("1", "Child Abuse Material (CAM)", pertinent=True),
            Category("2", "Child Exploitive (Non-CAM) / Age Difficult", pertinent=True),
            Category("3", "CGI/Animation - Child Exploitive", pertinent=True),
            Category("4", "Comparison Images"),
        ),
        vics_region="US",
    ),
    CategoryProfile(
        "dhs-legacy",
        "DHS legacy (six categories)",
        (
            Category("0", "Uncategorized", pertinent=True),
            Category("1", "Child Exploitation (Illegal)", pertinent=True),
            Category("2", "Child Exploitation (Non-Illegal / Age Difficult)", pertinent=True),
            Category("3", "CGI/Animation (Child Exploitive)", pertinent=True),
            Category("4", "Exemplar/Comparison (Internal Use Only)"),
            Category("5", "Non-pertinent", ignorable=True),
        ),
    ),
    CategoryProfile(
        "uk-caid",
        "UK CAID legal grades",
        (
            Category("A", "Category A: penetrative activity, bestiality or sadism", pertinent=True),
            Category("B", "Category B: non-penetrative sexual activity", pertinent=True),
            Category("C", "Category C: other indecent images", pertinent=True),
            Category("0", "Not indecent / non-pertinent", ignorable=True),
        ),
        vics_region="UK",
    ),
    CategoryProfile(
        "ncmec",
        "NCMEC industry classification",
        (
            Category("A1", "Prepubescent minor: sex act", pertinent=True),
            Category("A2", "Prepubescent minor: lascivious exhibition", pertinent=True),
            Category("B1", "Pubescent minor: sex act", pertinent=True),
            Category("B2", "Pubescent minor: lascivious exhibition", pertinent=True),
        ),
    ),
    CategoryProfile("none", "No categories", ()),
)

PROFILES: Final = MappingProxyType({p.name: p for p in _PROFILES})
DEFAULT_PROFILE: Final = "projectvic-us-2.0"


def get_profile(name: str) -> CategoryProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfileError(name) from None


def profile_for_vics_region(region: str | None) -> str:
    """The profile a VICS 2.0 file implies when the user names none: UK is CAID, else US."""
    return "uk-caid" if (region or "").upper() == "UK" else DEFAULT_PROFILE
