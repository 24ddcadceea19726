"""Make untrusted text (command output, model text) safe to print inside a cell.

Spec tui.md "Robustness": output containing terminal control sequences is shown sanitised —
cursor movement, title changes, clipboard (OSC 52) and every other escape never reach the
terminal, because the cell is printed into the user's scrollback and a stray sequence there
would move the cursor over the UI, retitle the window, or write the clipboard. We drop all of
them (colours too: a cell has its own styling) and keep only printable text, newlines and tabs.
"""

from __future__ import annotations

import re

# ESC-introduced sequences, ECMA-48: CSI (ESC [ ... final), OSC / DCS / SOS / PM / APC strings
# (ESC ] ... BEL or ST), and two-byte escapes (ESC + one char). Their 8-bit C1 forms too.
_ESCAPES = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]                    # CSI ... final byte
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])           # OSC, DCS, SOS, PM, APC ...
      .*?(?:\x07|\x1b\\|\x9c|$)                         #   ... up to BEL or ST (or the end)
    | \x1b[ -/]*[0-~]                                   # other escapes (charset, keypad, RIS)
    | \x1b                                              # a lone ESC left at the end
    """,
    re.VERBOSE | re.DOTALL,
)
# C0 controls except TAB and LF, DEL, and the C1 range.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
TAB_WIDTH = 4


def sanitize(text: str) -> str:
    """`text` with every escape sequence and control character removed.

    A carriage return that is not part of CRLF keeps what the line shows after it (a progress
    bar's last state), as a terminal would; backspace erases the character before it.
    """
    text = _ESCAPES.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        text = "\n".join(line.rsplit("\r", 1)[-1] if "\r" in line else line
                         for line in text.split("\n"))
    if "\b" in text:
        text = _apply_backspaces(text)
    text = _CONTROLS.sub("", text)
    return text.expandtabs(TAB_WIDTH) if "\t" in text else text


def _apply_backspaces(text: str) -> str:
    out: list[str] = []
    for ch in text:
        if ch == "\b":
            if out and out[-1] != "\n":
                out.pop()
        else:
            out.append(ch)
    return "".join(out)
