"""Which URLs logtray may hand to a browser: the one pure check every link passes.

A sender chooses an alert's `url`, and any process on this machine can send alerts without a
token. So a link is only ever http(s), only under an allowed prefix (by default the configured
Kibana base URL; `[kibana] allowed_url_prefixes` widens it), and never a string a browser could
read as an option (`--gpu-launcher=...`): a URL that passes starts with "http".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import SplitResult, urlsplit

MAX_URL_CHARS = 8192
_SCHEMES = ("http", "https")


def _parts(url: str) -> SplitResult | None:
    """The URL's parts when it is a plain absolute http(s) URL, else None."""
    if not url or len(url) > MAX_URL_CHARS or not url.isascii():
        return None
    # Whitespace, controls and backslashes are read differently by browsers and by urlsplit
    # ("http://kibana\\@evil"), so a URL with any of them is refused rather than interpreted.
    if any(ord(c) <= 0x20 or c in '\\"<>^`{|}\x7f' for c in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
        return None
    if "@" in parts.netloc:  # user info: "http://kibana@evil/" reads as kibana to a human
        return None
    if not url.lower().startswith(parts.scheme.lower() + "://"):
        return None
    return parts


def _origin(parts: SplitResult) -> tuple[str, str, int]:
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with nothing a browser could misread (used for config values)."""
    return _parts(url) is not None


def safe_url(url: object, allowed_prefixes: Iterable[str]) -> str | None:
    """`url` when it may be opened, else None. Pure; never raises.

    Allowed: an http(s) URL with the same scheme, host and port as one of `allowed_prefixes`
    and a path under that prefix's path (at a segment boundary, without `..` segments).
    """
    if not isinstance(url, str):
        return None
    parts = _parts(url)
    if parts is None:
        return None
    segments = parts.path.split("/")
    if any(s in ("..", ".") or s.lower() in ("%2e%2e", "%2e", ".%2e", "%2e.") for s in segments):
        return None
    for prefix in allowed_prefixes:
        allowed = _parts(prefix)
        if allowed is None or _origin(allowed) != _origin(parts):
            continue
        base = allowed.path.rstrip("/")
        if not base or parts.path == base or parts.path.startswith(base + "/"):
            return url
    return None


def allowed_prefixes(kibana_url: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The prefixes links may start with: the Kibana base URL, then the configured extras."""
    return (kibana_url, *extra)
