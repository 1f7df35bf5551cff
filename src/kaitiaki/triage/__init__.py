"""Triage of seized media: the examiner's report, near-duplicate groups of new material,
reviewer decisions on them, and the victim-identification records (series, victims,
offenders)."""
