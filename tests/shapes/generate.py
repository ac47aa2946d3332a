"""Regenerate the shape fixtures (tests/shapes/<logger>.jsonl) from the real logging libraries.

    python tests/shapes/generate.py [--work DIR] [LOGGER ...]

Each program in tests/shapes/gen/ logs the same story with one real library: two INFO lines,
then 12 payments that fail at one call site, each logged at ERROR with its exception. The
programs run from DIR/app (default /tmp/logtray-shapes/app); in their output that folder is
written as /srv/app, and the unpacked Go toolchain's folder as /usr/lib/go-1.23 (where Debian
installs it; zap's stacktrace names it), so the fixtures do not depend on where they were
generated; and a line's trailing "\r" (Log4j 2 ends lines with CRLF) is dropped. Nothing else
is touched.

What it needs (each logger is skipped, with the reason, when its part is missing):
- Python: a throwaway venv in DIR (made here) with structlog 26.1.0, ecs-logging 2.3.0 and
  python-json-logger 4.2.0 from PyPI; python-logtray runs with this interpreter (logtray
  installed).
- Node 20 and npm: pino 10.4.0, pino-caller 4.0.0, winston 3.19.0, bunyan 2.0.5 from the npm
  registry (installed in DIR/app).
- Java 17 (javac) and Debian's jars in /usr/share/java: `apt-get install --no-install-recommends
  liblog4j2-java libjackson2-databind-java liblogback-java liblogstash-logback-encoder-java`.

- Go: Go 1.23 from Debian bookworm-backports (bookworm's 1.19 has no log/slog) and zerolog
  1.26, pkg/errors, zap 1.23 (with atomic, multierr) from bookworm, fetched here with
  `apt-get download` against a private apt state in DIR/apt (the system's apt sources and
  packages are not touched), unpacked with `dpkg -x`, built offline in GOPATH mode.

- Rust: cargo (any recent), and tracing 0.1.37 / tracing-subscriber 0.3.16 with what they need
  as Debian's source packages (librust-*-dev, ~120, fetched the same way), which cargo builds
  offline through a `[source.debian]` registry in DIR/rust/cargo-home (the crates.io index is
  not needed).

.NET (Serilog) is not generated here: no .NET SDK.

The tests read only the committed fixtures and tests/shapes/expected.json. After regenerating,
the expected times in expected.json change with the run: `--times` prints each logger's first
ERROR record's time as the libraries wrote it, to check and copy by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
GEN = HERE / "gen"
SHOWN_ROOT = "/srv/app"

PY_PACKAGES = ["structlog==26.1.0", "ecs-logging==2.3.0", "python-json-logger==4.2.0"]
NPM_PACKAGES = ["pino@10.4.0", "pino-caller@4.0.0", "winston@3.19.0", "bunyan@2.0.5"]
JARS = Path("/usr/share/java")
LOG4J2_JARS = ["log4j-api", "log4j-core", "jackson-core", "jackson-databind", "jackson-annotations"]
LOGBACK_JARS = [
    "slf4j-api",
    "logback-classic",
    "logback-core",
    "logstash-logback-encoder",
    "jackson-core",
    "jackson-databind",
    "jackson-annotations",
]


class Skip(Exception):
    """This logger cannot be generated here (the reason says what is missing)."""


@dataclass
class Work:
    root: Path

    @property
    def app(self) -> Path:
        return self.root / "app"

    @property
    def venv_python(self) -> Path:
        return self.root / "py-venv" / "bin" / "python"


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> bytes:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, env=env, timeout=600)
    if done.returncode != 0:
        raise Skip(f"{' '.join(cmd)} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return done.stdout


def python_venv(work: Work) -> Path:
    if not work.venv_python.exists():
        run([sys.executable, "-m", "venv", str(work.root / "py-venv")], work.root)
    check = subprocess.run(
        [str(work.venv_python), "-c", "import structlog, ecs_logging, pythonjsonlogger"],
        capture_output=True,
    )
    if check.returncode != 0:
        for package in PY_PACKAGES:
            run([str(work.venv_python), "-m", "pip", "install", "-q", package], work.root)
    return work.venv_python


def node_modules(work: Work) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise Skip("node and npm are not installed")
    if not (work.app / "node_modules" / "bunyan").exists():
        if not (work.app / "package.json").exists():
            (work.app / "package.json").write_text('{"name": "shapes", "private": true}\n')
        run(["npm", "install", "--no-audit", "--no-fund", *NPM_PACKAGES], work.app)


def java_classpath(jars: list[str]) -> str:
    if shutil.which("javac") is None:
        raise Skip("javac is not installed")
    paths = [JARS / f"{jar}.jar" for jar in jars]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise Skip(f"missing in {JARS}: {', '.join(missing)} (see the Debian packages above)")
    return ":".join(str(p) for p in paths)


GO_PACKAGES = [
    *("golang-1.23-go", "golang-1.23-src", "golang-github-rs-zerolog-dev"),
    *("golang-github-pkg-errors-dev", "golang-go.uber-zap-dev", "golang-go.uber-atomic-dev"),
    "golang-go.uber-multierr-dev",
]
DEBIAN = "[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian"
GO_SOURCES = f"deb {DEBIAN} bookworm-backports main\ndeb {DEBIAN} bookworm main\n"
GO_SHOWN_ROOT = "/usr/lib/go-1.23"


def go_root(work: Work) -> Path:
    """The unpacked Go toolchain and libraries (fetched once into DIR/go)."""
    root = work.root / "go" / "root"
    if (root / "usr/lib/go-1.23/bin/go").exists():
        return root
    unpack(work, GO_PACKAGES, work.root / "go" / "debs", root)
    return root


def apt_options(work: Work) -> list[str]:
    """apt-get options for a private apt state in DIR/apt (updated once): the system's apt
    sources, lists and cache are never touched."""
    apt = work.root / "apt"
    options = [
        f"-oDir::Etc::SourceList={apt / 'sources.list'}",
        f"-oDir::Etc::SourceParts={apt / 'parts'}",
        f"-oDir::State::Lists={apt / 'lists'}",
        f"-oDir::Cache={apt / 'cache'}",
    ]
    if not (apt / "updated").exists():
        for sub in ("lists/partial", "cache/archives/partial", "parts"):
            (apt / sub).mkdir(parents=True, exist_ok=True)
        (apt / "sources.list").write_text(GO_SOURCES)
        run(["apt-get", *options, "update"], apt)
        (apt / "updated").touch()
    return options


def unpack(work: Work, packages: list[str], debs: Path, root: Path) -> None:
    """`apt-get download` the packages into `debs` and `dpkg -x` them into `root`."""
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise Skip("apt-get and dpkg are needed to fetch the toolchain from Debian")
    options = apt_options(work)
    debs.mkdir(parents=True, exist_ok=True)
    run(["apt-get", *options, "download", *packages], debs)
    for deb in sorted(debs.glob("*.deb")):
        run(["dpkg", "-x", str(deb), str(root)], debs)


def go_program(folder: str) -> Callable[[Work], bytes]:
    def generate(work: Work) -> bytes:
        root = go_root(work)
        goroot = root / "usr/lib/go-1.23"
        env = {
            **os.environ,
            "GOROOT": str(goroot),
            "GO111MODULE": "off",
            "GOPATH": str(root / "usr/share/gocode"),
            "GOPROXY": "off",
            "GOTOOLCHAIN": "local",
            "GOCACHE": str(work.root / "go" / "cache"),
            "GOFLAGS": "",
        }
        source = work.app / folder
        run([str(goroot / "bin/go"), "build", "-o", "payments", "payments.go"], source, env)
        output = run([str(source / "payments")], source)
        return output.replace(str(goroot).encode(), GO_SHOWN_ROOT.encode())

    return generate


RUST_PACKAGES = [
    *("librust-tracing-subscriber+json-dev", "librust-tracing-subscriber-dev"),
    "librust-tracing-dev",
]


def rust_registry(work: Work) -> Path:
    """Debian's Rust sources of tracing-subscriber and what it needs, unpacked once."""
    root = work.root / "rust" / "root"
    registry = root / "usr/share/cargo/registry"
    if any(registry.glob("tracing-subscriber-*")):
        return registry
    if shutil.which("cargo") is None:
        raise Skip("cargo is not installed")
    # What installing them would pull in (apt's simulation, never run), all fetched as sources.
    simulated = run(
        ["apt-get", *apt_options(work), "install", "-s", "--no-install-recommends", *RUST_PACKAGES],
        work.root,
    )
    packages = [
        line.split()[1] for line in simulated.decode().splitlines() if line.startswith("Inst ")
    ]
    unpack(work, packages or RUST_PACKAGES, work.root / "rust" / "debs", root)
    return registry


def rust_program(folder: str) -> Callable[[Work], bytes]:
    def generate(work: Work) -> bytes:
        registry = rust_registry(work)
        home = work.root / "rust" / "cargo-home"
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text(
            '[source.crates-io]\nreplace-with = "debian"\n'
            f'[source.debian]\ndirectory = "{registry}"\n[net]\noffline = true\n'
        )
        source = work.app / folder
        env = {**os.environ, "CARGO_HOME": str(home)}
        run(["cargo", "build", "-j", "1", "--release"], source, env)
        return run([str(source / "target/release/payments")], source)

    return generate


def python_program(script: str, *, own: bool = False) -> Callable[[Work], bytes]:
    def generate(work: Work) -> bytes:
        python = Path(sys.executable) if own else python_venv(work)
        return run([str(python), script], work.app)

    return generate


def node_program(script: str) -> Callable[[Work], bytes]:
    def generate(work: Work) -> bytes:
        node_modules(work)
        return run(["node", script], work.app)

    return generate


def java_program(name: str, config: str, jars: list[str], folder: str) -> Callable[[Work], bytes]:
    def generate(work: Work) -> bytes:
        classpath = java_classpath(jars)
        out = work.app / folder
        out.mkdir(exist_ok=True)
        run(["javac", "-d", str(out), "-cp", classpath, f"java/{name}.java"], work.app)
        shutil.copy(work.app / "java" / config, out / config)
        return run(["java", "-cp", f"{out}:{classpath}", name], work.app)

    return generate


LOGGERS: dict[str, Callable[[Work], bytes]] = {
    "python-logtray": python_program("py_logtray.py", own=True),
    "python-structlog": python_program("py_structlog.py"),
    "python-ecs-logging": python_program("py_ecs_logging.py"),
    "python-json-logger": python_program("py_json_logger.py"),
    "node-pino": node_program("node_pino.js"),
    "node-pino-caller": node_program("node_pino_caller.js"),
    "node-winston": node_program("node_winston.js"),
    "node-bunyan": node_program("node_bunyan.js"),
    "java-log4j2": java_program("Log4j2Payments", "log4j2.xml", LOG4J2_JARS, "java-log4j2"),
    "java-logback": java_program("LogbackPayments", "logback.xml", LOGBACK_JARS, "java-logback"),
    "go-slog": go_program("go-slog"),
    "go-zerolog": go_program("go-zerolog"),
    "go-zap": go_program("go-zap"),
    "rust-tracing": rust_program("rust-tracing"),
}


def fixture_lines(output: bytes, app: Path) -> list[str]:
    text = output.decode("utf-8").replace(str(app), SHOWN_ROOT)
    lines = [line.rstrip("\r") for line in text.split("\n") if line.strip()]
    for line in lines:
        if not isinstance(json.loads(line), dict):
            raise ValueError(f"not one JSON object per line: {line[:200]}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("loggers", nargs="*", help=f"default: all of {', '.join(LOGGERS)}")
    parser.add_argument("--work", type=Path, default=Path("/tmp/logtray-shapes"))
    parser.add_argument("--times", action="store_true", help="print the first ERROR's raw time")
    args = parser.parse_args(argv)
    names = args.loggers or list(LOGGERS)
    unknown = [n for n in names if n not in LOGGERS]
    if unknown:
        parser.error(f"unknown logger(s): {', '.join(unknown)}")
    work = Work(args.work.resolve())
    work.app.mkdir(parents=True, exist_ok=True)
    shutil.copytree(GEN, work.app, dirs_exist_ok=True)
    failed = 0
    for name in names:
        try:
            lines = fixture_lines(LOGGERS[name](work), work.app)
        except Skip as why:
            print(f"{name}: skipped: {why}", file=sys.stderr)
            failed += 1
            continue
        (HERE / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{name}: {len(lines)} records -> tests/shapes/{name}.jsonl")
        if args.times:
            print(f"  first ERROR: {lines[2][:300]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
