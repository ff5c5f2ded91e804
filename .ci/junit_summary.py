"""Sum Pants' JUnit XML reports into one `N passed, N failed, N skipped` line.

Pants does not print pytest's closing line, so CI prints this one. Exit status: 1 if any test
failed or errored, 3 if a test that needs a real service (Slurm, sshd) was skipped (their skip
reasons start with SERVICE-MISSING), 4 if no test ran at all, else 0.
"""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(argv: list[str]) -> int:
    line_only = "--line-only" in argv
    args = [a for a in argv if a != "--line-only"]
    report_dir = Path(args[0]) if args else Path("dist/test/reports")
    passed = failed = skipped = 0
    service_skips: list[str] = []
    failures: list[str] = []
    for xml_file in sorted(report_dir.rglob("*.xml")):
        for case in ET.parse(xml_file).getroot().iter("testcase"):
            name = f"{case.get('classname')}::{case.get('name')}"
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                failures.append(name)
            elif (skip := case.find("skipped")) is not None:
                skipped += 1
                reason = (skip.get("message") or "") + (skip.text or "")
                if "SERVICE-MISSING" in reason:
                    service_skips.append(f"{name}: {reason.strip()}")
            else:
                passed += 1
    if not line_only:
        for name in failures:
            print(f"FAILED {name}")
        for item in service_skips:
            print(f"SKIPPED (service missing) {item}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    if failed:
        return 1
    if service_skips:
        print("CI: tests that need a real service were skipped; the services did not come up.")
        return 3
    if passed == 0:
        print("CI: no test ran.")
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
