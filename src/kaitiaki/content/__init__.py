"""Content: what a blob of bytes is (by its bytes, never its name) and how to read it."""
