"""What every benchmark shares: the machine it ran on, percentiles, memory, tables and JSON.

The machine these figures come from is shared and noisy, so each benchmark runs its
alternatives side by side in one process and reports ratios; the load average before and after
is recorded beside the figures, so a reader can tell a quiet run from a busy one.
"""

import json
import os
import platform
import resource
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def machine() -> dict:
    """The CPU, cores, memory and Python of this run, and the load average now."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": f"{platform.machine()}, {cpu}",
        "cores": len(os.sched_getaffinity(0)),
        "ram_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "load_average_start": load_average(),
        "started": time.strftime("%Y-%m-%d %H:%M"),
    }


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: above the core count, other jobs share the CPU."""
    return [round(x, 2) for x in os.getloadavg()]


def machine_line(figures: dict) -> str:
    m = figures["machine"]
    return (
        f"{m['started']}, {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB; load average "
        f"{m['load_average_start'][0]} at the start, {m['load_average_end'][0]} at the end"
    )


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest rank: with 40 values p95 is the 38th."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3 if seconds < 0.01 else 2 if seconds < 1 else 1)


def rss_mb() -> float:
    """Resident memory of this process now, MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Highest resident memory of this process so far, MiB.

    VmHWM belongs to the process's own memory map, made new at exec; getrusage's ru_maxrss
    is not: a child started by a parent holding 10 GB reports the parent's 10 GB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Rows as a Markdown table (readable in a terminal, pasted as is into bench/README.md)."""
    columns = columns or list(rows[0])
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |" for r in cells]
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def finish(figures: dict, json_path: Path | None) -> None:
    """Record the load average at the end; write the figures as JSON when asked."""
    figures["machine"]["load_average_end"] = load_average()
    print(f"machine: {machine_line(figures)}")
    if json_path:
        json_path.write_text(json.dumps(figures, indent=1, default=str))
        print(f"wrote {json_path}")
