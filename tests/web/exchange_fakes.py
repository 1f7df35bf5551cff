"""An exchange that takes feedback, for the web tests (imported by bare name): the package's
sample exchange, recording each opinion ``report_opinion`` is given instead of sending it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar
from unittest import mock

from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.impl.static_sample import StaticSampleSignalExchangeAPI
from threatexchange.signal_type.signal_base import SignalType

from kaitiaki.exchanges.registry import APIS


class OpinionAPI(StaticSampleSignalExchangeAPI):
    HEARD: ClassVar[list[tuple[str, str, str]]] = []

    @classmethod
    def get_name(cls) -> str:
        return "opinions"

    def report_opinion(
        self, s_type: type[SignalType], signal: str, opinion: state.SignalOpinion
    ) -> None:
        self.HEARD.append((s_type.get_name(), signal, opinion.category.name))


@contextmanager
def opinions_registered() -> Iterator[list[tuple[str, str, str]]]:
    """``OpinionAPI`` registered as ``opinions`` for the block (the registry is restored after
    it, so no other test sees it); yields what it hears."""
    heard: list[tuple[str, str, str]] = []
    with (
        mock.patch.dict(APIS, {"opinions": OpinionAPI}),
        mock.patch.object(OpinionAPI, "HEARD", heard),
    ):
        yield heard
