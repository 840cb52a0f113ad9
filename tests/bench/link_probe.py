"""Child process of the benchmark: sync through a simulated rural link (tests/bench/link_run.py).

    python -m tests.bench.link_probe [--profiles 600ms-256kbit,100ms-10mbit]
        [--facilities 10] [--patients 2000] [--parts day,district,resume,storage]

Prints one JSON line (progress to stderr). Profiles: 600ms-256kbit, 300ms-1mbit, 100ms-10mbit,
loopback (the same proxies without delay or cap: the client's and server's own time), or
RTTms-KBITkbit for any other (e.g. 300ms-512kbit).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

PARTS = ("day", "district", "resume", "storage")
DEFAULT_PROFILES = "600ms-256kbit,100ms-10mbit"


def parse_profile(text: str) -> object:
    from tests.reliability.link import LINK_1M, LINK_2G, LINK_10M, LINK_LOOPBACK, LinkProfile

    known = {p.name: p for p in (LINK_2G, LINK_1M, LINK_10M, LINK_LOOPBACK)}
    if text in known:
        return known[text]
    match = re.fullmatch(r"(\d+)ms-(\d+)kbit", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a link profile (RTTms-KBITkbit): {text!r}")
    return LinkProfile(text, int(match[1]) / 1000, float(match[2]))


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.link_probe")
    parser.add_argument("--profiles", default=DEFAULT_PROFILES)
    parser.add_argument("--facilities", type=int, default=10)
    parser.add_argument("--patients", type=int, default=2000, help="per facility")
    parser.add_argument("--parts", default=",".join(PARTS))
    args = parser.parse_args(argv)
    args.parts = set(args.parts.split(","))
    unknown = args.parts - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))} (known: {', '.join(PARTS)})")
    args.profiles = [parse_profile(p) for p in args.profiles.split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    try:
        from tests.bench.link_run import run
    except Exception as exc:  # the rest of the benchmark still runs
        print(json.dumps({"status": f"not measured: {type(exc).__name__}: {exc}"}))
        return 0

    def log(msg: str) -> None:
        print(f"[link {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fieldchart-link-") as tmp:
        out = run(Path(tmp), args.profiles, (args.facilities, args.patients), args.parts, log)
    out["total_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
