"""Regenerate the plain-text fixtures (tests/shapes/lines/<program>.log) from real runtimes.

    python tests/shapes/lines/generate.py [--work DIR] [PROGRAM ...]

Each program in tests/shapes/lines/gen/ prints what a service that never heard of Kafka prints
to its container's stdout and stderr: log lines, exceptions logged with their stack, and an
uncaught error that ends it. A program's stdout and stderr go into one pipe, as a container's
output interleaves them. The programs run from DIR/app (default /tmp/logtray-lines/app); in
their output that folder is written as /srv/app and the unpacked Go toolchain's folder as
/usr/lib/go-1.23, so a fixture does not depend on where it was generated. Nothing else is
touched.

What it needs (a program is skipped, with the reason, when its part is missing):
- python, python-syntax: CPython 3.11 or later (exception groups) as `python3`.
- node: Node 20 as `node`.
- java: Java 17 as `java` (runs the one source file) and logback 1.2 from Debian
  (`apt-get install --no-install-recommends liblogback-java`) with its default console pattern.
- go-panic, go-nil: Go 1.23 from Debian bookworm-backports, fetched and unpacked into DIR/go as
  tests/shapes/generate.py does (the system's apt sources and packages are not touched).
- rust: `rustc` (any recent; the panic's format changed in 1.73), run with RUST_BACKTRACE=1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
GEN = HERE / "gen"
SHOWN_ROOT = "/srv/app"
sys.path.insert(0, str(HERE.parent))

import generate as shapes  # noqa: E402  (tests/shapes/generate.py: the Go toolchain)


class Skip(Exception):
    pass


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> bytes:
    """The command's stdout and stderr through one pipe; a failing exit is what these programs
    end with, so it is not an error here."""
    if shutil.which(command[0]) is None and not Path(command[0]).exists():
        raise Skip(f"{command[0]} is not installed")
    result = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600
    )
    return result.stdout


def python(app: Path) -> bytes:
    return run(["python3", "python_app.py"], app)


def python_syntax(app: Path) -> bytes:
    return run(["python3", "python_syntax.txt"], app)


def rust(app: Path) -> bytes:
    source = app / "rust_panic"
    run(["rustc", "-O", "main.rs", "-o", "service"], source)
    return run([str(source / "service")], source, {**os.environ, "RUST_BACKTRACE": "1"})


def node(app: Path) -> bytes:
    return run(["node", "node_app.js"], app)


JARS = Path("/usr/share/java")


def java(app: Path) -> bytes:
    jars = [JARS / f"{name}.jar" for name in ("slf4j-api", "logback-core", "logback-classic")]
    missing = [jar.name for jar in jars if not jar.exists()]
    if missing:
        raise Skip(f"missing in {JARS}: {', '.join(missing)} (apt-get install liblogback-java)")
    return run(["java", "-cp", ":".join(map(str, jars)), "Main.java"], app)


def go(folder: str, how: str) -> Callable[[Path], bytes]:
    def generate(app: Path) -> bytes:
        try:
            root = shapes.go_root(shapes.Work(app.parent))
        except shapes.Skip as error:
            raise Skip(str(error)) from error
        goroot = root / "usr/lib/go-1.23"
        env = {
            **os.environ,
            "GOROOT": str(goroot),
            "GO111MODULE": "off",
            "GOPROXY": "off",
            "GOTOOLCHAIN": "local",
            "GOCACHE": str(app.parent / "go" / "cache"),
            "GOFLAGS": "",
            "PATH": f"{goroot / 'bin'}:{os.environ.get('PATH', '')}",
        }
        source = app / folder
        go_bin = str(goroot / "bin/go")
        if how == "run":  # `go run` as a development container runs it: "exit status 2" too
            output = run([go_bin, "run", "main.go"], source, env)
        else:
            run([go_bin, "build", "-o", "service", "main.go"], source, env)
            output = run([str(source / "service")], source, env)
        return output.replace(str(goroot).encode(), shapes.GO_SHOWN_ROOT.encode())

    return generate


PROGRAMS: dict[str, Callable[[Path], bytes]] = {
    "python": python,
    "python-syntax": python_syntax,
    "node": node,
    "java": java,
    "go-panic": go("go_panic", "run"),
    "go-nil": go("go_nil", "build"),
    "rust": rust,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/logtray-lines"))
    parser.add_argument("programs", nargs="*", choices=[[], *PROGRAMS], default=[])
    args = parser.parse_args()
    app = args.work.resolve() / "app"
    shutil.rmtree(app, ignore_errors=True)
    shutil.copytree(GEN, app)
    failed = False
    for name in args.programs or list(PROGRAMS):
        try:
            output = PROGRAMS[name](app)
        except Skip as reason:
            print(f"{name}: skipped: {reason}", file=sys.stderr)
            failed = True
            continue
        output = output.replace(str(app).encode(), SHOWN_ROOT.encode())
        (HERE / f"{name}.log").write_bytes(output)
        lines = output.count(b"\n")
        print(f"{name}: {lines} lines", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
