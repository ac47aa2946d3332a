"""What one desktop wants of a team's alerts topic: services, path globs, a least count, and
the files its owner owns (CODEOWNERS). Pure but for reading the owners file once at start.

Every filter that is set must match (within one filter, any of its values); none set: every
alert. An alert without the field a filter looks at (no file, no service) does not match
that filter; an alert without a count passes `min_count` (nothing says it is small).

An alert whose group is "<service> · <template>" (a logger that writes no call site: pino,
winston) names no file: `paths` and the owners look at the first frame of the user's own code
in its errors' stack when it carries one (the embedded engine's alerts do), else it does not
match them; `services` matches the service its group names.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from logtray.pipeline.record import GROUP_SEPARATOR
from logtray.tray.alerts.alert import Alert
from logtray.tray.base.config import AlertsTopicConfig
from logtray.tray.base.errors import LogtrayError

if TYPE_CHECKING:
    # codeowners is imported where an owners_file is read: the tray imports this module at
    # every start (the alert service), and only a team's alerts topic with owners uses it.
    from codeowners import CodeOwners

MAX_OWNERS_BYTES = 1024 * 1024


def relative_path(pathname: str, prefix: str) -> str:
    """The pathname as a repository path: `prefix` taken off, then any leading slash."""
    path = pathname.replace("\\", "/")
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :]
    return path.lstrip("/")


def file_of(alert: Alert) -> str | None:
    """The file `paths` and owners look at: the alert's call site; for a group without one
    ("<service> · <template>") the first frame of the user's own code in its errors' stack,
    when the sender gave it; else None (a message is never taken for a path)."""
    if alert.file:
        return alert.file
    return alert.frame.file if alert.frame is not None and alert.pathname else None


def service_of(alert: Alert) -> str | None:
    """The service `services` looks at: the alert's, else the one its group names
    ("payments" of "payments · payment <n> failed": a logger's name stands for it)."""
    if alert.service:
        return alert.service
    if alert.pathname and not alert.file:
        who, separator, _ = alert.pathname.partition(GROUP_SEPARATOR)
        return who if separator else None
    return None


def normalize_owner(owner: str) -> str:
    """ "alice" and "@Alice" are the same handle; an e-mail address stays one."""
    owner = owner.strip().lower()
    return owner if owner.startswith("@") or "@" in owner else "@" + owner


@dataclass
class Subscription:
    services: frozenset[str] = frozenset()
    paths: tuple[str, ...] = ()
    min_count: int = 0
    owners: CodeOwners | None = None
    owner: str = ""
    path_prefix: str = ""
    # Counted, never stored: what this desktop did not want.
    filtered: int = field(default=0, compare=False)

    @property
    def everything(self) -> bool:
        return not (self.services or self.paths or self.min_count or self.owners)

    def wants(self, alert: Alert) -> bool:
        """True when every filter that is set matches the alert (pure)."""
        if self.services and service_of(alert) not in self.services:
            return False
        if self.min_count and alert.count is not None and alert.count < self.min_count:
            return False
        if self.paths or self.owners is not None:
            path = file_of(alert)
            if not path:
                return False
            relative = relative_path(path, self.path_prefix)
            if self.paths and not any(
                fnmatch.fnmatchcase(path, glob) or fnmatch.fnmatchcase(relative, glob)
                for glob in self.paths
            ):
                return False
            if self.owners is not None and not self.owns(relative):
                return False
        return True

    def owns(self, relative: str) -> bool:
        assert self.owners is not None
        return any(normalize_owner(name) == self.owner for _, name in self.owners.of(relative))

    def take(self, alert: Alert) -> bool:
        """`wants`, counting what is filtered out."""
        if self.wants(alert):
            return True
        self.filtered += 1
        return False

    def describe(self) -> str:
        parts: list[str] = []
        if self.services:
            parts.append("services " + ", ".join(sorted(self.services)))
        if self.paths:
            parts.append("paths " + ", ".join(self.paths))
        if self.min_count:
            parts.append(f"at least {self.min_count} errors")
        if self.owners is not None:
            parts.append(f"files {self.owner} owns")
        return "; ".join(parts) or "every alert"


def subscription_from(config: AlertsTopicConfig) -> Subscription:
    """The subscription [alerts_topic] asks for; a LogtrayError names a bad owners file."""
    owners = None
    owner = ""
    if config.owners_file or config.owner:
        if not (config.owners_file and config.owner):
            raise LogtrayError(
                "[alerts_topic] owners_file and owner go together",
                fix='set both (e.g. owners_file = "~/src/shop/.github/CODEOWNERS", '
                'owner = "@alice"), or neither',
            )
        from codeowners import CodeOwners

        owners = CodeOwners(_read_owners(Path(config.owners_file).expanduser()))
        owner = normalize_owner(config.owner)
    return Subscription(
        services=frozenset(config.services),
        paths=tuple(config.paths),
        min_count=config.min_count,
        owners=owners,
        owner=owner,
        path_prefix=config.path_prefix,
    )


def _read_owners(path: Path) -> str:
    fix = "set [alerts_topic] owners_file to your repository's CODEOWNERS file"
    try:
        with path.open("rb") as file:
            data = file.read(MAX_OWNERS_BYTES + 1)
    except OSError as exc:
        raise LogtrayError(f"cannot read the owners file {path}: {exc.strerror}", fix=fix) from None
    if len(data) > MAX_OWNERS_BYTES:
        raise LogtrayError(f"the owners file {path} is over 1 MiB: not a CODEOWNERS file", fix=fix)
    return data.decode("utf-8", "replace")
