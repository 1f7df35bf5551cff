"""Matching: files against the hash sets in the store, and what that makes each file."""

from kaitiaki.match.classify import Classified, classify
from kaitiaki.match.matcher import HashSetNotFoundError, Matcher, MatchHit

__all__ = ["Classified", "Digested", "HashSetNotFoundError", "MatchHit", "Matcher", "classify"]
