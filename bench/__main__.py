"""`make bench`: every benchmark, one table. PostgreSQL runs too when
TEND_BENCH_POSTGRES_URL (or TEND_TEST_POSTGRES_URL) is set."""

import platform
import sys

from bench import bank, nudges, writes
from bench.common import backends, print_table


def main() -> int:
    print(
        f"Tend benchmarks on {platform.node()}: {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    figures = []
    for backend in backends():
        print(f"- balance read, {backend}")
        figures += bank.run(backend)
        print(f"- bid writes, {backend}")
        figures += writes.run(backend)
        print(f"- nudge fan-out, {backend}")
        figures += nudges.run(backend)
    print_table(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
