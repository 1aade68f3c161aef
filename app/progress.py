"""Progress of a long admin command (demo loading, recomputation, export) on stderr.

On a terminal: one line, redrawn in place, with the count, percent, rate and time left.
Anywhere else (a log file, a CI job, a pipe): a plain line at every ``every_percent`` step
or after ``every_seconds`` without one, so a log shows the job moving without drowning.
"""

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

# A terminal is redrawn at most this often; more costs time and shows nothing new.
REDRAW_SECONDS = 0.1
CLEAR_TO_END = "\x1b[K"


def duration(seconds: float) -> str:
    """A short human duration: 0.4s, 12s, 4m05s, 2h03m."""
    if round(seconds, 1) < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or already closed
        return False


class Progress:
    """Counts ``done`` of ``total`` units; use as a context manager or call ``close()``."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        unit: str = "",
        stream: TextIO | None = None,
        interactive: bool | None = None,
        every_percent: int = 10,
        every_seconds: float = 5.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if total < 0:
            raise ValueError("total must not be negative")
        if not 1 <= every_percent <= 100:
            raise ValueError("every_percent must be between 1 and 100")
        self.label, self.total, self.unit = label, total, unit
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._interactive = _is_terminal(self._stream) if interactive is None else interactive
        self._every_percent = every_percent
        self._every_seconds = every_seconds
        self._timer = timer
        self._started = timer()
        self._last_shown = self._started
        self._last_step = 0
        self._closed = False
        self._line_open = False
        self._show()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abandon()

    @property
    def percent(self) -> float:
        return 100.0 if self.total == 0 else 100.0 * min(self.done, self.total) / self.total

    def text(self, now: float | None = None, *, final: bool = False) -> str:
        """The status line, e.g. ``export: 120/480 users (25%), 40.0/s, ETA 9.0s``."""
        elapsed = (self._timer() if now is None else now) - self._started
        unit = f" {self.unit}" if self.unit else ""
        parts = [f"{self.label}: {self.done}/{self.total}{unit} ({self.percent:.0f}%)"]
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if self.done and elapsed > 0:
            parts.append(f"{rate:.1f}/s")
        if final:
            parts.append(f"done in {duration(elapsed)}")
        elif rate > 0 and self.total > self.done:
            parts.append(f"ETA {duration((self.total - self.done) / rate)}")
        return ", ".join(parts)

    def advance(self, count: int = 1) -> None:
        if self._closed:
            raise RuntimeError("this progress is closed")
        self.done += count
        now = self._timer()
        if self._interactive:
            if now - self._last_shown >= REDRAW_SECONDS:
                self._show(now)
            return
        step = int(self.percent // self._every_percent)
        if step > self._last_step or now - self._last_shown >= self._every_seconds:
            self._last_step = max(step, self._last_step)
            if self.done < self.total:  # the last line is close()'s, with the total time
                self._show(now)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._show(final=True)
        if self._interactive:
            self._write("\n")

    def _abandon(self) -> None:
        """An error ends the work: leave the line as it stands, so the error starts afresh."""
        if self._closed:
            return
        self._closed = True
        if self._interactive and self._line_open:
            self._write("\n")

    def _show(self, now: float | None = None, *, final: bool = False) -> None:
        now = self._timer() if now is None else now
        self._last_shown = now
        line = self.text(now, final=final)
        if self._interactive:
            self._write(f"\r{line}{CLEAR_TO_END}")
            self._line_open = True
        else:
            self._write(f"{line}\n")

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()
