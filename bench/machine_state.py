"""What the machine was doing during a benchmark: CPU time stolen by the hypervisor.

On a virtual machine the host can run other guests on "our" cores; Linux counts that time as
`steal` in `/proc/stat`. A benchmark that measures seconds records the stolen share of its run,
so that a slow figure from a busy host is not read as a slow program.
"""

from __future__ import annotations

import time
from pathlib import Path

PROC_STAT = Path("/proc/stat")


def cpu_jiffies() -> tuple[int, int] | None:
    """`(steal, total)` CPU time of all cores since boot, in jiffies; `None` off Linux."""
    try:
        fields = PROC_STAT.read_text().splitlines()[0].split()
    except OSError:
        return None
    # cpu user nice system idle iowait irq softirq steal [guest guest_nice (already in user/nice)]
    values = [int(value) for value in fields[1:9]]
    return values[7], sum(values)


class StealMeter:
    """Share of CPU time stolen by the hypervisor since construction (or `restart`)."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.start = cpu_jiffies()

    def fraction(self) -> float | None:
        """Stolen / total CPU time since the start, in [0, 1]; `None` where unknown."""
        end = cpu_jiffies()
        if self.start is None or end is None or end[1] <= self.start[1]:
            return None
        return round((end[0] - self.start[0]) / (end[1] - self.start[1]), 4)


def reference_loop_seconds(additions: int = 10_000_000) -> float:
    """Seconds of a pure-Python loop of `additions` integer additions: how fast this host is now.

    Steal is not the only way a shared host slows a guest (a neighbour can also take the memory
    bandwidth and the caches); this one number, recorded beside every timing, lets two runs on
    different hosts or hours be compared: lower is a faster host. (First recorded on 2026-11-22:
    0.58-0.60 s on a host that ran the same loop at module level in 1.43 s, against 1.1 s for that
    module-level loop on the quietest host seen.)
    """
    started = time.perf_counter()
    total = 0
    for value in range(additions):
        total += value
    return round(time.perf_counter() - started, 3)
