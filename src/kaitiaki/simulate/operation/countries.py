"""Where simulated people live: countries, how many people each has, and their UTC offsets.

The weights are rough shares of a worldwide provider's users (a few big countries, a long tail);
they need not be exact, only realistic in shape. Offsets are standard time in minutes; a country
spanning several zones lists each, and a person keeps one. Daylight saving is left out: every
simulated timestamp carries its explicit offset, so the instant it names is exact either way.
"""

from __future__ import annotations

from dataclasses import dataclass

# country, weight, offsets (minutes east of UTC)
_TABLE = """
US 16 -300 -360 -420 -480 -600
IN 7 330
BR 5.5 -180 -240
GB 4.5 0
DE 3.5 60
ID 3 420 480 540
PH 3 480
MX 3 -360 -420
FR 3 60
CA 2.8 -300 -360 -420 -480 -210
AU 2.6 600 570 480
RU 2.5 180 300 420 600
TR 2 180
IT 2 60
ES 2 60
JP 2 540
KR 1.4 540
NZ 1.5 720
PL 1.4 60
NL 1.3 60
TH 1.3 420
VN 1.3 420
PK 1.2 300
NG 1.2 60
EG 1.1 120
AR 1.1 -180
CO 1.1 -300
ZA 1 120
MY 1 480
UA 1 120
SA 0.9 180
IR 0.8 210
BD 0.8 360
PE 0.7 -300
CL 0.7 -240
SE 0.7 60
BE 0.7 60
RO 0.7 120
PT 0.6 0
CZ 0.6 60
GR 0.6 120
HU 0.5 60
AT 0.5 60
CH 0.5 60
IL 0.5 120
AE 0.5 240
SG 0.5 480
HK 0.5 480
TW 0.5 480
IE 0.5 0
DK 0.4 60
FI 0.4 120
NO 0.4 60
VE 0.4 -240
KE 0.4 180
MA 0.4 60
DZ 0.4 60
EC 0.3 -300
GT 0.3 -360
DO 0.3 -240
RS 0.3 60
BG 0.3 120
SK 0.3 60
HR 0.25 60
LT 0.2 120
LV 0.15 120
EE 0.15 120
SI 0.15 60
KZ 0.3 300 360
BY 0.3 180
LK 0.25 330
NP 0.25 345
MM 0.2 390
KH 0.2 420
GH 0.25 0
TZ 0.2 180
UG 0.2 180
ET 0.2 180
TN 0.2 60
JO 0.15 120
LB 0.15 120
QA 0.15 180
KW 0.15 180
OM 0.1 240
BH 0.1 180
UY 0.15 -180
PY 0.15 -240
BO 0.15 -240
CR 0.15 -360
PA 0.12 -300
SV 0.12 -360
HN 0.12 -360
NI 0.1 -360
JM 0.1 -300
TT 0.08 -240
PR 0.15 -240
CY 0.08 120
MT 0.05 60
LU 0.06 60
IS 0.04 0
GE 0.1 240
AM 0.08 240
AZ 0.1 240
MD 0.08 120
AL 0.08 60
MK 0.06 60
BA 0.08 60
ME 0.03 60
UZ 0.15 300
KG 0.05 360
MN 0.05 480
FJ 0.04 720
PG 0.04 600
WS 0.02 780
TO 0.02 780
SN 0.08 0
CI 0.08 0
CM 0.08 60
ZM 0.06 120
ZW 0.06 120
MZ 0.05 120
BW 0.03 120
NA 0.03 120
MU 0.03 240
RW 0.04 120
"""


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    weight: float
    offsets: tuple[int, ...]


COUNTRIES: tuple[Country, ...] = tuple(
    Country(parts[0], float(parts[1]), tuple(int(p) for p in parts[2:]))
    for parts in (line.split() for line in _TABLE.strip().splitlines())
)


def format_offset(minutes: int) -> str:
    """``+13:00`` style; UTC itself is written ``Z`` by the caller's choice, not here."""
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"
