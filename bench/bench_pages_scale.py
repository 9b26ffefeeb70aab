"""The page benchmark at the issue's sizes: 1,000 functions × 30 days, then 3,000 × 7 days.

    DATABASE_URL=postgres://…/lambdaops_bench python -m bench.bench_pages_scale

The same as ``bench_pages --sizes 1000x30,3000x7`` (see there), with results in
bench/results/pages_scale.json. About an hour on the 2-core machine and ~13 GB of disk at its
largest, so ``make bench`` leaves it out (bench/run.py's SLOW); ``python -m bench.run
bench_pages_scale`` or ``--all`` runs it.
"""

from __future__ import annotations

import sys

from bench.bench_pages import SCALE_SIZES, main

if __name__ == "__main__":
    main(["--sizes", SCALE_SIZES, "--out", "pages_scale.json", *sys.argv[1:]])
