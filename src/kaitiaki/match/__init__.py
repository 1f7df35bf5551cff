"""Matching: files against the hash sets in the store, and what that makes each file."""

from kaitiaki.match.classify import Classified, classify
from kaitiaki.match.matcher import HashSetNotFound, MatchHit, Matcher

__all__ = ["Classified", "HashSetNotFound", "MatchHit", "Matcher", "classify"]
