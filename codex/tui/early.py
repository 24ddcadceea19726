"""The composer before the UI is loaded (issue 12 "Start-up": paint something useful before the
heavy imports finish; a composer that echoes typed keys within 400 ms).

`codex` paints its header with the standard library alone, then spends most of its start-up
importing prompt_toolkit and rich and building the UI. Meanwhile `EarlyComposer` owns the
terminal: it draws the live area the UI will draw (a blank line, the `›` prompt, the footer),
puts the terminal in raw mode and echoes what is typed from a reader thread (the imports hold
the interpreter lock only in short slices, so a key is drawn within a few milliseconds). When
the UI is ready, `stop()` hands over every byte read — not only the text shown — to be fed to
the real composer as type-ahead, so no key is lost or reinterpreted: Enter sends, a paste
stays a paste, Ctrl-C quits, exactly as if the UI had been there from the start.

The preview shows printable text (and Backspace); after any other key (Enter, Esc, arrows, a
paste, Ctrl-…) it stops changing and the UI applies what follows when it takes over.

A TERM or HUP while it owns the terminal is handled by the reader thread, not by a Python-level
handler: the interpreter runs those only between bytecodes of the main thread, and a frozen
(compiled) build may import for a long while without reaching one — the signal would wait and
then unwind from wherever the main thread happened to be, leaving the composer drawn and the
terminal raw. `signal.set_wakeup_fd` makes the C-level handler write the signal's number into
the reader's wake pipe at once; the reader erases what was drawn, restores the terminal's modes
and ends the process with 128+N (nothing else is running yet: the session starts after `stop()`).

Standard library only: this runs before anything heavy is imported.
"""

from __future__ import annotations

import codecs
import os
import select
import signal
import termios
import threading
from dataclasses import dataclass

from codex.tui.banner import fit, text_width

PROMPT = "\x1b[1;36m›\x1b[0m "  # what the UI's composer draws: bold cyan mark, a space
FOOTER_STYLE = "\x1b[90m"  # the UI's footer colour (ansibrightblack)
RESET = "\x1b[0m"
BRACKETED_PASTE_ON = "\x1b[?2004h"
BRACKETED_PASTE_OFF = "\x1b[?2004l"
_BACKSPACE = ("\x7f", "\x08")
JOIN_TIMEOUT_S = 1.0
STOP_BYTE = b"x"  # what stop() writes to the wake pipe; a signal writes its own number
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def footer_text(model: str, effort: str | None, cwd_label: str) -> str:
    """The footer the UI shows before the session reports anything (same words, same
    order as `TuiApp._footer_text`)."""
    return " · ".join(["? for shortcuts", model + (f" {effort}" if effort else ""), cwd_label])


def read_typed(fd: int) -> bytes:
    """Every byte waiting on `fd` (a terminal just taken out of canonical mode, which releases
    an unfinished line). What was typed while it was cooked had Enter (CR) turned into LF: it
    gets its CR back, or the UI would read Ctrl-J (a new line) instead of Enter (send)."""
    data = b""
    while select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.replace(b"\n", b"\r")


def install_exit_handlers(early: EarlyComposer) -> None:
    """TERM and HUP from now until the UI installs its own: while `early`'s reader runs, it
    gets the signal (through the wakeup fd, and from here in case the signal came before the
    fd was ours) and ends the process with the terminal restored; otherwise SystemExit(128+N)
    unwinds through the caller's `finally`, which restores it. The default action would leave
    the terminal raw with the composer drawn."""

    def on_signal(signum: int, _frame: object) -> None:
        if early.handles_signals():
            early.deliver(signum)
            return
        raise SystemExit(128 + signum)

    for sig in EXIT_SIGNALS:
        signal.signal(sig, on_signal)


@dataclass
class _Preview:
    text: str = ""
    frozen: bool = False  # a key the preview does not model was typed


class EarlyComposer:
    """Raw mode, the drawn composer and a reader thread, from `start()` to `stop()`."""

    def __init__(self, fd_in: int, fd_out: int, footer: str) -> None:
        self.fd_in, self.fd_out = fd_in, fd_out
        self.footer = footer
        self.saved_attrs: list | None = None  # the terminal's modes before start()
        self._raw = bytearray()
        self._preview = _Preview()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = -1, -1
        self._thread: threading.Thread | None = None
        self._drawn = False  # the composer is on screen and stop() has not run
        self._prev_wakeup_fd: int | None = None  # set_wakeup_fd's previous fd while ours is set
        self._term_lock = threading.Lock()  # one of stop() / the signal path touches the terminal

    def start(self) -> None:
        """Enter raw mode, draw the composer, start reading keys. OSError / termios.error
        when the terminal cannot be set up (the caller then simply goes on without)."""
        self.saved_attrs = termios.tcgetattr(self.fd_in)
        attrs = termios.tcgetattr(self.fd_in)
        # The modes prompt_toolkit's raw mode sets, so the hand-over changes nothing.
        attrs[0] &= ~(termios.IXON | termios.IXOFF | termios.ICRNL | termios.INLCR
                      | termios.IGNCR)
        attrs[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
        attrs[6][termios.VMIN] = 1
        attrs[6][termios.VTIME] = 0
        termios.tcsetattr(self.fd_in, termios.TCSANOW, attrs)
        typed = read_typed(self.fd_in)  # what was typed while the terminal was cooked
        self._raw += typed
        self._apply(self._decoder.decode(typed))
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)  # set_wakeup_fd requires it
        try:
            self._prev_wakeup_fd = signal.set_wakeup_fd(self._wake_w)
        except ValueError:  # not the main thread: the Python-level handler alone then
            self._prev_wakeup_fd = None
        # Blank line, prompt, footer; then back up to the prompt line.
        self._drawn = True
        self._write(BRACKETED_PASTE_ON + "\r\n" + PROMPT + "\r\n"
                    + FOOTER_STYLE + fit(self.footer, self._columns() - 1) + RESET
                    + "\x1b[1A\r\x1b[2C")
        if self._preview.text:
            self._draw()
        self._thread = threading.Thread(target=self._read_keys, name="codex-early-keys",
                                        daemon=True)
        self._thread.start()

    def stop(self, *, erase: bool = False) -> bytes:
        """Stop reading; leave the cursor where the UI starts drawing (the blank line above
        the prompt) and return every byte typed so far. With `erase`, clear what was drawn
        (the UI is not coming: an error follows). Raw mode stays: the caller restores
        `saved_attrs` when the UI is done."""
        self._restore_wakeup_fd()
        if self._thread is not None:
            try:
                os.write(self._wake_w, STOP_BYTE)
            except OSError:
                pass
            self._thread.join(JOIN_TIMEOUT_S)
            stuck = self._thread.is_alive()  # blocked writing to a stalled terminal
            self._thread = None
        else:
            stuck = False
        if not stuck:
            # (A reader still running keeps its pipe: closed, the numbers could be reused by
            # another fd it would then read from.)
            for fd in (self._wake_r, self._wake_w):
                if fd >= 0:
                    os.close(fd)
        self._wake_r = self._wake_w = -1
        with self._term_lock:
            self._undraw(erase)
        with self._lock:
            return bytes(self._raw)

    def close(self) -> None:
        """Undo everything `start()` did (idempotent): the reader stopped, what was drawn
        erased if the UI never took over, the terminal's modes restored."""
        if self._thread is not None or self._drawn:
            self.stop(erase=True)
        if self.saved_attrs is not None:
            self._restore_modes()
            self.saved_attrs = None

    def _undraw(self, erase: bool) -> None:
        """Back to the line above the prompt, clearing what was drawn with `erase` (callers
        hold `_term_lock`; once only)."""
        if self._drawn:
            self._drawn = False
            self._write("\r\x1b[1A" + ("\x1b[J" if erase else ""))

    def _restore_modes(self) -> None:
        """The terminal's modes as `start()` found them, bracketed paste off again."""
        if self.saved_attrs is not None:
            try:
                termios.tcsetattr(self.fd_in, termios.TCSADRAIN, self.saved_attrs)
            except termios.error:
                pass
        self._write(BRACKETED_PASTE_OFF)

    def handles_signals(self) -> bool:
        """Whether a TERM or HUP now reaches the reader thread (which then ends the process
        cleanly): the Python-level handler must then do nothing."""
        return self._prev_wakeup_fd is not None and self._thread is not None \
            and self._thread.is_alive()

    def deliver(self, signum: int) -> None:
        """Hand a signal the Python-level handler saw to the reader thread, in case it arrived
        before the wakeup fd was ours (a second copy of one already written is harmless: the
        first ends the process)."""
        try:
            os.write(self._wake_w, bytes([signum]))
        except OSError:
            pass

    def _restore_wakeup_fd(self) -> None:
        """Give back the wakeup fd we took, unless someone (asyncio, when the UI installs its
        handlers) replaced ours since. Main thread only, as set_wakeup_fd is."""
        prev = self._prev_wakeup_fd
        if prev is None:
            return
        try:
            current = signal.set_wakeup_fd(prev)
            if current != self._wake_w:
                signal.set_wakeup_fd(current)
        except ValueError:
            pass
        # Cleared only now: a signal in between still finds the reader (handles_signals).
        self._prev_wakeup_fd = None

    # -- reader thread ---------------------------------------------------------------------
    def _read_keys(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.fd_in, self._wake_r], [], [])
            except (OSError, ValueError):
                return
            if self._wake_r in ready:
                try:
                    woken = os.read(self._wake_r, 64)
                except OSError:
                    return
                for signum in woken:
                    if signum in EXIT_SIGNALS:
                        self._exit_on_signal(signum)
                if STOP_BYTE in woken:
                    return
                continue
            try:
                data = os.read(self.fd_in, 4096)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self._raw += data
                changed = self._apply(self._decoder.decode(data))
            if changed:
                self._draw()

    def _exit_on_signal(self, signum: int) -> None:
        """TERM or HUP while we own the terminal: leave it as we found it and end the process
        now (from this thread; see the module docstring)."""
        with self._term_lock:
            self._undraw(erase=True)
            self._restore_modes()
            os._exit(128 + signum)

    def _apply(self, text: str) -> bool:
        p = self._preview
        if p.frozen:
            return False
        before = p.text
        for ch in text:
            if ch in _BACKSPACE:
                p.text = p.text[:-1]
            elif ch.isprintable() and not (ch == "?" and not p.text):
                p.text += ch
            else:
                # Enter, Esc (arrows, a paste), Tab, Ctrl-…, `?` on an empty composer (the
                # shortcuts): the UI applies them when it takes over.
                p.frozen = True
                break
        return p.text != before

    def _draw(self) -> None:
        room = max(1, self._columns() - 3)
        text = self._preview.text
        while text_width(text) > room:  # the end of a long line, as the composer scrolls
            text = text[1:]
        self._write("\r" + PROMPT + text + "\x1b[K")

    # -- output -----------------------------------------------------------------------------
    def _columns(self) -> int:
        try:
            return os.get_terminal_size(self.fd_out).columns or 80
        except OSError:
            return 80

    def _write(self, text: str) -> None:
        data = text.encode("utf-8", "replace")
        while data:
            try:
                n = os.write(self.fd_out, data)
            except InterruptedError:
                continue
            except OSError:
                return
            data = data[n:]
