"""A container's stamped log as the bytes the engine sends.

The SDK's own `logs(stream=True)` reads each frame with two calls through urllib3, most of
the cost of a flood. Here the same request is made with the client's public requests session
(`APIClient` is a `requests.Session`; no private helper of the SDK), and read with `read1`,
which returns what the connection has; Docker's frames are taken apart by `Demuxer`.

`read1` is urllib3's public one, or, when there, the standard library's response under it
(urllib3's `_fp`, not public): the engine sends each line as a chunk of its own, so a flood
costs one call per line, and urllib3's wrapper adds a fifth to the shipper's CPU per line
(docs/benchmarks.md). Should a urllib3 release drop or change `_fp`, the public `read1` is
used: the same bytes, a little slower. `docker` and `urllib3` are pinned to the major
versions that have these calls.
"""

from __future__ import annotations

import email.utils
import http.client
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import docker
from docker.types import CancellableStream

from logtray.stack.ship.stamped import Demuxer

CHUNK = 65536


def is_podman(client: docker.DockerClient) -> bool:
    """Whether the engine is Podman (its Docker-compatible API names its components)."""
    components = client.api.version().get("Components") or []
    return any("podman" in str(c.get("Name", "")).lower() for c in components)


def container_state(client: docker.DockerClient, cid: str) -> tuple[bool, bool]:
    """(running, tty) of a container."""
    info = client.api.inspect_container(cid)
    running = bool((info.get("State") or {}).get("Running"))
    return running, bool((info.get("Config") or {}).get("Tty"))


def fast_read1(raw: Any) -> Callable[[int], bytes] | None:
    """The standard library's `read1` under urllib3's response, when it is there (None: use
    urllib3's own)."""
    under = getattr(raw, "_fp", None)
    read1 = getattr(under, "read1", None)
    return read1 if isinstance(under, http.client.HTTPResponse) and callable(read1) else None


class Logs(NamedTuple):
    """An open log: what to close to end it from another thread, its payload bytes in chunks
    of any size, and the engine's clock when it answered (whole seconds; None: not said)."""

    closer: CancellableStream[bytes]
    chunks: Iterator[bytes]
    engine_second: int | None


def open_logs(
    client: docker.DockerClient,
    cid: str,
    since: int | None,
    follow: bool,
    tty: bool,
    tail: int | None = None,
) -> Logs:
    """The container's log with the engine's stamps from the whole second `since` on
    (inclusive; None: from its start), its last `tail` lines only when given."""
    api: Any = client.api
    params: dict[str, Any] = {"stdout": 1, "stderr": 1, "timestamps": 1}
    if follow:
        params["follow"] = 1
    if since is not None:
        params["since"] = since
    if tail is not None:
        params["tail"] = tail
    path = f"/containers/{urllib.parse.quote(cid, safe='')}/logs"
    # Followed: a quiet container must not time the stream out (the client's timeout is for
    # calls, not for a log followed for hours), so only the connection is bounded. A poll is a
    # call: a hung engine ends it with the client's timeout instead of holding the reader.
    timeout = (api.timeout, None) if follow else api.timeout
    response = api.get(
        f"{api.base_url}/v{api.api_version}{path}", params=params, stream=True, timeout=timeout
    )
    if response.status_code >= 400:
        # A stranger's body: read a bounded part of it.
        detail = response.raw.read(300, decode_content=True).decode("utf-8", "replace").strip()
        response.close()
        raise docker.errors.APIError(
            f"the engine refused the log of {cid[:12]}: {response.status_code} {detail}",
            response=response,
        )
    read1 = fast_read1(response.raw) or response.raw.read1

    def chunks() -> Iterator[bytes]:
        demux = None if tty else Demuxer()
        while True:
            chunk = read1(CHUNK)
            if not chunk:
                return
            yield demux.feed(chunk) if demux is not None else chunk

    stream = chunks()
    # Its close shuts the socket down: a read blocked in another thread returns.
    return Logs(CancellableStream(stream, response), stream, _date(response.headers.get("Date")))


def _date(value: str | None) -> int | None:
    """An HTTP `Date` as seconds since the epoch (None: none, or not a date)."""
    try:
        when = email.utils.parsedate_to_datetime(value or "")
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return int(when.timestamp()) if when.tzinfo is not None else None
