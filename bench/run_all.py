"""Run every benchmark at a quick scale (`make bench`), one process each, then print a summary.

Add a benchmark by appending ``(module, [arguments])`` to ``BENCHES``; it must write
``bench/results/<name>.json`` (bench/common.py ``write_result``). ``--scale N`` overrides the customer
count of every entry that takes ``--customers``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench import common

QUICK_CUSTOMERS = 100_000
BENCHES: list[tuple[str, list[str]]] = [
    ("segments", ["--customers", str(QUICK_CUSTOMERS), "--repeat", "7"]),
    # 10 orders per customer by default (1M orders at the quick scale); its own scratch database.
    ("reports", ["--customers", str(QUICK_CUSTOMERS), "--repeat", "5"]),
    ("planner", ["--customers", str(QUICK_CUSTOMERS), "--repeat", "2"]),
    ("journeys", ["--customers", str(QUICK_CUSTOMERS), "--repeat", "2"]),
    # The reports benchmark's orders (same scratch database): scoring and the nightly refit.
    ("predict", ["--customers", str(QUICK_CUSTOMERS)]),
    ("dispatch", []),
    ("ingest", ["--events", "2000", "--rounds", "3", "--process", "300"]),
    # 50 users, 1 s think time, against gunicorn; 20 s per page at the quick scale (default 1M, 30 s).
    ("load", ["--customers", str(QUICK_CUSTOMERS), "--duration", "20"]),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run all benchmarks at a quick scale")
    parser.add_argument("--scale", type=int, help="customers for every benchmark that takes --customers")
    parser.add_argument("--only", nargs="*", help="run only these benchmark names")
    args = parser.parse_args(argv)
    summary = []
    failed = False
    for name, bench_args in BENCHES:
        if args.only and name not in args.only:
            continue
        bench_args = list(bench_args)
        if args.scale and "--customers" in bench_args:
            bench_args[bench_args.index("--customers") + 1] = str(args.scale)
        print(f"\n=== bench.{name} {' '.join(bench_args)}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}", *bench_args])
        elapsed = time.perf_counter() - started
        result_path = common.RESULTS_DIR / f"{name}.json"
        ok: object = "?"
        if code == 0 and result_path.exists():
            ok = json.loads(Path(result_path).read_text()).get("ok")
        else:
            failed = True
        summary.append([name, code, ok, round(elapsed, 1)])
    print()
    common.print_table(summary, ["benchmark", "exit", "ok", "seconds"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
