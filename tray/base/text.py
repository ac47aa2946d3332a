"""Text a sender wrote, made safe to show on the desktop: one cleaning for every place.

Every string that reaches the screen — a notification's title and body on every notifier
backend, the tray menu, the tooltip — goes through `shown_text`. Characters that would change
how the rest is displayed are made visible as `<U+XXXX>` instead of acting: control characters
(terminal escapes), bidi overrides and isolates (U+202E makes "bidi\u202egnp.py" read as
"bidiyp.png"; it is shown as "bidi<U+202E>gnp.py") and Unicode line and paragraph separators.
No backslash form: notify-send (plyer's fallback) would eat it. A tab becomes a space; a
newline stays only where the text may have several lines (a notification's body).

`escape_markup` is the second step for backends whose server renders markup in the body
(freedesktop servers that advertise "body-markup", e.g. dunst with `markup = full`): logtray
writes no markup of its own, so the whole body is escaped and a sender's `<b>`, `<a href>` or
`<img>` is shown as the text it is.
"""

from __future__ import annotations

import re
from html import escape

# Bidi marks, embeddings, overrides and isolates; line and paragraph separators; C0 and C1
# controls (DEL included). Tab and newline are handled apart.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSHOWABLE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}\u2028\u2029]")
_UNSHOWABLE_OR_NEWLINE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_BIDI}\u2028\u2029]")


def _visible(match: re.Match[str]) -> str:
    return f"<U+{ord(match.group()):04X}>"


def shown_text(text: str, multiline: bool = False) -> str:
    """`text` as the desktop may show it: controls, bidi overrides and line separators made
    visible (`<U+202E>`), tabs as spaces; newlines kept only when `multiline`."""
    text = text.replace("\t", " ")
    if multiline:
        text = text.replace("\r\n", "\n")
        return _UNSHOWABLE.sub(_visible, text)
    return _UNSHOWABLE_OR_NEWLINE.sub(_visible, text)


def escape_markup(text: str) -> str:
    """`text` escaped for freedesktop body markup (a Pango/HTML subset): shown, not rendered."""
    return escape(text, quote=False)
