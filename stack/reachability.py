"""Can we talk to a Docker engine? One sentence for the user when not."""

from __future__ import annotations


def docker_problem(timeout: int = 3) -> tuple[str | None, str]:
    """(None, engine description) when Docker answers; otherwise (problem, fix)."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return "the docker package is missing", "reinstall logtray"
    try:
        client = docker.from_env(timeout=timeout)
        version = client.version()
        client.close()
    except DockerException as exc:
        text = str(exc)
        if "Permission denied" in text:
            return (
                "permission denied on the Docker socket",
                "add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in "
                "again)",
            )
        if "No such file" in text or "Connection refused" in text or "Error while fetching" in text:
            return (
                "Docker is not running (or not installed)",
                "install Docker and start it (Docker Desktop, or `sudo systemctl start docker`)",
            )
        return f"cannot reach Docker: {text}", "check `docker info`"
    except Exception as exc:  # requests' ConnectionError when a version is pinned
        return f"cannot reach Docker: {exc}", "start Docker and check `docker info`"
    engine, api = version.get("Version", "?"), version.get("ApiVersion", "?")
    return None, f"Docker engine {engine} (API {api})"
