"""Obtaining the stack's images: found locally, pulled on purpose (with progress) or built, and
the overlay images (Riemann with its config) built on top; plus reading a Dockerfile's bases."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import docker.errors
import requests

from logtray.stack import riemann_image
from logtray.stack.container_logs import LOG_TAIL
from logtray.stack.failures import ServiceFailed, StackError, api_message
from logtray.stack.labels import owned_labels
from logtray.stack.progress import PullProgress
from logtray.stack.specs import ServiceSpec
from logtray.stack.status import ABSENT, ServiceStatus
from logtray.stack.watcher import StatusWatcher


class Images:
    """The images of one stack's services: what is there, and obtaining what is missing."""

    def __init__(
        self,
        client: docker.DockerClient,
        stack_name: str,
        *,
        pull: bool,
        on_message: Callable[[str], None],
    ) -> None:
        self.client = client
        self.stack_name = stack_name
        self.pull = pull
        self.on_message = on_message
        # service -> the image its container runs, where that is not spec.image (an overlay)
        self.run_image: dict[str, str] = {}

    def image_id(self, image: str) -> str | None:
        try:
            return str(self.client.images.get(image).id)
        except docker.errors.ImageNotFound:
            return None

    def ensure(self, specs: Sequence[ServiceSpec], watcher: StatusWatcher | None) -> dict[str, str]:
        """service -> image id; builds or pulls (on purpose) what is missing."""
        ids = self._obtain_all(specs, watcher)
        for s in specs:
            if s.overlay:
                ids[s.name] = self._overlay(s, ids[s.name])
        return ids

    def _obtain_all(
        self, specs: Sequence[ServiceSpec], watcher: StatusWatcher | None
    ) -> dict[str, str]:
        ids: dict[str, str] = {}
        missing: list[ServiceSpec] = []
        for s in specs:
            image_id = self.image_id(s.image)
            if image_id:
                ids[s.name] = image_id
            else:
                missing.append(s)
        if not missing:
            return ids
        # Distinct images are obtained once each, in parallel, each with its own percent.
        first: dict[str, ServiceSpec] = {}
        for s in missing:
            first.setdefault(s.image, s)
        with ThreadPoolExecutor(max_workers=min(4, len(first))) as pool:
            futures = {image: pool.submit(self._obtain, s, watcher) for image, s in first.items()}
        # Every image that could not be obtained is reported, not only the first.
        failed = [f.exception() for f in futures.values() if f.exception() is not None]
        if len(failed) == 1:
            raise failed[0]  # type: ignore[misc]
        if failed:
            lines = [getattr(exc, "message", str(exc)) for exc in failed]
            raise StackError(
                f"{len(failed)} images could not be obtained:\n  " + "\n  ".join(lines),
                fix="for each: check the network connection and the image name; offline, "
                "`docker load` it or point [stack.services.<name>] image at a local one",
            )
        for s in missing:
            ids[s.name] = futures[s.image].result()
        return ids

    def _obtain(self, spec: ServiceSpec, watcher: StatusWatcher | None) -> str:
        if spec.build:
            # A build would pull a missing base image by itself: pull it on purpose first.
            dockerfile = Path(spec.build, spec.dockerfile).read_text(encoding="utf-8")
            for base in base_images(dockerfile):
                if self.image_id(base) is None:
                    self._pull(spec.name, base, watcher)
            return self._build(spec)
        return self._pull(spec.name, spec.image, watcher)

    def _pull(self, service: str, image: str, watcher: StatusWatcher | None) -> str:
        if not self.pull:
            raise StackError(
                f"image {image} (service {service}) is not on this machine and pulling "
                "is turned off",
                fix=f"`docker pull {image}` (or `docker load` it), set [stack] pull = true, "
                f"or point [stack.services.{service}] image at one you have",
            )
        self.on_message(f"pulling {image} for {service}")
        progress = PullProgress()
        repo, tag = split_tag(image)
        try:
            for msg in self.client.api.pull(repo, tag=tag, stream=True, decode=True):
                if "error" in msg:
                    raise docker.errors.APIError(str(msg["error"]))
                pct = progress.update(msg)
                if watcher is not None:
                    watcher.mark(service, ServiceStatus("pulling", percent=pct))
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise StackError(
                f"cannot pull {image} for {service}: {api_message(exc)}",
                fix="check the network connection and the image name; offline, load the image "
                f"with `docker load` or point [stack.services.{service}] image at a local "
                "one",
            ) from None
        image_id = self.image_id(image)
        if image_id is None:
            raise StackError(f"pulling {image} finished but the image is not there")
        if watcher is not None:
            watcher.mark(service, ABSENT)
        return image_id

    def _overlay(self, spec: ServiceSpec, base_id: str) -> str:
        """The image `spec.image` + spec.overlay's files, built when missing; its id."""
        assert spec.overlay is not None
        context = Path(spec.overlay)
        tag = riemann_image.overlay_tag(spec.name, base_id, context)
        self.run_image[spec.name] = tag
        image_id = self.image_id(tag)
        if image_id:
            return image_id
        self.on_message(f"building {tag}: {spec.image} with {context}")
        try:
            image_id = riemann_image.build_overlay(self.client, spec.image, context, tag)
        except docker.errors.BuildError as exc:
            raise ServiceFailed(
                spec.name,
                f"building {tag} from {context} failed: {exc.msg}",
                log_lines=build_lines(exc),
            ) from None
        except docker.errors.APIError as exc:
            raise StackError(f"building {tag} failed: {api_message(exc)}") from None
        return image_id

    def _build(self, spec: ServiceSpec) -> str:
        assert spec.build is not None
        self.on_message(f"building {spec.image} from {spec.build}")
        try:
            image, _ = self.client.images.build(
                path=spec.build,
                dockerfile=spec.dockerfile,
                tag=spec.image,
                rm=True,
                forcerm=True,
                labels=owned_labels(self.stack_name, spec.name),
                pull=False,
            )
        except docker.errors.BuildError as exc:
            raise ServiceFailed(
                spec.name,
                f"building {spec.image} from {spec.build} failed: {exc.msg}",
                fix="a base image may be missing while offline: pull it once with network",
                log_lines=build_lines(exc),
            ) from None
        except docker.errors.APIError as exc:
            raise StackError(f"building {spec.image} failed: {api_message(exc)}") from None
        return str(image.id)


def base_images(dockerfile: str) -> list[str]:
    """The images a Dockerfile builds FROM (not `scratch`, not its own earlier stages)."""
    stages: set[str] = set()
    out: list[str] = []
    for raw in dockerfile.splitlines():
        parts = raw.split()
        if len(parts) < 2 or parts[0].upper() != "FROM":
            continue
        args = [p for p in parts[1:] if not p.startswith("--")]
        if not args:
            continue
        image = args[0]
        if len(args) >= 3 and args[1].upper() == "AS":
            stages.add(args[2].lower())
        if image.lower() in stages or image == "scratch" or "$" in image:
            continue
        if image not in out:
            out.append(image)
    return out


def build_lines(exc: docker.errors.BuildError) -> list[str]:
    """The last lines of a failed build's log."""
    lines = [
        str(chunk.get("stream") or chunk.get("error") or "").rstrip() for chunk in exc.build_log
    ]
    return [ln for ln in lines if ln][-LOG_TAIL:]


def split_tag(image: str) -> tuple[str, str]:
    """(repository, tag or digest) of an image reference; "latest" when it names none."""
    name, _, digest = image.partition("@")
    if digest:
        return name, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, _, tag = image.rpartition(":")
        return repo, tag
    return image, "latest"
