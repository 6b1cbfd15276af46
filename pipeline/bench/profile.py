"""Where each stage's CPU goes during a bench run: py-spy on every stage process.

`StageProfiler.start(pids, out)` attaches `py-spy record` (100 samples a second, raw "folded
stacks" output, `--nonblocking` so the stage is never paused) to each named process;
`stop()` interrupts them, which makes py-spy write its file, `<out>/<name>.folded`.
`summarise(path)` reads one such file into the shares of samples by function: *self* (the
function was running) and *inclusive* (it was on the stack), and `report(...)` writes them as
text, `<out>/<name>.txt`, the form quoted in docs/benchmarks.md.

py-spy reads another process's memory (ptrace): it needs the same user and, on most Linux
systems, `kernel.yama.ptrace_scope` 0 or root. Where it is missing or refused, the bench runs
without profiles and says so. Sampling costs the profiled stages a few percent of CPU (py-spy
runs beside them on the same cores): a profiled run's throughput is not a figure to quote.
"""

from __future__ import annotations

import logging
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

RATE = 100
"""Samples a second per process."""


def _frame(raw: str) -> str:
    """`function (file.py)` of a py-spy frame `function (path/to/file.py:LINE)`."""
    name, _, where = raw.partition(" (")
    path = where.rsplit(":", 1)[0].rstrip(")")
    return f"{name} ({path.rsplit('/', 1)[-1]})"


@dataclass
class Profile:
    """Samples of one process by function: `self_` where it was running, `inclusive` where
    it was anywhere on the stack (once per sample)."""

    samples: int = 0
    self_: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)

    def share(self, count: int) -> float:
        return round(100.0 * count / self.samples, 1) if self.samples else 0.0


def summarise(path: Path) -> Profile:
    """The profile in a py-spy raw file (`frame;frame;... COUNT` per line, root first)."""
    p = Profile()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        p.samples += n
        p.self_[frames[-1]] += n
        for f in set(frames):
            p.inclusive[f] += n
    return p


def report(name: str, p: Profile, top: int = 25) -> str:
    """The text report of one process: its top functions, self and inclusive, in % of samples."""
    lines = [f"# {name}: {p.samples} samples ({RATE}/s)", "", "## self (running)"]
    lines += [f"{p.share(c):5.1f} %  {f}" for f, c in p.self_.most_common(top)]
    lines += ["", "## inclusive (on the stack)"]
    lines += [f"{p.share(c):5.1f} %  {f}" for f, c in p.inclusive.most_common(2 * top)]
    return "\n".join(lines) + "\n"


class StageProfiler:
    """py-spy on each stage of a run (see the module docstring)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        beside = Path(sys.executable).with_name("py-spy")  # a virtual environment's, not on PATH
        self.binary = shutil.which("py-spy") or (str(beside) if beside.exists() else None)

    def start(self, pids: dict[str, int]) -> None:
        """Attach to each named process not profiled yet (e.g. the broker is not Python: leave
        it out of `pids`)."""
        if self.binary is None:
            logger.warning("py-spy not found: no profiles (pip install py-spy)")
            return
        self.out.mkdir(parents=True, exist_ok=True)
        for name, pid in pids.items():
            if name in self.procs:
                continue
            argv = [self.binary, "record", "--pid", str(pid), "--rate", str(RATE)]
            argv += ["--format", "raw", "--nonblocking", "--output"]
            argv += [str(self.out / f"{name}.folded")]
            log = (self.out / f"{name}.py-spy.log").open("wb")
            self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> dict[str, Profile]:
        """Interrupt every py-spy (each writes its file), then write the text reports; returns
        the profiles that came out (a process py-spy could not read has none)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        out: dict[str, Profile] = {}
        for name, proc in self.procs.items():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            folded = self.out / f"{name}.folded"
            if not folded.exists():
                logger.warning("no profile of %s (see %s.py-spy.log)", name, name)
                continue
            out[name] = summarise(folded)
            (self.out / f"{name}.txt").write_text(report(name, out[name]), encoding="utf-8")
        self.procs.clear()
        return out
