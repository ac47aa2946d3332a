"""The two rules for "the user's own frame", side by side: the error kinds' (pipeline/kinds.py's
user_frame, riemann.config's user-frame: part of a kind's id, so it cannot change without
telling every kept kind as new again) and the popup's (pipeline/frames.py's first_own: what the
lite profile's alert shows). docs/kinds.md's table "Two rules for your own frame" lists these
cases; this test keeps it true."""

from __future__ import annotations

import pytest

from logtray.pipeline.frames import first_own
from logtray.pipeline.kinds import base_name, user_frame

_JAVA = "java.lang.IllegalStateException: x\n"
# name: (stack, the kinds' frame, the popup's frame): (file name, line) or None.
CASES: dict[str, tuple[str, tuple[str, int] | None, tuple[str, int] | None]] = {
    # Where they agree.
    "python": (
        'Traceback (most recent call last):\n  File "/app/pay.py", line 31, in charge\n'
        '  File "/usr/lib/python3.12/socket.py", line 9, in connect\nOSError: x',
        ("pay.py", 31),
        ("pay.py", 31),
    ),
    "node": (
        "Error: x\n    at charge (/srv/app/pay.js:16:9)\n    at node:internal/timers:1:1",
        ("pay.js", 16),
        ("pay.js", 16),
    ),
    "java": (
        _JAVA + "\tat com.shop.Pay.charge(Pay.java:42)\n"
        "\tat java.base/java.lang.Thread.run(Thread.java:1583)",
        ("Pay.java", 42),
        ("Pay.java", 42),
    ),
    "rust": (
        "   0: std::panicking::begin_panic\n"
        "             at /rustc/abc/library/std/src/panicking.rs:616:12\n"
        "   1: payments::process\n             at ./src/main.rs:14:5",
        ("main.rs", 14),
        ("main.rs", 14),
    ),
    # Where they differ.
    "java-library-first": (
        _JAVA + "\tat org.springframework.web.Handler.handle(Handler.java:10)\n"
        "\tat com.shop.Pay.charge(Pay.java:42)",
        ("Handler.java", 10),
        ("Pay.java", 42),
    ),
    "kotlinx-first": (
        "E: x\n\tat kotlinx.coroutines.Job.run(Job.kt:3)\n\tat com.shop.Pay.charge(Pay.kt:42)",
        ("Job.kt", 3),
        ("Pay.kt", 42),
    ),
    "java-packaging-data": (
        _JAVA + "\tat com.shop.Pay.charge(Pay.java:42) ~[app.jar:1.0]\n"
        "\tat com.shop.Api.post(Api.java:7) ~[app.jar:1.0]",
        None,
        ("Pay.java", 42),
    ),
    "go-panic": (
        "goroutine 1 [running]:\nmain.charge(0x1)\n\t/app/pay.go:23 +0x1d\n"
        "main.main()\n\t/app/main.go:9 +0x2",
        None,
        ("pay.go", 23),
    ),
    "go-runtime-elsewhere": (
        "at runtime.gopanic(/root/sdk/go1.22/src/runtime/panic.go:770)\n"
        "at main.charge(/app/pay.go:23)",
        ("panic.go", 770),
        ("pay.go", 23),
    ),
    "dotnet": (
        "System.Exception: x\n   at Shop.Pay.Charge() in /src/Pay.cs:line 42\n"
        "   at Shop.Api.Post() in /src/Api.cs:line 7",
        None,
        ("Pay.cs", 42),
    ),
    "rust-library-outside-registry": (
        "   0: tokio::runtime::block_on\n             at /app/vendor/tokio/src/rt.rs:5:1\n"
        "   1: payments::process\n             at ./src/main.rs:14:5",
        ("rt.rs", 5),
        ("main.rs", 14),
    ),
    "python-usr-share": (
        'Traceback (most recent call last):\n  File "/app/pay.py", line 31, in charge\n'
        '  File "/usr/share/py/lib.py", line 9, in f\nOSError: x',
        ("lib.py", 9),
        ("pay.py", 31),
    ),
    "line-over-2000-chars": (
        "at " + "x" * 2100 + " (/app/a.js:1:1)\nat charge (/app/pay.js:16:9)",
        ("a.js", 1),
        ("pay.js", 16),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_rule_reads_the_frame_the_table_says(name: str) -> None:
    stack, kinds, popup = CASES[name]
    found = user_frame(stack)
    assert (None if found is None else (base_name(found[0]), found[1])) == kinds
    frame = first_own(stack)
    assert (None if frame is None else (base_name(frame.file), frame.line)) == popup


def test_the_docs_table_lists_every_case_that_differs() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "kinds.md").read_text(encoding="utf-8")
    table = text[text.index("## Two rules for your own frame") :]
    for name, (_, kinds, popup) in CASES.items():
        if kinds != popup:
            assert f"`{name}`" in table, name
