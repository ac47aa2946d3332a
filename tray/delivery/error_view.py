"""The built-in error view: one self-contained HTML page per alert, no server.

`render` is pure: the alert, its evidence (sampled messages with counts, lines, time range,
the traceback's last line), the engine's recent error records of that file (lite profile), and
links to Kibana and to the editor. Everything in an alert comes from a stranger, so every text
goes through html.escape, links are only http(s) URLs that pass `safe_http_url` (or the
editor's URL, built from the user's own template), and a Content-Security-Policy meta tag
forbids scripts, frames, forms and loading anything: the page works from a file:// URL offline.

`write` puts it into the user cache dir (`errors/`), keeping the newest KEEP_PAGES pages.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import os
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.evidence import ErrorRecord, clean_text
from logtray.tray.base import paths
from logtray.tray.delivery.editor import EditorTarget

KEEP_PAGES = 50
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em}
table{border-collapse:collapse;margin:.5em 0 1.2em;width:100%}
th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f4f4f4}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
pre{background:#f7f7f7;padding:.6em;overflow:auto;white-space:pre-wrap;word-break:break-all}
.msg{word-break:break-word}
.muted{color:#666}
.links a{margin-right:1.2em}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _block(text: str) -> str:
    """A multi-line text (a traceback) for <pre>: controls removed except newlines and tabs."""
    kept = "".join(c if c in "\n\t" or (ord(c) >= 0x20 and c != "\x7f") else " " for c in text)
    return _e(kept)


def safe_http_url(url: str | None) -> str | None:
    """`url` when it is a plain http(s) URL with a host and no whitespace/controls, else None."""
    if not url or len(url) > 8192 or any(ord(c) <= 0x20 or c == "\x7f" for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def _when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    try:
        local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
    except (OverflowError, OSError, ValueError):
        return ""
    return f"{local}.{int(epoch * 1000) % 1000:03d}"


def _row(label: str, value: str) -> str:
    return f"<tr><th>{_e(label)}</th><td>{value}</td></tr>" if value else ""


def render(
    alert: Alert,
    records: Sequence[ErrorRecord] = (),
    *,
    kibana_url: str | None = None,
    editor: EditorTarget | str | None = None,
    generated: float | None = None,
) -> str:
    """The page (pure). `editor` is a target, or the reason opening in an editor is disabled."""
    evidence = alert.evidence
    where = alert.pathname or ""
    if where and alert.lineno is not None:
        where = f"{where}:{alert.lineno}"
    facts = [
        _row("File", _e(where)),
        _row("Errors", _e(alert.count) if alert.count is not None else ""),
        _row("Window", f"{alert.window_s:g} s" if alert.window_s else ""),
        _row("Threshold", f"{alert.threshold:g}" if alert.threshold is not None else ""),
        _row("Service", _e(alert.service or "")),
        _row("Alert time", _e(_when(alert.time))),
    ]
    if evidence:
        if evidence.first is not None or evidence.last is not None:
            span = f"{_when(evidence.first)} – {_when(evidence.last)}"
            facts.append(_row("Errors from – to", _e(span)))
        if evidence.lines:
            facts.append(_row("Lines", _e(", ".join(str(n) for n in evidence.lines))))
        if evidence.traceback:
            facts.append(_row("Exception", f"<code>{_e(evidence.traceback)}</code>"))

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_e(alert.headline())} · logtray</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{_e(alert.headline())}</h1>",
    ]
    if alert.message:
        parts.append(f'<p class="msg">{_e(clean_text(alert.message, 1000))}</p>')
    parts.append(_links(kibana_url, editor))
    parts.append("<table>" + "".join(facts) + "</table>")

    if evidence and evidence.messages:
        parts.append(
            "<h2>Messages in the window</h2><table><tr><th>count</th><th>message</th></tr>"
        )
        parts += [
            f'<tr><td class="n">{count}</td><td class="msg">{_e(text)}</td></tr>'
            for text, count in evidence.messages
        ]
        parts.append("</table>")

    parts += _kinds(records)
    if records:
        parts.append(
            f"<h2>Last {len(records)} error records of this file</h2>"
            "<table><tr><th>time</th><th>level</th><th>line</th><th>message</th></tr>"
        )
        for record in reversed(records):  # newest first
            line = "" if record.lineno is None else str(record.lineno)
            parts.append(
                f'<tr><td class="n">{_e(_when(record.time))}</td><td>{_e(record.level)}</td>'
                f'<td class="n">{_e(line)}</td>'
                f'<td class="msg">{_e(clean_text(record.message))}</td></tr>'
            )
        parts.append("</table>")
        last_tb = next((r.traceback for r in reversed(records) if r.traceback), None)
        if last_tb:
            parts.append(f"<h2>Last traceback</h2><pre>{_block(last_tb)}</pre>")

    stamp = _when(time.time() if generated is None else generated)
    parts.append(
        f'<p class="muted">Written by logtray at {_e(stamp)}: a snapshot; '
        "it runs no scripts and loads nothing.</p></body></html>"
    )
    return "\n".join(parts)


def _kinds(records: Sequence[ErrorRecord]) -> list[str]:
    """The records grouped by their error kind (pipeline/kinds.py): most frequent first."""
    groups: dict[str, tuple[str, int, float]] = {}
    for record in records:
        if record.kind is None:
            continue
        label, count, last = groups.get(record.kind, (record.kind_label or record.kind, 0, 0.0))
        groups[record.kind] = (label, count + 1, max(last, record.time))
    if not groups:
        return []
    ranked = sorted(groups.items(), key=lambda item: (-item[1][1], -item[1][2]))
    rows = [
        f'<tr><td class="n">{count}</td><td><code>{_e(kind)}</code></td>'
        f'<td class="msg">{_e(label)}</td><td class="n">{_e(_when(last))}</td></tr>'
        for kind, (label, count, last) in ranked
    ]
    return [
        "<h2>Kinds of error</h2><table><tr><th>records</th><th>kind</th><th>what</th>"
        "<th>last</th></tr>",
        *rows,
        "</table>",
    ]


def _links(kibana_url: str | None, editor: EditorTarget | str | None) -> str:
    links = []
    kibana = safe_http_url(kibana_url)
    if kibana:
        links.append(f'<a href="{_e(kibana)}" rel="noreferrer">Open in Kibana</a>')
    if isinstance(editor, EditorTarget):
        if editor.url:
            # The user's own template (scheme checked at config load), the path percent-quoted.
            links.append(f'<a href="{_e(editor.url)}">Open in editor</a>')
        else:
            links.append(f"Open in editor: <code>{_e(editor.describe())}</code>")
    elif editor:
        links.append(f'<span class="muted">Open in editor: disabled — {_e(editor)}</span>')
    return f'<p class="links">{"".join(links)}</p>' if links else ""


def page_name(alert: Alert, now: float) -> str:
    """A file name from no sender text: the time and a hash of the alert's key."""
    digest = hashlib.sha256(alert.key.encode("utf-8", "replace")).hexdigest()[:12]
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(alert.time or now))
    return f"alert-{stamp}-{digest}.html"


def write(page: str, name: str, directory: Path | None = None) -> Path:
    """Write the page (atomically) and keep only the newest KEEP_PAGES pages."""
    directory = directory or paths.cache_dir() / "errors"
    # Pages hold what senders and services wrote: private to the user (0700 / 0600).
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        directory.chmod(0o700)
    target = directory / name
    tmp = target.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(page)
    tmp.replace(target)
    try:
        pages = sorted(directory.glob("alert-*.html"), key=lambda p: p.stat().st_mtime)
        for old in pages[:-KEEP_PAGES]:
            old.unlink(missing_ok=True)
    except OSError:  # another logtray pruned at the same time: the next write prunes again
        pass
    return target
