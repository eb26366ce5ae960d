"""Assemble BENCHMARKS.md from the per-benchmark sections in bench/sections/.

Each benchmark writes its own Markdown section (and its figures to bench/results/<name>.json);
this script puts them together in a fixed order so that several benchmarks can be rerun
independently. Usage: `.venv/bin/python bench/assemble.py`.
"""

from __future__ import annotations

from pathlib import Path

ORDER = (
    "pipeline",
    "recommender",
    "recommender_defaults",
    "time_aware",
    "ranker",
    "serving",
    "text_models",
    "alerts",
    "dashboard",
    "demo",
    "reliability",
    "gpu",
)

HEADER = """# Benchmarks

Every figure here was measured by a script under `bench/` on the real data in `../shared/data`
(or on generated data where the issue asks for it), with the command, machine and date given in
each section. The raw figures are in `bench/results/<name>.json`. Comparisons are side by side
in one run wherever possible, because these machines are noisy: the development machine is a
2-core CPU with 24 GiB on a shared host (the same command can run 30-50% slower from one hour
to the next), and some sections were measured while other jobs ran on it: each section says so
and records the load average.

Ranking metrics always name their protocol: `full` ranks the target against the whole catalogue
(items already in the user's history excluded); `sampled100` ranks it against 100 uniformly
sampled items the user has not interacted with (the SASRec paper's protocol).
"""


def assemble(sections_dir: Path, output: Path) -> list[str]:
    """Write `output` from the sections found; return the section names used, in order."""
    available = {path.stem: path for path in sections_dir.glob("*.md")}
    names = [name for name in ORDER if name in available]
    names += sorted(set(available) - set(ORDER))
    parts = [HEADER.strip()]
    parts += [available[name].read_text(encoding="utf-8").strip() for name in names]
    output.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return names


if __name__ == "__main__":
    root = Path(__file__).resolve().parent
    used = assemble(root / "sections", root.parent / "BENCHMARKS.md")
    print(f"BENCHMARKS.md assembled from: {', '.join(used) or 'no sections yet'}")
