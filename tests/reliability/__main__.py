"""Run the reliability and security experiments and print the table of figures.

    .venv/bin/python -m tests.reliability --full --json     # the issue's size (tens of minutes)
    .venv/bin/python -m tests.reliability                   # the small size (a few minutes)
    .venv/bin/python -m tests.reliability --only network --seeds 5

Progress goes to stderr; the table (or, with --json, the JSON report) to stdout. The exit code
is 1 if any figure misses its requirement. Data directories are kept under --work if given,
else in a temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.peer.harness import PeerServer
from tests.reliability import (
    crash,
    issue15,
    network,
    people,
    politeness,
    report,
    security,
    server_input,
)
from tests.reliability.common import FULL, SMALL

EXPERIMENTS = ("crash", "network", "people", "server", "politeness", "security", "issue15")
# Issue 15's experiments can also be chosen one by one ("15.3", "15.8", ...).
CHOICES = (*EXPERIMENTS, *issue15.EXPERIMENTS)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in vars(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability")
    parser.add_argument("--full", action="store_true", help="the issue's size (default: small)")
    parser.add_argument("--json", action="store_true", help="print the JSON report")
    parser.add_argument(
        "--only",
        default=",".join(EXPERIMENTS),
        help="comma-separated subset (issue 15's one by one: 15.1, 15.2, 15.3, ...)",
    )
    parser.add_argument("--seeds", type=int, default=None, help="network seeds (overrides size)")
    parser.add_argument("--trials", type=int, default=None, help="crash trials (overrides size)")
    parser.add_argument("--seed", type=int, default=1, help="base seed of every experiment")
    parser.add_argument("--work", type=Path, default=None, help="keep data directories here")
    args = parser.parse_args(argv)
    size = FULL if args.full else SMALL
    if args.seeds is not None:
        size = dataclasses.replace(size, net_seeds=args.seeds)
    if args.trials is not None:
        size = dataclasses.replace(
            size, crash_exec_trials=args.trials, crash_sync_trials=args.trials
        )
    only = [o.strip() for o in args.only.split(",") if o.strip()]
    unknown = set(only) - set(CHOICES)
    if unknown:
        parser.error(f"unknown experiments: {', '.join(sorted(unknown))}")
    work = args.work or Path(tempfile.mkdtemp(prefix="fieldchart-reliability-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    started = time.monotonic()
    try:
        with PeerServer() as peer:
            if "crash" in only:
                _say(f"crash: {size.crash_exec_trials} exec trials ...")
                t = time.monotonic()
                results["crash_exec"] = crash.exec_trials(
                    size.crash_exec_trials, size.crash_exec_commands, args.seed, work / "crash"
                )
                _say(f"crash: {size.crash_sync_trials} sync trials ...")
                results["crash_sync"] = crash.sync_trials(
                    size.crash_sync_trials,
                    size.crash_sync_commands,
                    args.seed,
                    peer,
                    work / "crash",
                )
                seconds["crash"] = time.monotonic() - t
            if "network" in only:
                t = time.monotonic()
                seeds = []
                for n in range(size.net_seeds):
                    seed = args.seed * 1000 + n
                    outcome = network.run_seed(seed, size.net_commands, peer, work / "network")
                    _say(
                        f"network: seed {seed} {'ok' if outcome.ok() else 'FAILED'} "
                        f"({outcome.commands_acked} commands, {outcome.cycles} cycles, "
                        f"{outcome.needs_attention} need attention, {outcome.seconds} s)"
                    )
                    for problem in outcome.problems[:5]:
                        _say(f"    {problem}")
                    seeds.append(outcome)
                results["network"] = network.summarise(seeds)
                seconds["network"] = time.monotonic() - t
            if "people" in only:
                _say("people: hypothesis inputs through the services and `fieldchart exec` ...")
                t = time.monotonic()
                results["people"] = people.run(
                    work / "people",
                    size.people_service_examples,
                    size.people_cli_lines,
                    size.people_cli_batches,
                    seed=args.seed if args.full else 0,
                )
                seconds["people"] = time.monotonic() - t
            if "server" in only:
                _say("server: bad answers from a fake FHIR server ...")
                t = time.monotonic()
                results["server"] = server_input.run(peer, work / "server")
                seconds["server"] = time.monotonic() - t
            if "politeness" in only:
                _say("politeness: two devices behind a rate-limiting server ...")
                t = time.monotonic()
                results["politeness"] = politeness.summarise(
                    [
                        politeness.run(
                            args.seed * 100 + n, size.net_commands, peer, work / "polite"
                        )
                        for n in range(max(2, size.net_seeds // 5))
                    ]
                )
                seconds["politeness"] = time.monotonic() - t
            if "security" in only:
                t = time.monotonic()
                _say("security: TLS, passphrase guessing, roles, lock ...")
                sec = work / "security"
                results["tls"] = security.tls(peer, sec)
                results["guessing"] = security.guessing(sec, size.guess_attempts)
                results["roles"] = security.roles(sec)
                results["lock"] = security.lock(sec)
                _say("security: a scenario through every path that writes, then the scan ...")
                security.scan_scenario(peer, sec)
                results["scan"] = security.scan_everything()
                seconds["security"] = time.monotonic() - t
            results |= issue15.run(peer, work / "issue15", args.full, only, seconds)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    plain = {k: _plain(v) for k, v in results.items()}
    table = report.rows(plain, size) + issue15.rows(plain)
    ok = all(row.ok is not False for row in table)
    command = "python -m tests.reliability" + (" --full" if args.full else "")
    if args.json:
        print(
            json.dumps(
                {
                    "command": command + " --json",
                    "size": dataclasses.asdict(size),
                    "ok": ok,
                    "seconds_total": round(time.monotonic() - started, 1),
                    "seconds": {k: round(v, 1) for k, v in seconds.items()},
                    "machine": {
                        "python": platform.python_version(),
                        "platform": platform.platform(),
                        "cpus": os.cpu_count(),
                    },
                    "table": [row.to_json() for row in table],
                    "figures": plain,
                },
                indent=2,
                ensure_ascii=False,
                default=str,
            )
        )
    else:
        print(report.markdown(table))
        print(
            f"\n{'all requirements met' if ok else 'SOME REQUIREMENTS FAILED'}; "
            f"{time.monotonic() - started:.0f} s ({command})"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
