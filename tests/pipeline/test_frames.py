"""Stack frames and the user's own one (logtray.pipeline.frames): the real loggers' stacks in
tests/shapes/, each runtime's notation, and any text in without an exception."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logtray.pipeline.frames import (
    MAX_FILE,
    MAX_FRAMES,
    MAX_FUNCTION,
    MAX_LINE,
    Frame,
    first_own,
    frames,
    is_own,
)
from logtray.pipeline.record import normalize

SHAPES = Path(__file__).resolve().parent.parent / "shapes"


def first_error_stack(logger: str) -> str | None:
    record = normalize(json.loads((SHAPES / f"{logger}.jsonl").read_text().splitlines()[2]))
    assert record is not None
    return record.error.stack


# The first own frame of each fixture's first error, read by hand from the .jsonl files.
FIXTURE_FRAMES = {
    "python-logtray": ("/srv/app/py_logtray.py", 23, "process_payment"),
    "python-structlog": ("/srv/app/py_structlog.py", 25, "process_payment"),
    "python-ecs-logging": ("/srv/app/py_ecs_logging.py", 17, "process_payment"),
    "python-json-logger": ("/srv/app/py_json_logger.py", 17, "process_payment"),
    "node-pino": ("/srv/app/payments.js", 16, "processPayment"),
    "node-pino-caller": ("/srv/app/payments.js", 16, "processPayment"),
    "node-winston": ("/srv/app/payments.js", 16, "processPayment"),
    "node-bunyan": ("/srv/app/payments.js", 16, "processPayment"),
    "java-log4j2": ("Log4j2Payments.java", 11, "Log4j2Payments.processPayment"),
    "java-logback": ("LogbackPayments.java", 11, "LogbackPayments.processPayment"),
    "go-zap": ("/srv/app/go-zap/payments.go", 23, "main.main"),
    "go-zerolog": ("payments.go", 14, "processPayment"),
    # slog and tracing write the error's text only: no stack, so no frame.
    "go-slog": None,
    "rust-tracing": None,
}


def test_every_fixture_is_in_the_table():
    assert sorted(FIXTURE_FRAMES) == sorted(p.stem for p in SHAPES.glob("*.jsonl"))


@pytest.mark.parametrize("logger", sorted(FIXTURE_FRAMES))
def test_the_first_own_frame_of_each_real_logger(logger: str):
    frame = first_own(first_error_stack(logger))
    expected = FIXTURE_FRAMES[logger]
    assert (frame and (frame.file, frame.line, frame.function)) == expected


def test_node_runtime_frames_are_not_own():
    stack = first_error_stack("node-pino")
    assert stack is not None
    found = frames(stack)
    assert [f.file for f in found if not is_own(f)] == [
        "node:internal/modules/cjs/loader",
        "node:internal/modules/cjs/loader",
        "node:internal/modules/cjs/loader",
        "node:internal/modules/cjs/loader",
        "node:internal/modules/run_main",
        "node:internal/main/run_main_module",
    ]


def test_go_runtime_frames_in_goroot_are_not_own():
    stack = first_error_stack("go-zap")
    assert stack is not None
    runtime = frames(stack)[1]
    assert runtime == Frame("/usr/lib/go-1.23/src/runtime/proc.go", 272, "runtime.main", "go")
    assert not is_own(runtime)


def test_python_library_frames_are_skipped():
    stack = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/shop/views.py", line 41, in checkout\n'
        "    charge(order)\n"
        '  File "/srv/app/shop/pay.py", line 12, in charge\n'
        "    requests.post(url)\n"
        '  File "/usr/local/lib/python3.12/site-packages/requests/api.py", line 115, in post\n'
        '  File "/usr/lib/python3.12/socket.py", line 829, in create_connection\n'
        "TimeoutError: timed out"
    )
    assert first_own(stack) == Frame("/srv/app/shop/pay.py", 12, "charge", "python")


def test_node_modules_and_async_frames():
    stack = (
        "Error: connect ECONNREFUSED 127.0.0.1:5432\n"
        "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)\n"
        "    at async Pool.connect (/srv/app/node_modules/pg-pool/index.js:45:11)\n"
        "    at async loadOrder (file:///srv/app/src/orders.mjs:27:3)\n"
    )
    assert first_own(stack) == Frame("/srv/app/src/orders.mjs", 27, "loadOrder", "node")


def test_java_runtime_and_framework_frames_are_skipped():
    stack = (
        "java.net.SocketTimeoutException: Read timed out\n"
        "\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)\n"
        "\tat java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)\n"
        "\tat jdk.internal.reflect.GeneratedMethodAccessor1.invoke(Unknown Source)\n"
        "\tat org.apache.http.impl.io.SessionBuffer.fill(SessionBuffer.java:153)\n"
        "\tat app//com.shop.payments.PaymentService.charge(PaymentService.java:42) ~[app.jar:?]\n"
        "\tat com.shop.Main.main(Main.java:9)\n"
    )
    assert first_own(stack) == Frame(
        "PaymentService.java", 42, "com.shop.payments.PaymentService.charge", "java"
    )


def test_go_panic():
    stack = (
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47b0f4]\n\n"
        "goroutine 1 [running]:\n"
        "net/http.(*Client).do(0x0, 0xc000130000)\n"
        "\t/usr/local/go/src/net/http/client.go:611 +0x1a4\n"
        "github.com/shop/payments/gateway.(*Client).Charge(0xc00001c030, {0x4d2})\n"
        "\t/srv/app/gateway/client.go:33 +0x7e fp=0xc000067f50 sp=0xc000067f18\n"
        "main.main()\n"
        "\t/srv/app/main.go:14 +0x25\n"
        "exit status 2"
    )
    assert first_own(stack) == Frame(
        "/srv/app/gateway/client.go", 33, "github.com/shop/payments/gateway.(*Client).Charge", "go"
    )


def test_go_module_cache_and_bare_goroot_are_not_own():
    stack = (
        "github.com/lib/pq.(*conn).recv(...)\n"
        "\t/root/go/pkg/mod/github.com/lib/pq@v1.10.9/conn.go:988 +0x2\n"
        "runtime.goexit()\n"
        "\t/opt/go/src/runtime/asm_amd64.s:1650 +0x1\n"
        "created by main.serve in goroutine 1\n"
        "\t/srv/app/serve.go:40 +0x99\n"
    )
    assert first_own(stack) == Frame("/srv/app/serve.go", 40, "main.serve", "go")


@pytest.mark.parametrize(
    "function, own",
    [
        ("net/http.serve", False),
        ("encoding/json.Unmarshal", False),
        ("runtime.gopanic", False),
        ("github.com/shop/payments/gateway.Charge", True),
        ("example.com/pay.charge", True),
        ("main.charge", True),
    ],
)
def test_go_frames_written_as_at_lines_keep_their_import_path(function: str, own: bool):
    """pkg/errors' %+v or a logger's frame array rendered as `at fn(file:line)`: the import
    path decides, as in a panic's frames (the standard library's first element has no dot)."""
    [frame] = frames(f"at {function}(/srv/app/x.go:7)")
    assert frame == Frame("/srv/app/x.go", 7, function, "go")
    assert is_own(frame) is own


def test_a_go_standard_library_at_frame_is_not_the_users_code():
    stack = (
        "at net/http.serve(/srv/app/vendor/server.go:2009)\n"
        "at encoding/json.Unmarshal(/srv/app/vendor/decode.go:108)\n"
        "at github.com/shop/payments/api.handle(/srv/app/api/handle.go:31)\n"
    )
    assert first_own(stack) == Frame(
        "/srv/app/api/handle.go", 31, "github.com/shop/payments/api.handle", "go"
    )


RUSTC = "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library"
CRATES = "/home/dev/.cargo/registry/src/index.crates.io-6f17d22bba15001f"


def test_rust_backtrace():
    stack = (
        "thread 'main' panicked at src/main.rs:14:5:\n"
        "gateway did not answer\n"
        "stack backtrace:\n"
        "   0: rust_begin_unwind\n"
        f"             at {RUSTC}/std/src/panicking.rs:578:5\n"
        "   1: core::panicking::panic_fmt\n"
        f"             at {RUSTC}/core/src/panicking.rs:67:14\n"
        "   2: reqwest::blocking::client::Client::execute\n"
        f"             at {CRATES}/reqwest-0.11.18/src/blocking/client.rs:1001:9\n"
        "   3: payments::process_payment\n"
        "             at ./src/main.rs:14:5\n"
        "   4: payments::main\n"
        "             at ./src/main.rs:23:5\n"
        "   5: core::ops::function::FnOnce::call_once\n"
        f"             at {RUSTC}/core/src/ops/function.rs:250:5\n"
    )
    assert first_own(stack) == Frame("./src/main.rs", 14, "payments::process_payment", "rust")


def test_dotnet_trace():
    stack = (
        "System.TimeoutException: gateway did not answer\n"
        "   at System.Net.Http.HttpClient.SendAsync(HttpRequestMessage request)\n"
        "   at Shop.Payments.Gateway.Charge(Int32 id) in /src/Shop/Gateway.cs:line 42\n"
    )
    assert first_own(stack) == Frame(
        "/src/Shop/Gateway.cs", 42, "Shop.Payments.Gateway.Charge(Int32 id)", "dotnet"
    )


@pytest.mark.parametrize(
    "stack",
    ["", "no frames here", "Error: x\n    at native", "\tat Foo.bar(Native Method)", 'File "x'],
)
def test_no_frame(stack: str):
    assert first_own(stack) is None


def test_only_library_frames_give_none():
    assert first_own("Error: x\n    at f (/app/node_modules/lib/index.js:1:1)") is None


@given(st.text(max_size=3000))
def test_any_text_gives_bounded_frames(text: str):
    found = frames(text)
    assert len(found) <= MAX_FRAMES
    for frame in found:
        assert frame.file and len(frame.file) <= MAX_FILE
        assert frame.function is None or 0 < len(frame.function) <= MAX_FUNCTION
        assert frame.line is None or 0 <= frame.line <= MAX_LINE
        is_own(frame)
        frame.label()
    first_own(text)


LINES = st.sampled_from(
    [
        '  File "/srv/app/a.py", line 3, in f',
        "    at f (/srv/app/a.js:1:2)",
        "\tat com.x.A.f(A.java:3)",
        "main.main()",
        "\t/srv/app/main.go:9 +0x1",
        "   2: app::f",
        "             at ./src/main.rs:1:1",
        "   at A.B() in /src/A.cs:line 4",
    ]
)


@given(st.lists(st.one_of(LINES, st.text(max_size=80)), max_size=200))
def test_any_mix_of_frame_lines_and_noise(parts: list[str]):
    found = frames("\n".join(parts))
    assert len(found) <= MAX_FRAMES
    for frame in found:
        assert len(frame.file) <= MAX_FILE


@given(st.text(alphabet="/ab.:0123456789\t()\n at", max_size=300))
def test_frame_like_text(text: str):
    for frame in frames(text):
        assert frame.file.strip() == frame.file and frame.file


def test_huge_stacks_are_read_in_bounds():
    line = '  File "/srv/app/a.py", line 3, in f\n'
    assert len(frames(line * 100_000)) == MAX_FRAMES
    assert frames("x" * 10_000_000) == []
