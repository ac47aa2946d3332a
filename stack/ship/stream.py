"""A container's stamped log as the bytes the engine sends, through public APIs only.

The SDK's own `logs(stream=True)` reads each frame with two calls through urllib3, most of
the cost of a flood. Here the same request is made with the client's public requests
session (`APIClient` is a `requests.Session`) and read with urllib3's public `read1`, which
returns what the connection has, many lines at a time; Docker's frames are taken apart by
`Demuxer`. No private helper of the SDK is used, so a new SDK cannot break the fast path:
`docker` and `urllib3` are pinned only to the major versions that have these public calls.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

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


def open_logs(
    client: docker.DockerClient,
    cid: str,
    since: int | None,
    follow: bool,
    tty: bool,
    tail: int | None = None,
) -> tuple[CancellableStream[bytes], Iterator[bytes]]:
    """The container's log with the engine's stamps from the whole second `since` on
    (inclusive; None: from its start), its last `tail` lines only when given: (what to close
    to end it from another thread, its payload bytes in chunks of any size)."""
    api: Any = client.api
    params: dict[str, Any] = {"stdout": 1, "stderr": 1, "timestamps": 1}
    if follow:
        params["follow"] = 1
    if since is not None:
        params["since"] = since
    if tail is not None:
        params["tail"] = tail
    path = f"/containers/{urllib.parse.quote(cid, safe='')}/logs"
    # timeout=None: a quiet container must not time the stream out (the client's timeout
    # is for calls, not for a log followed for hours).
    response = api.get(
        f"{api.base_url}/v{api.api_version}{path}", params=params, stream=True, timeout=None
    )
    if response.status_code >= 400:
        detail = response.text[:300].strip()
        response.close()
        raise docker.errors.APIError(
            f"the engine refused the log of {cid[:12]}: {response.status_code} {detail}",
            response=response,
        )
    raw = response.raw

    def chunks() -> Iterator[bytes]:
        demux = None if tty else Demuxer()
        while True:
            chunk = raw.read1(CHUNK)
            if not chunk:
                return
            yield demux.feed(chunk) if demux is not None else chunk

    stream = chunks()
    # Its close shuts the socket down: a read blocked in another thread returns.
    return CancellableStream(stream, response), stream
