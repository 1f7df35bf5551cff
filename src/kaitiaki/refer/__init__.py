"""Referrals: packages, lifecycle, outcomes and statistics."""
