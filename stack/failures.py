"""The errors a stack operation raises (StackError and its kinds), and the Docker API's own
message for one."""

from __future__ import annotations

from collections.abc import Sequence

import docker.errors

from logtray.stack import health
from logtray.stack.errors import LogtrayError


class StackError(LogtrayError):
    """A stack operation failed in a way the user can act on."""


class ServiceFailed(StackError):
    def __init__(
        self, service: str, message: str, fix: str | None = None, log_lines: Sequence[str] = ()
    ) -> None:
        hint = health.diagnose(log_lines)
        text = message
        if log_lines:
            text += "\n  last log lines:\n" + "\n".join(f"    {ln}" for ln in log_lines)
        super().__init__(text, fix=hint or fix)
        self.service = service
        self.log_lines = list(log_lines)


class PortTaken(StackError):
    pass


def api_message(exc: BaseException) -> str:
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        return str(exc.explanation)
    return str(exc)
