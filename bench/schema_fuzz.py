"""Schema conformance at depth: the suite's schemathesis run
(tests/test_schema_conformance.py: every operation of /api/schema/, with a
vendor, a customer and an admin key, through the WSGI app against real
PostgreSQL) with many more examples per operation. Prints the operations
run, the examples per operation, what failed and the wall time.

    python -m bench.schema_fuzz [--examples 100]

Uses DATABASE_URL (the suite's test database is created from it).
"""

import argparse
import os
import re
import subprocess
import sys
import time

from bench.common import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="examples per operation and key")
    args = parser.parse_args()
    started = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "tests/test_schema_conformance.py",
        ],
        cwd=ROOT,
        env={**os.environ, "SCHEMA_FUZZ_EXAMPLES": str(args.examples)},
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    failed = re.findall(r"^FAILED \S+\[(.+)\]$", run.stdout, re.MULTILINE)
    kinds = sorted(set(re.findall(r"^  \| - (ST\d+ .+)$", run.stdout, re.MULTILINE)))
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    print(f"examples per operation and key: {args.examples}")
    print(f"result: {summary}")
    print(f"wall time: {elapsed:.1f} s")
    for kind in kinds:
        print(f"failure kind: {kind}")
    for name in failed:
        print(f"failed: {name}")
    sys.exit(run.returncode)


if __name__ == "__main__":
    main()
