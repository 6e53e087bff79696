"""A stand-in for ldap3.Connection: records how it was built and replays scripted answers.

For what the real Samba DC cannot show: NTLM binds (Samba lacks ldap3's Sicily NTLM), size and
time limits, insufficient access, and exceptions at each step of opening a connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

Page = tuple[list[tuple[str, dict[str, list[bytes]]]], dict[str, Any]]  # entries, result


class FakeConnection:
    instances: ClassVar[list[FakeConnection]] = []

    def __init__(self, server: Any, **kwargs: Any) -> None:
        self.server = server
        self.kwargs = kwargs
        self.password = kwargs.get("password")
        self.result: dict[str, Any] = {}
        self.response: list[dict[str, Any]] = []
        self.searches: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.unbound = False
        self.script: FakeScript = FakeScript.current
        FakeConnection.instances.append(self)

    def open(self) -> None:
        self.calls.append("open")
        self.script.step("open", self)

    def start_tls(self) -> bool:
        self.calls.append("start_tls")
        return bool(self.script.step("start_tls", self, default=True))

    def bind(self) -> bool:
        self.calls.append("bind")
        self.script.bind_password = self.password
        outcome = self.script.step("bind", self, default=True)
        if outcome is not True:
            self.result = outcome
            return False
        self.result = {"result": 0, "description": "success"}
        return True

    def search(self, base: str, search_filter: str, scope: Any, attributes: Any = None, **kw: Any) -> bool:
        self.searches.append({"base": base, "filter": search_filter, "scope": scope, "attributes": attributes, **kw})
        entries, result = self.script.answer(base, search_filter, kw.get("paged_cookie"))
        self.response = [{"type": "searchResEntry", "dn": dn, "raw_attributes": attrs} for dn, attrs in entries]
        self.response.append({"type": "searchResRef", "uri": ["ldaps://elsewhere/DC=x"]})
        self.result = result
        return result.get("result", 0) == 0

    def unbind(self) -> None:
        self.unbound = True


class FakeScript:
    """What the fake connection does: per step an exception to raise or a value to return, and a
    function answering searches."""

    current: FakeScript

    def __init__(
        self,
        answer: Callable[[str, str, bytes | None], Page] | None = None,
        **steps: Any,
    ) -> None:
        self.steps = steps
        self._answer = answer
        self.bind_password: str | None = None
        FakeScript.current = self

    def step(self, name: str, conn: FakeConnection, default: Any = None) -> Any:
        value = self.steps.get(name, default)
        if isinstance(value, BaseException):
            raise value
        return value

    def answer(self, base: str, search_filter: str, cookie: bytes | None) -> Page:
        if self._answer is None:
            return [], {"result": 0, "description": "success"}
        return self._answer(base, search_filter, cookie)
