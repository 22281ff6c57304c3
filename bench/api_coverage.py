"""
How much of the MAAS 1.8 API is served: rows of docs/api-inventory.tsv matched
by the operation registry, per section.

    .venv/bin/python bench/api_coverage.py [--missing]
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from region.api.catalog import build_registry  # noqa: E402


def main(argv: list[str]) -> int:
    with (REPO / "docs" / "api-inventory.tsv").open() as stream:
        rows = list(csv.DictReader((line for line in stream if not line.startswith("#")),
                                   delimiter="\t"))
    served = {
        (op.method, "/api/1.0/" + handler.path, op.op or "")
        for handler in build_registry().handlers
        for op in handler.operations.values()
    }
    per_section: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missing = []
    for row in rows:
        key = (row["method"], row["path"], row["op"])
        per_section[row["section"]][1] += 1
        if key in served:
            per_section[row["section"]][0] += 1
        else:
            missing.append(key)
    total = sum(done for done, _ in per_section.values())
    width = max(len(section) for section in per_section)
    for section, (done, count) in sorted(per_section.items()):
        print(f"{section:<{width}}  {done:>3}/{count:<3}")
    print(f"{'TOTAL':<{width}}  {total:>3}/{len(rows):<3} operations of MAAS 1.8 served")
    if "--missing" in argv:
        for method, path, op in missing:
            print(f"missing: {method} {path} {('op=' + op) if op else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
