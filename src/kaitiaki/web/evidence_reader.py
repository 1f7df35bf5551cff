"""Reading a file's bytes back from its evidence: ``kaitiaki.content.readback``, kept under
this name for the review pages (the pipeline does not import ``kaitiaki.web``)."""

from kaitiaki.content.readback import ContentUnavailableError, read_instance

__all__ = ["ContentUnavailableError", "read_instance"]
