"""A dependency-free progress bar on stderr for work that takes more than a moment."""

from __future__ import annotations

import sys
import time


class Progress:
    """Counts steps and draws ``label [#####.....] 3/10 what`` on a terminal.

    Nothing is drawn when ``enabled`` is false or stderr is not a terminal, and nothing
    before ``delay`` seconds have passed, so quick runs stay silent.
    """

    def __init__(self, total: int, label: str = "", *, enabled: bool = True,
                 delay: float = 1.0, stream=None):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled and getattr(self.stream, "isatty", lambda: False)()
        self.delay = delay
        self.done = 0
        self._start = time.perf_counter()
        self._drawn = False

    def step(self, what: str = "") -> None:
        self.done = min(self.done + 1, self.total)
        self._draw(what)

    def _draw(self, what: str) -> None:
        if not self.enabled or time.perf_counter() - self._start < self.delay:
            return
        width = 30
        filled = int(width * self.done / self.total)
        bar = "#" * filled + "." * (width - filled)
        elapsed = time.perf_counter() - self._start
        line = f"{self.label} [{bar}] {self.done}/{self.total} {elapsed:5.1f}s {what}"
        self.stream.write("\r" + line[:100].ljust(100))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
