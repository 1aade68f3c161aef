"""`make bench`: every benchmark, one table. PostgreSQL runs too when
TEND_BENCH_POSTGRES_URL (or TEND_TEST_POSTGRES_URL) is set.

    python -m bench                         # all of them, on every database available
    python -m bench writes coach            # only these
    python -m bench --backend postgresql    # only this database
    python -m bench --workers 4             # server processes for the throughput figures

The soak is separate: `make soak` (python -m bench.soak).
"""

import argparse
import platform
import sys
import time
import traceback
from collections.abc import Callable

from bench import bank, coach, common, floor, mail, nudges, sync, writes
from bench.common import Figure, backends, print_table

BENCHMARKS: dict[str, tuple[str, Callable[[str], list[Figure]]]] = {
    "bank": ("balance read", bank.run),
    "writes": ("bid writes", writes.run),
    "floor": ("the floor under bid writes", floor.run),
    "nudges": ("nudge fan-out", nudges.run),
    "coach": ("coach progress view", coach.run),
    "mail": ("mail through the outbox to local SMTP", mail.run),
    "sync": ("offline sync", sync.run),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Tend's benchmarks.")
    parser.add_argument("only", nargs="*", help=f"some of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument(
        "--workers",
        type=int,
        default=common.SERVER_WORKERS,
        help=f"tend serve --workers N for the write throughput (default {common.SERVER_WORKERS})",
    )
    args = parser.parse_args(argv)
    if unknown := set(args.only) - set(BENCHMARKS):
        parser.error(
            f"no benchmark {', '.join(sorted(unknown))}; there are {', '.join(BENCHMARKS)}"
        )
    common.SERVER_WORKERS = args.workers
    chosen = args.backend or backends()
    if "postgresql" in chosen and not common.POSTGRES_URL:
        parser.error("set TEND_BENCH_POSTGRES_URL (or TEND_TEST_POSTGRES_URL) for postgresql")
    print(
        f"Tend benchmarks on {platform.node()}: {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {args.workers} server processes"
    )
    started = time.perf_counter()
    figures, failed = [], []
    for backend in chosen:
        for name, (title, run) in BENCHMARKS.items():
            if args.only and name not in args.only:
                continue
            print(f"- {title}, {backend}", flush=True)
            try:
                figures += run(backend)
            except Exception:  # the others still run; the table says which one failed
                traceback.print_exc()
                failed.append(f"{name} [{backend}]")
    print_table(figures)
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    if failed:
        print(f"FAILED: {', '.join(failed)} (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
