"""An exchange that takes feedback, for the web tests (imported by bare name): the package's
sample exchange, recording each opinion ``report_opinion`` is given instead of sending it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar
from unittest import mock

from threatexchange.exchanges import auth
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigBase
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


@dataclass
class FakeCredentials(auth.CredentialHelper):
    """A user and password, as NCMEC's and TAT's credentials are."""

    user: str = field(metadata={"help": "the user"})
    password: str = field(metadata={"help": "the password"})

    @classmethod
    def _from_str(cls, s: str) -> FakeCredentials:
        user, _, password = s.strip().partition(":")
        return cls(user, password)

    def _are_valid(self) -> bool:
        return bool(self.user and self.password)


class AuthedSampleAPI(
    auth.SignalExchangeWithAuth[CollaborationConfigBase, FakeCredentials],
    OpinionAPI,
):
    """The sample exchange behind credentials: records the credentials each client is built
    with, fetches the package's sample signals and hears opinions as ``OpinionAPI`` does."""

    BUILT: ClassVar[list[FakeCredentials | None]] = []

    @classmethod
    def get_name(cls) -> str:
        return "authed"

    @staticmethod
    def get_credential_cls() -> type[FakeCredentials]:
        return FakeCredentials

    @classmethod
    def for_collab(
        cls, collab: CollaborationConfigBase, credentials: FakeCredentials | None = None
    ) -> AuthedSampleAPI:
        cls.BUILT.append(credentials)
        return cls()


@contextmanager
def authed_registered() -> Iterator[tuple[list[FakeCredentials | None], list[Any]]]:
    """``AuthedSampleAPI`` registered as ``authed`` for the block; yields the credentials its
    clients were built with and the opinions it heard."""
    built: list[FakeCredentials | None] = []
    heard: list[Any] = []
    with (
        mock.patch.dict(APIS, {"authed": AuthedSampleAPI}),
        mock.patch.object(AuthedSampleAPI, "BUILT", built),
        mock.patch.object(OpinionAPI, "HEARD", heard),
    ):
        yield built, heard
