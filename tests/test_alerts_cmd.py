"""`logtray alerts` and `logtray alerts show N`, on the history a real listener wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import free_port
from tests.support.processes import Running, logtray

EVIDENCE = {
    "messages": [
        {"message": "database connection refused", "count": 140},
        {"message": "<script>alert('x')</script>", "count": 10},
    ],
    "lines": [88],
    "first": 1795600790.0,
    "last": 1795600800.0,
    "traceback": "ConnectionRefusedError: [Errno 111] Connection refused",
}
GROUP = "payments · payment <n> failed"
GROUP_EVIDENCE = {
    "messages": [{"message": "payment 4711 failed", "count": 26}],
    "traceback": "PaymentTimeoutError: gateway did not answer payment 4711 within 3000 ms",
    "error_type": "PaymentTimeoutError",
    "frame": {"file": "/srv/app/payments.js", "line": 16, "function": "processPayment"},
}


def test_list_json_and_show_the_error_view(tmp_path: Path):
    port = str(free_port())
    listener = Running("listen", "--notifier", "console", "--port", port, "--host", "127.0.0.1")
    try:
        listener.wait_stderr("listening on 127.0.0.1:" + port)
        # A logger without a call site (pino): its group is "<service> · <template>".
        group = {"pathname": GROUP, "count": 26, "window_s": 10, "evidence": GROUP_EVIDENCE}
        assert logtray("send", "--port", port, "--json", json.dumps(group)).returncode == 0
        alert = {"pathname": "/app/payments.py", "count": 150, "window_s": 10, "evidence": EVIDENCE}
        assert logtray("send", "--port", port, "--json", json.dumps(alert)).returncode == 0
        assert logtray("send", "--port", port, "FOUND PROBLEM IN /app/a.py:12").returncode == 0
        listener.json_lines(3)
    finally:
        assert listener.stop() == 0

    listed = logtray("alerts")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("  1 ") and "Problem in a.py:12" in lines[0]
    assert "  live       Problem in a.py:12" in lines[0], lines[0]
    # Under each: where (file:line, or the group), the error's type, the user's own frame.
    assert lines[1] == "     /app/a.py:12"
    assert "payments.py — 150 errors in 10 s — database connection refused" in lines[2]
    assert lines[3] == "     /app/payments.py — ConnectionRefusedError"
    assert lines[4].startswith("  3 ") and GROUP + " — 26 errors in 10 s" in lines[4]
    assert lines[5] == (f"     {GROUP} — PaymentTimeoutError at payments.js:16 in processPayment")

    as_json = json.loads(logtray("alerts", "--json", "-n", "5").stdout)
    assert [e.get("pathname") for e in as_json] == ["/app/a.py", "/app/payments.py", GROUP]
    assert [e["told"] for e in as_json] == ["live", "live", "live"]
    assert as_json[1]["evidence"]["messages"][0] == EVIDENCE["messages"][0]

    browser_log = tmp_path / "browser.log"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{browser_log}"\n')
    browser.chmod(0o755)
    shown = logtray("alerts", "show", "2", env={**os.environ, "BROWSER": str(browser)})
    assert shown.returncode == 0, shown.stderr
    page = Path(shown.stdout.strip())
    assert page.is_relative_to(tmp_path / "xdg_cache_home")
    assert browser_log.read_text().strip() == page.as_uri()
    text = page.read_text()
    assert "database connection refused" in text and "140" in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text and "<script" not in text
    assert "ConnectionRefusedError" in text

    grouped = logtray("alerts", "show", "3", "--no-open")
    assert grouped.returncode == 0, grouped.stderr
    text = Path(grouped.stdout.strip()).read_text()
    assert "<th>Group</th><td>payments · payment &lt;n&gt; failed</td>" in text
    assert "<code>PaymentTimeoutError</code>" in text
    assert "<code>/srv/app/payments.js:16 in processPayment</code>" in text
    # No call site: the editor would open the frame's file, which no [editor] roots hold.
    assert "Open in editor: disabled" in text and "[editor] roots" in text

    missing = logtray("alerts", "show", "4", "--no-open")
    assert missing.returncode == 1 and "only 3 alert(s)" in missing.stderr
