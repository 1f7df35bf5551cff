"""Scanning: walk evidence, hash every file (archive members included), store the results."""
