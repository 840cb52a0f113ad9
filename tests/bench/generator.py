"""A deterministic synthetic clinic: who comes when, and which commands the visits produce.

    plan = plan_clinic(Params(patients=2000))       # pure, seeded
    stats = drive(plan, execute)                    # feeds commands to `execute`, in time order

`execute(at, actor, command) -> Changes` is supplied by the caller (tests/bench/bulk.py):
either the real `ClinicCommands.execute`, one durable transaction per command, or the same
method with many commands per transaction. Both see the same commands in the same order with
the same clock readings, and ids come from a seeded sequence, so they record the same events.

The clinic: eight clinicians and three front-desk staff, open 07:00-19:00 (UTC+03:00) on
15-minute appointment slots, over `days` days from 2023-01-02. Each patient is registered at
their first visit and comes back a few to a few dozen times; a visit is an encounter with vitals,
often a diagnosis (bundled ICD-10 codes, chronic conditions recur), prescriptions (bundled
medicines; a patient with a drug allergy is sometimes prescribed a matching drug with an
override reason), allergies, notes, and a follow-up booking for the next visit that is later
attended, moved, cancelled or missed. A few "heavy" patients (chronic, seen every week or so,
several vitals per visit) each reach 1,000+ events. Names come from many naming traditions,
with their accents.

Everything random is drawn from `random.Random` seeded per patient, so the plan does not depend
on PYTHONHASHSEED or on how visits of different patients interleave.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import random
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from app.domain import commands as c
from app.domain.decide_medication import CLASH, allergy_verdict
from app.domain.medicines import resolve_drug
from app.domain.reference import Catalog
from app.domain.roles import Actor, Role
from app.services.dto import Changes
from tests.bench import corpus
from tests.bench.immunization_history import ImmunizationHistories

GENERATOR_VERSION = 2  # bump when the plan or the commands change: cached vaults are rebuilt

START = datetime(2023, 1, 2, tzinfo=UTC)
LOCAL = timezone(timedelta(hours=3))
OPENS_AT = 7  # local hour of the first slot
SLOT_MINUTES = 15
DAY_SLOTS = 48  # 07:00-19:00 local
CLINICIANS = (
    "amani.k",
    "ingrid.h",
    "nguyen.t",
    "sofia.r",
    "chidi.o",
    "priya.s",
    "lukasz.w",
    "aylin.y",
)
DESK = ("desk.neema", "desk.joao", "desk.mei")
ADMIN = "admin"
PASSPHRASE = "synthetic clinic passphrase"  # every bench user's; the vault holds no real data

Execute = Callable[[datetime, Actor, c.Command], Changes]


@dataclass(frozen=True)
class Params:
    patients: int
    seed: int = 20261121
    heavy_patients: int | None = None  # default: one per thousand patients, at least one
    heavy_events: int = 1100  # events each heavy patient reaches (about)
    days: int = 1095
    mean_visits: float = 12.0

    @property
    def heavy(self) -> int:
        if self.heavy_patients is not None:
            return min(self.heavy_patients, self.patients)
        return min(self.patients, max(1, self.patients // 1000))

    @property
    def end(self) -> datetime:
        """The simulated 'now' once the history is written (the morning after the last day)."""
        return START + timedelta(days=self.days + 1)

    def key(self) -> str:
        data = {**asdict(self), "heavy_patients": self.heavy, "version": GENERATOR_VERSION}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# -- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    """How the appointment for a visit came about (booked at the end of the previous visit)."""

    kind: str  # attend | reschedule | cancel | noshow
    booked_at: datetime  # the slot first booked (UTC)
    clinician: str  # whose slot
    call_at: datetime | None = None  # the phone call that moves or cancels it / the no-show mark


@dataclass(frozen=True)
class Visit:
    at: datetime  # slot start (UTC)
    clinician: str
    booking: Booking | None = None


@dataclass
class PatientPlan:
    index: int
    heavy: bool
    given: str
    family: str
    birth_date: str
    sex: str
    phone: str | None
    address: str | None
    identifiers: tuple[c.Identifier, ...]
    chronic: tuple[str, ...]
    visits: list[Visit] = field(default_factory=list)


@dataclass
class ClinicPlan:
    params: Params
    patients: list[PatientPlan]

    def episodes(self) -> list[tuple[datetime, int, int, str]]:
        """(start, patient, visit, kind) for every visit and phone call, in time order."""
        out = []
        for p in self.patients:
            for k, v in enumerate(p.visits):
                out.append((visit_start(v, k), p.index, k, "visit"))
                if v.booking is not None and v.booking.call_at is not None:
                    out.append((v.booking.call_at, p.index, k, "call"))
        out.sort()
        return out


def visit_start(v: Visit, k: int) -> datetime:
    """The front desk registers a new patient ten minutes before the slot."""
    return v.at - timedelta(minutes=10 if k == 0 else 2)


class _Slots:
    """Appointment slots handed out once each, so bookings never clash."""

    def __init__(self) -> None:
        self._taken: dict[tuple[int, int], set[int]] = {}

    def take(self, rng: random.Random, day: int, clinician: int | None = None) -> Visit:
        who = rng.randrange(len(CLINICIANS)) if clinician is None else clinician
        while True:
            taken = self._taken.setdefault((who, day), set())
            if len(taken) < DAY_SLOTS:
                index = rng.randrange(DAY_SLOTS)
                while index in taken:
                    index = (index + 1) % DAY_SLOTS
                taken.add(index)
                local = datetime.combine(
                    START.date() + timedelta(days=day), datetime.min.time(), LOCAL
                ) + timedelta(hours=OPENS_AT, minutes=SLOT_MINUTES * index)
                return Visit(local.astimezone(UTC), CLINICIANS[who])
            day += 1


def _rng(params: Params, index: int, purpose: str) -> random.Random:
    digest = hashlib.sha256(f"{params.seed}|{index}|{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _demographics(rng: random.Random, index: int, today: date) -> dict[str, Any]:
    culture = corpus.CULTURES[rng.choice(sorted(corpus.CULTURES))]
    sex = rng.choices(("female", "male", "other", "unknown"), (50, 48, 1, 1))[0]
    given_pool = culture[1] if sex == "male" else culture[0]
    given = rng.choice(given_pool)
    if rng.random() < 0.08:  # a second given name
        given = f"{given} {rng.choice(given_pool)}"
    family = rng.choice(culture[2])
    age_days = int(rng.triangular(0, 95 * 365, 30 * 365))
    birth = today - timedelta(days=age_days)
    phone = None
    if rng.random() < 0.85:
        phone = f"+255 7{rng.randrange(10, 80)} {rng.randrange(100, 999)} {rng.randrange(100, 999)}"
    address = None
    if rng.random() < 0.9:
        street = rng.choice(corpus.STREETS)
        address = f"{street} {rng.randrange(1, 400)}, {rng.choice(corpus.PLACES)}"
    identifiers = [c.Identifier("urn:fieldchart:mrn", f"MRN-{index + 1:07d}")]
    if rng.random() < 0.4:
        nida = (
            f"{birth:%Y%m%d}-{rng.randrange(10000, 99999)}-{rng.randrange(10000, 99999)}-"
            f"{rng.randrange(10, 99)}"
        )
        identifiers.append(c.Identifier("urn:tz:nida", nida))
    return {
        "given": given,
        "family": family,
        "birth_date": birth.isoformat(),
        "sex": sex,
        "phone": phone,
        "address": address,
        "identifiers": tuple(identifiers),
    }


def plan_clinic(params: Params) -> ClinicPlan:
    """Who is registered when, and when each visit happens (with its booking history)."""
    slots = _Slots()
    heavy = set(_rng(params, -1, "heavy").sample(range(params.patients), params.heavy))
    last_day = params.days - 1
    patients = []
    for index in range(params.patients):
        rng = _rng(params, index, "plan")
        is_heavy = index in heavy
        demo = _demographics(rng, index, START.date())
        chronic: tuple[str, ...] = ()
        if is_heavy or rng.random() < 0.3:
            chronic = tuple(sorted(rng.sample(corpus.CHRONIC_CODES, 2 if is_heavy else 1)))
        plan = PatientPlan(index=index, heavy=is_heavy, chronic=chronic, **demo)
        if is_heavy:
            # chronic, seen about weekly with several readings: ~10 events a visit
            wanted = params.heavy_events // 10 + 8
            day = rng.randrange(0, 7)
            mean_gap = max((last_day - day) / wanted, 1.0)
        else:
            wanted = 1 + int(rng.expovariate(1 / max(params.mean_visits - 1, 0.01)))
            day = rng.randrange(0, max(int(params.days * 0.85), 1))
        plan.visits.append(slots.take(rng, day))
        while len(plan.visits) < wanted:
            if is_heavy:
                gap = max(1, round(rng.uniform(0.6, 1.4) * mean_gap))
            else:
                gap = rng.choice((7, 14, 14, 21, 30, 30, 45, 60, 90, 120)) + rng.randint(-2, 3)
            if day + gap > last_day:
                break
            previous, day = plan.visits[-1], day + gap
            booked = rng.random() < (0.8 if is_heavy else 0.45)
            kind = rng.choices(("attend", "reschedule", "cancel", "noshow"), (78, 10, 6, 6))[0]
            if not booked:
                plan.visits.append(slots.take(rng, day))
            elif kind == "attend" or gap < 3:
                v = slots.take(rng, day)
                plan.visits.append(Visit(v.at, v.clinician, Booking("attend", v.at, v.clinician)))
            else:
                first = slots.take(rng, day - rng.randint(1, gap - 1))
                who = CLINICIANS.index(first.clinician)
                # a moved appointment keeps its clinician; a cancelled or missed one is
                # followed by a walk-in visit with anyone
                v = slots.take(rng, day, who if kind == "reschedule" else None)
                if kind == "noshow":
                    call = first.at + timedelta(minutes=rng.randint(60, 240))
                else:
                    after = previous.at + timedelta(hours=4)
                    latest = min(first.at, v.at) - timedelta(hours=3)
                    span = max((latest - after).total_seconds(), 60.0)
                    call = after + timedelta(seconds=rng.randint(0, int(span)))
                booking = Booking(kind, first.at, first.clinician, call)
                plan.visits.append(Visit(v.at, v.clinician, booking))
        patients.append(plan)
    return ClinicPlan(params, patients)


# -- running the plan -----------------------------------------------------------------------


@dataclass
class _State:
    """What the generator remembers of one patient's chart (ids come back in Changes)."""

    patient_id: str = ""
    phone: str | None = None
    address: str | None = None
    active_dx: list[tuple[str, str | None]] = field(default_factory=list)  # (id, code)
    allergies: list[tuple[str, str]] = field(default_factory=list)  # (id, substance id) active
    meds: list[str] = field(default_factory=list)  # active prescription ids
    booked: dict[int, str] = field(default_factory=dict)  # visit index -> appointment id


Step = tuple[datetime, Actor, c.Command]
Episode = Generator[Step, Changes, None]


@dataclass
class Stats:
    commands: int = 0
    events: int = 0
    by_command: dict[str, int] = field(default_factory=dict)
    by_event: dict[str, int] = field(default_factory=dict)
    overrides: int = 0
    heavy_patient_ids: list[str] = field(default_factory=list)

    def count(self, command: c.Command, changes: Changes) -> None:
        self.commands += 1
        self.events += len(changes.events)
        name = type(command).__name__
        self.by_command[name] = self.by_command.get(name, 0) + 1
        for e in changes.events:
            self.by_event[e] = self.by_event.get(e, 0) + 1
        if isinstance(command, c.PrescribeMedication) and command.override_reason:
            self.overrides += 1


class _Clinic:
    """Runs the episodes of one plan."""

    def __init__(self, plan: ClinicPlan, catalog: Catalog) -> None:
        self.plan = plan
        self.catalog = catalog
        self.states = [_State() for _ in plan.patients]
        self.rngs = [_rng(plan.params, p.index, "run") for p in plan.patients]
        # Which point-of-care tests a visit has is drawn from a stream of its own.
        self.test_rngs = [_rng(plan.params, p.index, "poc-tests") for p in plan.patients]
        # Immunizations too (tests/bench/immunization_history.py): children's cards and doses.
        self.vaccine_rngs = [_rng(plan.params, p.index, "immunizations") for p in plan.patients]
        self.immunizations = ImmunizationHistories(catalog)
        self.icd = sorted(catalog.icd10)
        self.medicines = [m for m in catalog.medicines.values() if not m.component_only]
        self.substances = list(catalog.substances.values())
        self.drug_allergies = [s for s in self.substances if s.category == "medication"]
        # substance id -> medicines an allergy to it rules out (in catalog order), by the
        # domain's own rule (ingredients, classes and names)
        self.clashing: dict[str, list[str]] = {
            s.id: [m.id for m in self.medicines if self._clash(m.id, s.id)] for s in self.substances
        }

    def _clash(self, drug_id: str, substance_id: str) -> bool:
        sub = self.catalog.substances[substance_id]
        allergy = {"substance": sub.name, "substance_id": sub.id}
        drug = resolve_drug(self.catalog, drug_id)
        return allergy_verdict(self.catalog, drug, drug_id, allergy) == CLASH

    def clashes(self, state: _State, drug_id: str) -> bool:
        return any(drug_id in self.clashing[s] for _, s in state.allergies)

    # -- episodes ----------------------------------------------------------------------

    def visit(self, p: PatientPlan, k: int) -> Episode:
        v = p.visits[k]
        st, rng = self.states[p.index], self.rngs[p.index]
        doc = Actor(v.clinician, Role.CLINICIAN)
        desk = Actor(DESK[(p.index + k) % len(DESK)], Role.STAFF)
        t = visit_start(v, k)

        def tick(lo: int = 40, hi: int = 150) -> datetime:
            nonlocal t
            t += timedelta(seconds=rng.randint(lo, hi))
            return t

        if k == 0:
            ch = yield (
                t,
                desk,
                c.RegisterPatient(
                    given=p.given,
                    family=p.family,
                    birth_date=p.birth_date,
                    sex=p.sex,
                    phone=p.phone,
                    address=p.address,
                    identifiers=p.identifiers,
                ),
            )
            st.patient_id, st.phone, st.address = ch.patient_id, p.phone, p.address
            t = v.at - timedelta(minutes=2)
        pid = st.patient_id
        appointment = st.booked.pop(k, None)
        if v.booking is not None and v.booking.kind in ("attend", "reschedule"):
            assert appointment is not None
            yield t, desk, c.MarkAttended(patient_id=pid, appointment_id=appointment)
        if rng.random() < 0.03:
            new_phone = (
                f"+255 6{rng.randrange(10, 99)} {rng.randrange(100, 999)} {rng.randrange(100, 999)}"
            )
            yield (
                tick(),
                desk,
                c.UpdateDemographics(
                    patient_id=pid, changes={"phone": c.FieldChange(new_phone, st.phone)}
                ),
            )
            st.phone = new_phone
        t = max(t, v.at)
        ch = yield (
            t,
            doc,
            c.StartEncounter(patient_id=pid, reason=rng.choice(corpus.ENCOUNTER_REASONS)),
        )
        encounter = ch.item_ids[0]
        readings = rng.randint(3, 5) if p.heavy else 1
        for _ in range(readings):
            ch = yield tick(120, 300), doc, self._vitals(p, pid, encounter, rng)
            if rng.random() < 0.02:
                yield (
                    tick(),
                    doc,
                    c.MarkEnteredInError(
                        patient_id=pid,
                        item_id=ch.item_ids[0],
                        reason=rng.choice(corpus.ERROR_REASONS),
                    ),
                )
                yield tick(), doc, self._vitals(p, pid, encounter, rng)
        yield from self._diagnoses(p, k, st, rng, doc, encounter, tick)
        yield from self._allergies(k, st, rng, doc, tick)
        yield from self._prescriptions(p, st, rng, doc, encounter, tick)
        for command in self._test_results(p, pid, encounter):
            yield tick(60, 240), doc, command
        birth, day, vrng = (
            date.fromisoformat(p.birth_date),
            t.astimezone(LOCAL).date(),
            self.vaccine_rngs[p.index],
        )
        if k == 0:
            for command in self.immunizations.card(p.index, pid, birth, day, vrng):
                yield tick(30, 90), desk, command
        for command in self.immunizations.due_today(
            p.index, pid, birth, p.sex, day, encounter, vrng
        ):
            yield tick(60, 180), doc, command
        for _ in range(2 if p.heavy else 1):
            if rng.random() < 0.75:
                sentences = rng.sample(corpus.NOTE_SENTENCES, rng.randint(2, 5))
                yield (
                    tick(60, 400),
                    doc,
                    c.AddNote(patient_id=pid, text=" ".join(sentences), encounter_id=encounter),
                )
        yield tick(), doc, c.FinishEncounter(patient_id=pid, encounter_id=encounter)
        if k + 1 < len(p.visits) and p.visits[k + 1].booking is not None:
            nxt = p.visits[k + 1]
            booking = nxt.booking
            assert booking is not None
            ch = yield (
                tick(),
                desk,
                c.ScheduleFollowUp(
                    patient_id=pid,
                    clinician=booking.clinician,
                    start=booking.booked_at.astimezone(LOCAL).isoformat(timespec="seconds"),
                    duration_minutes=SLOT_MINUTES,
                    reason="Follow-up",
                ),
            )
            st.booked[k + 1] = ch.item_ids[0]

    def _test_results(self, p: PatientPlan, pid: str, encounter: str) -> list[c.Command]:
        """Bedside tests of one visit, at rural primary-care rates: a malaria RDT for a
        quarter of visits (about a third positive), haemoglobin for one in ten (more often for
        women), glucose at every visit of a diabetic and a few others, now and then a urine
        dipstick."""
        rng = self.test_rngs[p.index]
        found: list[c.Command] = []

        def result(test: str, **value: Any) -> None:
            found.append(
                c.RecordTestResult(patient_id=pid, test=test, encounter_id=encounter, **value)
            )

        if rng.random() < 0.25:
            result("malaria_rdt_pf", result="positive" if rng.random() < 0.3 else "negative")
        if rng.random() < (0.15 if p.sex == "female" else 0.06):
            result("haemoglobin", value=round(min(18.0, max(4.0, rng.gauss(11.8, 1.8))), 1))
        diabetic = any(code.startswith("E11") for code in p.chronic)
        if diabetic or rng.random() < 0.05:
            mean, spread = (9.5, 3.0) if diabetic else (5.8, 1.2)
            glucose = min(30.0, max(2.5, rng.gauss(mean, spread)))
            result("glucose_capillary", value=round(glucose, 1))
        if rng.random() < 0.05:
            grade = rng.choices(("negative", "trace", "1+", "2+"), (70, 15, 10, 5))[0]
            result("urine_protein", result=grade)
        return found

    def call(self, p: PatientPlan, k: int) -> Episode:
        """Between visits: the booked follow-up is moved, cancelled or missed."""
        v = p.visits[k]
        booking = v.booking
        st, rng = self.states[p.index], self.rngs[p.index]
        assert booking is not None and booking.call_at is not None
        appointment = st.booked[k] if booking.kind == "reschedule" else st.booked.pop(k)
        desk = Actor(DESK[(p.index + k + 1) % len(DESK)], Role.STAFF)
        pid = st.patient_id
        if booking.kind == "reschedule":
            yield (
                booking.call_at,
                desk,
                c.RescheduleAppointment(
                    patient_id=pid,
                    appointment_id=appointment,
                    start=v.at.astimezone(LOCAL).isoformat(timespec="seconds"),
                    expected_start=booking.booked_at.astimezone(LOCAL).isoformat(
                        timespec="seconds"
                    ),
                ),
            )
        elif booking.kind == "cancel":
            yield (
                booking.call_at,
                desk,
                c.CancelAppointment(
                    patient_id=pid,
                    appointment_id=appointment,
                    reason=rng.choice(corpus.CANCEL_REASONS),
                ),
            )
        else:
            yield booking.call_at, desk, c.MarkNoShow(patient_id=pid, appointment_id=appointment)

    # -- parts of a visit ----------------------------------------------------------------

    def _vitals(
        self, p: PatientPlan, pid: str, encounter: str, rng: random.Random
    ) -> c.RecordVitals:
        age = (START.date() - date.fromisoformat(p.birth_date)).days / 365.25
        hypertensive = "I10" in p.chronic
        values: dict[str, float] = {}
        if age >= 3 or rng.random() < 0.1:
            sys_ = rng.gauss(150 if hypertensive else 122, 14)
            sys_ = min(max(round(sys_), 85), 230)
            dia = min(max(round(sys_ * rng.uniform(0.55, 0.72)), 45), sys_ - 10)
            values["systolic"], values["diastolic"] = sys_, dia
        values["heart_rate"] = round(rng.gauss(110 if age < 5 else 78, 12))
        if rng.random() < 0.7:
            values["temperature"] = round(rng.gauss(36.9, 0.6), 1)
        if rng.random() < 0.6:
            values["spo2"] = min(100, round(rng.gauss(97, 1.8)))
        if rng.random() < 0.4:
            values["respiratory_rate"] = round(rng.gauss(30 if age < 5 else 16, 3))
        if rng.random() < 0.6:
            adult = min(age / 18, 1.0)
            values["weight"] = round(max(3.0 + adult * 62 + rng.gauss(0, 8 * adult + 1), 2.5), 1)
            if rng.random() < 0.5:
                values["height"] = round(max(50 + adult * 118 + rng.gauss(0, 7), 45), 1)
        return c.RecordVitals(patient_id=pid, encounter_id=encounter, **values)  # type: ignore[arg-type]

    def _diagnoses(self, p, k, st, rng, doc, encounter, tick):
        pid = st.patient_id
        if k == 0:
            for code in p.chronic:
                ch = yield (
                    tick(),
                    doc,
                    c.RecordDiagnosis(patient_id=pid, code=code, encounter_id=encounter),
                )
                st.active_dx.append((ch.item_ids[0], code))
        acute = [d for d in st.active_dx if d[1] not in p.chronic]
        if acute and rng.random() < 0.5:
            dx_id, _ = rng.choice(acute)
            yield tick(), doc, c.ResolveDiagnosis(patient_id=pid, diagnosis_id=dx_id)
            st.active_dx.remove(next(d for d in st.active_dx if d[0] == dx_id))
        if rng.random() < 0.45:
            if rng.random() < 0.06:
                cmd = c.RecordDiagnosis(
                    patient_id=pid,
                    text="Suspected malaria, rapid test pending",
                    encounter_id=encounter,
                )
            else:
                cmd = c.RecordDiagnosis(
                    patient_id=pid, code=rng.choice(self.icd), encounter_id=encounter
                )
            ch = yield tick(), doc, cmd
            st.active_dx.append((ch.item_ids[0], cmd.code))

    def _allergies(self, k, st, rng, doc, tick):
        pid = st.patient_id
        chance = 0.12 if k == 0 else 0.01
        if rng.random() < chance:
            pool = self.drug_allergies if rng.random() < 0.7 else self.substances
            sub = rng.choice(pool)
            if all(s != sub.id for _, s in st.allergies):
                ch = yield (
                    tick(),
                    doc,
                    c.RecordAllergy(
                        patient_id=pid,
                        substance=sub.name,
                        reaction=rng.choice(corpus.REACTIONS),
                        severity=rng.choice(("mild", "moderate", "severe", None)),
                        criticality=rng.choice(("low", "high", "unable-to-assess")),
                    ),
                )
                st.allergies.append((ch.item_ids[0], sub.id))
        if st.allergies and rng.random() < 0.015:
            allergy_id, sub_id = rng.choice(st.allergies)
            yield (
                tick(),
                doc,
                c.UpdateAllergyStatus(
                    patient_id=pid,
                    allergy_id=allergy_id,
                    status="inactive",
                    expected_status="active",
                ),
            )
            st.allergies.remove((allergy_id, sub_id))

    def _prescriptions(self, p, st, rng, doc, encounter, tick):
        pid = st.patient_id
        if st.meds and rng.random() < 0.12:
            rx = rng.choice(st.meds)
            yield (
                tick(),
                doc,
                c.DiscontinueMedication(
                    patient_id=pid,
                    prescription_id=rx,
                    reason=rng.choice(corpus.DISCONTINUE_REASONS),
                ),
            )
            st.meds.remove(rx)
        if rng.random() >= (0.7 if p.heavy else 0.5):
            return
        override = None
        clashing = [m for _, s in st.allergies for m in self.clashing[s]]
        if clashing and rng.random() < 0.2:
            drug = rng.choice(clashing)
            override = rng.choice(corpus.OVERRIDE_REASONS)
        else:
            for _ in range(20):
                drug = rng.choice(self.medicines).id
                if not self.clashes(st, drug):
                    break
            else:
                return
        med = self.catalog.medicines[drug]
        dose, unit = rng.choice(corpus.DOSES)
        ch = yield (
            tick(),
            doc,
            c.PrescribeMedication(
                patient_id=pid,
                drug=drug,
                dose=dose,
                dose_unit=unit,
                route=med.routes[0] if med.routes else "oral",
                frequency=rng.choice(corpus.FREQUENCIES),
                duration_days=rng.choice((3, 5, 7, 14, 30, 90, None)),
                encounter_id=encounter,
                override_reason=override,
            ),
        )
        st.meds.append(ch.item_ids[0])


def drive(
    plan: ClinicPlan,
    catalog: Catalog,
    execute: Execute,
    progress: Callable[[Stats], None] | None = None,
    every: int = 10_000,
) -> Stats:
    """Feed the plan's commands to `execute` in time order (visits interleave as in a real
    clinic day); return what was recorded."""
    clinic = _Clinic(plan, catalog)
    stats = Stats()
    pending = plan.episodes()
    heap: list[tuple[datetime, int, Episode, Actor, c.Command]] = []
    seq = 0
    i = 0
    while i < len(pending) or heap:
        while i < len(pending) and (not heap or pending[i][0] <= heap[0][0]):
            _, index, k, kind = pending[i]
            i += 1
            patient = plan.patients[index]
            episode = clinic.visit(patient, k) if kind == "visit" else clinic.call(patient, k)
            try:
                at, actor, command = next(episode)
            except StopIteration:
                continue
            heapq.heappush(heap, (at, seq, episode, actor, command))
            seq += 1
        at, _, episode, actor, command = heapq.heappop(heap)
        changes = execute(at, actor, command)
        stats.count(command, changes)
        if progress is not None and stats.commands % every == 0:
            progress(stats)
        try:
            at, actor, command = episode.send(changes)
        except StopIteration:
            continue
        heapq.heappush(heap, (at, seq, episode, actor, command))
        seq += 1
    stats.heavy_patient_ids = [clinic.states[p.index].patient_id for p in plan.patients if p.heavy]
    return stats


def id_sequence(seed: int) -> Callable[[], str]:
    """Deterministic UUIDs for command, patient and item ids."""
    rng = random.Random(seed ^ 0x5EED)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    return new_id


class SimClock:
    """The clock the services read; the driver sets it to each command's time."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def iter_names(plan: ClinicPlan) -> Iterator[tuple[str, str]]:
    for p in plan.patients:
        yield p.given, p.family
