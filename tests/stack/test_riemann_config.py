"""stack/riemann/riemann.config: well-formed, and in step with the env the manager sets.

Riemann itself cannot run here (no registry); its stream semantics were checked against the
0.3.12 source (../shared/notes/riemann.md). This guards the file's shape and its contract.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from stack.specs import RIEMANN_CONFIG, builtin_specs
from tray.config import ListenerConfig

TEXT = RIEMANN_CONFIG.read_text(encoding="utf-8")


def forms_balanced(text: str) -> bool:
    """A small reader: strings, char literals, comments and regexes; delimiters must match."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ";":
            i = text.find("\n", i)
            if i < 0:
                break
        elif ch == "\\":
            i += 1  # a character literal such as \( or \n
        elif ch == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch in "([{":
            stack.append(ch)
        elif ch in ")]}" and (not stack or stack.pop() != pairs[ch]):
            return False
        i += 1
    return not stack


def test_forms_are_balanced() -> None:
    assert forms_balanced(TEXT)
    assert not forms_balanced("(defn x [a] (inc a)")


def test_env_contract_matches_the_manager() -> None:
    read = set(re.findall(r'\(env "([A-Z_]+)"', TEXT))
    riemann = builtin_specs(ListenerConfig())["riemann"]
    given = set(riemann.env) - {"EXTRA_JAVA_OPTS"}  # the image's own start script reads it
    assert read == given


def test_the_rule_and_outputs_are_what_the_issue_asks() -> None:
    assert ":group.id kafka-group" in TEXT
    assert "(moving-time-window window-s" in TEXT
    assert "(> n threshold)" in TEXT
    assert "(throttle 1 throttle-s alert-out)" in TEXT
    assert "(by [:pathname]" in TEXT
    assert '(where (not (tagged "riemann"))' in TEXT
    # ES 8/9: bulk without mapping types, and the whole event kept.
    assert "_type" not in TEXT
    assert '"/_bulk"' in TEXT and "program-logs-" in TEXT
    # Outputs behind async queues, defined once at top level.
    assert TEXT.count("(async-queue! ") == 2
    for key in (":pathname", ":count", ":window_s", ":threshold", ":message", ":time", ":token"):
        assert key in TEXT


@pytest.mark.skipif(not shutil.which("clojure"), reason="clojure not installed")
def test_clojure_reads_every_form() -> None:
    path = json.dumps(str(RIEMANN_CONFIG))
    code = (
        f"(with-open [r (java.io.PushbackReader. (clojure.java.io/reader {path}))]"
        " (loop [n 0] (let [f (read {:eof ::eof} r)]"
        " (if (= f ::eof) (println n) (recur (inc n))))))"
    )
    out = subprocess.run(["clojure", "-e", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip().splitlines()[-1]) > 10
