"""A stand-in for the velollm CLI that follows the `apply --json` contract, for module tests.

Writes `export VELOLLM_FAKE_KEEP_ALIVE=<server.keep_alive>` to --path; a config whose text
contains `broken:` is refused the way velollm refuses a bad key. Proof against the real CLI lives
in test_ansible_fleet.py; this only pins how the modules map the contract to Ansible results.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys


def main() -> int:
    parser = argparse.ArgumentParser(prog="velollm")
    sub = parser.add_subparsers(dest="command", required=True)
    apply = sub.add_parser("apply")
    for flag in ("-f", "--target", "--path", "--hardware"):
        apply.add_argument(flag)
    for flag in ("--auto-approve", "--json", "--check", "--diff"):
        apply.add_argument(flag, action="store_true")
    args = parser.parse_args()
    with open(args.f, encoding="utf-8") as fh:
        text = fh.read()
    if "broken:" in text:
        print(json.dumps({"format_version": 1, "status": "error", "errors": [
            {"path": "$.broken", "message": f"unknown key 'broken' in {args.f}"}]}))
        print(f"error: {args.f}: $.broken: unknown key 'broken'", file=sys.stderr)
        print("hint: remove it", file=sys.stderr)
        return 1
    match = re.search(r"keep_alive:\s*(\S+)", text)
    after = f"export VELOLLM_FAKE_KEEP_ALIVE={match.group(1) if match else '5m'}\n"
    before = ""
    if os.path.exists(args.path):
        with open(args.path, encoding="utf-8") as fh:
            before = fh.read()
    changed = before != after
    if changed and not args.check:
        os.makedirs(os.path.dirname(args.path), exist_ok=True)
        with open(args.path, "w", encoding="utf-8") as fh:
            fh.write(after)
    print(json.dumps({"format_version": 1, "changed": changed, "msg": "fake apply",
                      "files": [args.path],
                      "diff": [{"path": args.path, "before": before, "after": after}]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
