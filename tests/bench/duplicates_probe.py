"""The duplicate check at registration (issue 17): median ms per check at the clinic's size.

Drafts are the clinic's own patients registered again as a desk gets them wrong (the planted
kinds of tests/duplicates_planted.py: misspelt, transliterated, swapped, birth typo, same phone,
accents) and newcomers from the same name pools, half each: a check that finds someone and one
that finds no one both happen at a desk.
"""

from __future__ import annotations

import random
import time
from typing import Any

from app.services.clinic import Clinic
from app.services.duplicate_check import RegistrationDraft, similar_on_device
from tests.bench.generator import ClinicPlan
from tests.bench.measure import percentiles
from tests.duplicates_planted import KINDS, newcomers, plant


def plan_people(plan: ClinicPlan) -> list[dict[str, Any]]:
    """The generated clinic's patients as the planted-duplicate helpers take them."""
    return [
        {
            "given": p.given,
            "family": p.family,
            "birth_date": p.birth_date,
            "sex": p.sex,
            "phone": p.phone,
        }
        for p in plan.patients
    ]


def drafts(people: list[dict[str, Any]], count: int, seed: int = 17) -> list[RegistrationDraft]:
    """`count` drafts: half `people` registered again wrongly, half newcomers."""
    rng = random.Random(seed)
    out = []
    for n in range(count // 2):
        original = dict(rng.choice(people))
        original["phone"] = original["phone"] or "+255 700 000 000"
        d = plant(rng, original, KINDS[n % len(KINDS)])
        out.append(
            RegistrationDraft(d["given"], d["family"], d["birth_date"], d["sex"], d["phone"])
        )
    for p in newcomers(count - count // 2, len(people), seed=seed + 1):
        ids = tuple((i.system, i.value) for i in p["identifiers"])
        out.append(
            RegistrationDraft(p["given"], p["family"], p["birth_date"], p["sex"], p["phone"], ids)
        )
    rng.shuffle(out)
    return out


def duplicates(clinic: Clinic, checks: list[RegistrationDraft], warmup: int = 20) -> dict[str, Any]:
    """Time `similar_on_device` per draft (the device's part; the server's is a network call)."""
    for draft in checks[:warmup]:
        similar_on_device(clinic, draft)
    samples, shown = [], []
    for draft in checks:
        start = time.perf_counter_ns()
        found = similar_on_device(clinic, draft)
        samples.append(time.perf_counter_ns() - start)
        shown.append(len(found))
    return {
        **percentiles(samples),
        "checks": len(checks),
        "mean_candidates": round(sum(shown) / len(shown), 2),
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m tests.bench.duplicates_probe --patients 20000`: the check alone, on a vault of
    registrations only (the check reads the patient index and its blocking keys, whose size is
    the number of patients; visits do not change it), for sizes whose full clinic is not
    generated yet. Prints one JSON line."""
    import argparse
    import json
    import tempfile
    from pathlib import Path

    from tests.clinic_fixtures import clinic_in
    from tests.duplicates_planted import patients, register_all

    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--checks", type=int, default=500)
    args = parser.parse_args(argv)
    people = patients(args.patients)
    with tempfile.TemporaryDirectory() as tmp, clinic_in(Path(tmp)) as clinic:
        started = time.perf_counter()
        register_all(clinic, people)
        registered_s = round(time.perf_counter() - started, 1)
        figures = duplicates(clinic, drafts(people, args.checks))
    print(json.dumps({"patients": args.patients, "registered_s": registered_s, **figures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
