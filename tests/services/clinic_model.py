"""A small model of a clinic, used to generate commands that must be accepted.

The model knows who is registered, which items exist and their status, which allergies are
active and which (clinician, slot) pairs are booked; each `Action` draws one valid command for
the current state and updates the model as the real clinic will be updated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from app.domain import commands as c
from app.domain.roles import Actor
from tests.clinic_fixtures import DESK, DOC, FakeClock, prescription

OFFSETS = (0, 3, -5)  # hours east of UTC: clinical times are written in several offsets
# Slots 30 minutes apart (15-minute bookings never overlap across slots); some written in +03:00.
# The 2026-11-20 ones have passed (no-show possible) but are within a day (still bookable).
SLOTS = (
    "2026-11-20T10:00:00Z",
    "2026-11-20T13:30:00+03:00",
    "2026-11-23T12:00:00+03:00",
    "2026-11-23T09:30:00Z",
    "2026-11-23T13:00:00+03:00",
)
PAST_SLOTS = frozenset(SLOTS[:2])
CLINICIANS = ("doc", "nurse")
SUBSTANCES = ("Penicillins", "Sulfonamide antibiotics", "peanut", "Chloroquine")
DRUGS = ("amoxicillin", "paracetamol", "cotrimoxazole", "Chloroquine", "Ibuprofen")
CATALOG_DRUGS = frozenset({"amoxicillin", "paracetamol", "cotrimoxazole", "Ibuprofen"})
# Which recorded allergy rules out which drug, by the test catalog's names and classes.
RULES_OUT = {
    "Penicillins": {"amoxicillin"},
    "Sulfonamide antibiotics": {"cotrimoxazole"},
    "Chloroquine": {"Chloroquine"},
}
DEMOGRAPHIC_VALUES: dict[str, tuple[str | None, ...]] = {
    "given": ("Amina", "Zawadi", "Kari"),
    "family": ("Ødegård", "Mwakyusa", "García"),
    "birth_date": ("1980-04-23", "1992-12-01", "2020-02-29"),
    "sex": ("female", "male", "other", "unknown"),
    "phone": (None, "+255 754 123 456", "0766 000 111"),
    "address": (None, "Plot 7, Mbeya", "Box 12, Iringa"),
}
MAX_PATIENTS = 3


@dataclass
class PatientModel:
    demographics: dict[str, str | None]
    kinds: dict[str, str] = field(default_factory=dict)  # item id -> kind
    status: dict[str, str] = field(default_factory=dict)  # item id -> current status
    in_error: set[str] = field(default_factory=set)
    allergies: dict[str, str] = field(default_factory=dict)  # item id -> substance
    appointments: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> (clinician, slot)

    def live(self, kind: str, status: str | None = None) -> list[str]:
        """Items of `kind` not entered in error (optionally only those with `status`)."""
        return [
            i
            for i, k in self.kinds.items()
            if k == kind and i not in self.in_error and status in (None, self.status[i])
        ]

    def add(self, kind: str, item: str, status: str) -> str:
        self.kinds[item], self.status[item] = kind, status
        return item

    def active_substances(self) -> set[str]:
        return {self.allergies[a] for a in self.live("allergy", "active")}


@dataclass
class ClinicModel:
    clock: FakeClock
    patients: dict[str, PatientModel] = field(default_factory=dict)
    taken: set[tuple[str, str]] = field(default_factory=set)  # booked (clinician, slot)
    counter: int = 0

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def free_slots(self, clinician: str | None = None) -> list[tuple[str, str]]:
        return [
            (cl, s)
            for cl in CLINICIANS
            for s in SLOTS
            if (cl, s) not in self.taken and clinician in (None, cl)
        ]


@dataclass
class Step:
    command: c.Command
    actor: Actor
    at: datetime | None = None  # the clock's instant when it ran


Draw = st.DataObject
Action = Callable[[Draw, ClinicModel, str, PatientModel], Step]
Applicable = Callable[[ClinicModel, PatientModel], bool]


def front_desk(data: Draw) -> Actor:
    return data.draw(st.sampled_from((DOC, DESK)))


def past_time(data: Draw, model: ClinicModel) -> str | None:
    """None (= now) or up to ten hours ago, written in one of several UTC offsets."""
    minutes = data.draw(st.none() | st.integers(0, 600))
    if minutes is None:
        return None
    zone = timezone(timedelta(hours=data.draw(st.sampled_from(OFFSETS))))
    return (model.clock() - timedelta(minutes=minutes)).astimezone(zone).isoformat()


def register(data: Draw, model: ClinicModel) -> Step:
    pid = model.new_id("pat")
    demographics = {k: data.draw(st.sampled_from(v)) for k, v in DEMOGRAPHIC_VALUES.items()}
    model.patients[pid] = PatientModel(demographics)
    ident = c.Identifier("urn:fieldchart:mrn", f"MRN-{pid}")
    command = c.RegisterPatient(patient_id=pid, identifiers=(ident,), **demographics)  # type: ignore[arg-type]
    return Step(command, front_desk(data))


def vitals(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    values = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                "heart_rate": st.integers(20, 300),
                "respiratory_rate": st.integers(4, 80),
                "temperature": st.floats(25, 45).map(lambda x: round(x, 1)),
                "spo2": st.integers(50, 100),
                "weight": st.floats(0.2, 500).map(lambda x: round(x, 1)),
                "height": st.integers(20, 272),
            },
        )
    )
    if not values or data.draw(st.booleans()):
        systolic = data.draw(st.integers(41, 300))
        values |= {
            "systolic": systolic,
            # a plausible pair (app/domain/vitals_rules.py): pulse pressure 10-150, and
            # under a systolic of 120 a diastolic above a quarter of it
            "diastolic": data.draw(
                st.integers(
                    max(20, systolic - 150, systolic // 4 + 1 if systolic < 120 else 0),
                    min(systolic - 10, 200),
                )
            ),
        }
    encounters = p.live("encounter")
    encounter = data.draw(st.none() | st.sampled_from(encounters)) if encounters else None
    item = p.add("vitals", model.new_id("vitals"), "final")
    command = c.RecordVitals(
        patient_id=pid,
        vitals_id=item,
        taken_at=past_time(data, model),
        encounter_id=encounter,
        **values,  # type: ignore[arg-type]
    )
    return Step(command, DOC)


def diagnosis(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    code = data.draw(st.sampled_from((None, "I10", "E11.9", "j06.9")))
    text = data.draw(st.sampled_from(("Malaria, clinical", None))) if code else "Malaria"
    item = p.add("diagnosis", model.new_id("dx"), "active")
    command = c.RecordDiagnosis(
        patient_id=pid, diagnosis_id=item, code=code, text=text, onset=past_time(data, model)
    )
    return Step(command, DOC)


def resolve(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    item = data.draw(st.sampled_from(p.live("diagnosis", "active")))
    p.status[item] = "resolved"
    return Step(c.ResolveDiagnosis(patient_id=pid, diagnosis_id=item), DOC)


def allergy(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    substance = data.draw(
        st.sampled_from([s for s in SUBSTANCES if s not in p.active_substances()])
    )
    item = p.add("allergy", model.new_id("allergy"), "active")
    p.allergies[item] = substance
    severity = data.draw(st.sampled_from((None, "mild", "severe")))
    command = c.RecordAllergy(
        patient_id=pid, allergy_id=item, substance=substance, severity=severity
    )
    return Step(command, DOC)


def allergy_status(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    item = data.draw(st.sampled_from(p.live("allergy")))
    choices = ["inactive", "resolved", "active"]
    if p.allergies[item] in p.active_substances():  # no two active allergies to one substance
        choices.remove("active")
    new = data.draw(st.sampled_from([s for s in choices if s != p.status[item]]))
    old, p.status[item] = p.status[item], new
    command = c.UpdateAllergyStatus(
        patient_id=pid, allergy_id=item, status=new, expected_status=old
    )
    return Step(command, DOC)


def prescribe(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    drug = data.draw(st.sampled_from(DRUGS))
    clash = any(drug in RULES_OUT.get(s, ()) for s in p.active_substances())
    item = p.add("medication", model.new_id("rx"), "active")
    command = prescription(
        pid,
        drug,
        prescription_id=item,
        dose=data.draw(st.sampled_from((250, 500, 1000))),
        route=data.draw(st.sampled_from(("oral", "intravenous"))),
        duration_days=data.draw(st.none() | st.integers(1, 30)),
        override_reason="no alternative available" if clash else None,
        # Chloroquine is not in the test catalog: prescribing it needs this confirmation.
        unchecked_acknowledged=drug not in CATALOG_DRUGS,
    )
    return Step(command, DOC)


def discontinue(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    item = data.draw(st.sampled_from(p.live("medication", "active")))
    p.status[item] = "stopped"
    return Step(c.DiscontinueMedication(patient_id=pid, prescription_id=item, reason="done"), DOC)


def note(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    text = data.draw(st.text(st.characters(categories=("L", "N", "Zs")), max_size=40)).strip()
    item = p.add("note", model.new_id("note"), "current")
    return Step(c.AddNote(patient_id=pid, note_id=item, text=text or "seen"), DOC)


def start_encounter(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    item = p.add("encounter", model.new_id("enc"), "in-progress")
    return Step(c.StartEncounter(patient_id=pid, encounter_id=item, reason="review"), DOC)


def finish_encounter(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    item = data.draw(st.sampled_from(p.live("encounter", "in-progress")))
    p.status[item] = "finished"
    return Step(c.FinishEncounter(patient_id=pid, encounter_id=item), DOC)


def schedule(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    clinician, slot = data.draw(st.sampled_from(model.free_slots()))
    model.taken.add((clinician, slot))
    item = p.add("appointment", model.new_id("appt"), "booked")
    p.appointments[item] = (clinician, slot)
    command = c.ScheduleFollowUp(
        patient_id=pid, appointment_id=item, clinician=clinician, start=slot
    )
    return Step(command, front_desk(data))


def reschedule(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    movable = [a for a in p.live("appointment", "booked") if model.free_slots(p.appointments[a][0])]
    item = data.draw(st.sampled_from(movable))
    clinician, slot = p.appointments[item]
    _, new = data.draw(st.sampled_from(model.free_slots(clinician)))
    model.taken.discard((clinician, slot))
    model.taken.add((clinician, new))
    p.appointments[item] = (clinician, new)
    command = c.RescheduleAppointment(
        patient_id=pid, appointment_id=item, start=new, expected_start=slot
    )
    return Step(command, front_desk(data))


def close_appointment(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    booked = p.live("appointment", "booked")
    # Past slots may be marked missed or attended; later ones only cancelled (attended is
    # refused before the appointment's own day, a no-show before its start).
    past = [a for a in booked if p.appointments[a][1] in PAST_SLOTS]
    how = data.draw(st.sampled_from(["cancelled"] + (["fulfilled", "noshow"] if past else [])))
    item = data.draw(st.sampled_from(booked if how == "cancelled" else past))
    command_type = {
        "cancelled": c.CancelAppointment,
        "fulfilled": c.MarkAttended,
        "noshow": c.MarkNoShow,
    }[how]
    p.status[item] = how
    model.taken.discard(p.appointments[item])
    return Step(command_type(patient_id=pid, appointment_id=item), front_desk(data))


def demographics(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    names = data.draw(
        st.lists(st.sampled_from(sorted(DEMOGRAPHIC_VALUES)), min_size=1, max_size=3, unique=True)
    )
    changes = {}
    for name in names:
        new = data.draw(
            st.sampled_from([v for v in DEMOGRAPHIC_VALUES[name] if v != p.demographics[name]])
        )
        changes[name] = c.FieldChange(new=new, expected=p.demographics[name])
        p.demographics[name] = new
    return Step(c.UpdateDemographics(patient_id=pid, changes=changes), front_desk(data))


def entered_in_error(data: Draw, model: ClinicModel, pid: str, p: PatientModel) -> Step:
    item = data.draw(st.sampled_from(sorted(i for i in p.kinds if i not in p.in_error)))
    p.in_error.add(item)
    is_appointment = p.kinds[item] == "appointment"
    if is_appointment and p.status[item] == "booked":
        model.taken.discard(p.appointments[item])
    actor = front_desk(data) if is_appointment else DOC
    return Step(
        c.MarkEnteredInError(patient_id=pid, item_id=item, reason="entered in error"), actor
    )


# Each action with the condition under which the model can build a valid command for it.
ACTIONS: dict[str, tuple[Action, Applicable]] = {
    "vitals": (vitals, lambda m, p: True),
    "diagnosis": (diagnosis, lambda m, p: True),
    "resolve": (resolve, lambda m, p: bool(p.live("diagnosis", "active"))),
    "allergy": (allergy, lambda m, p: len(p.active_substances()) < len(SUBSTANCES)),
    "allergy_status": (allergy_status, lambda m, p: bool(p.live("allergy"))),
    "prescribe": (prescribe, lambda m, p: True),
    "discontinue": (discontinue, lambda m, p: bool(p.live("medication", "active"))),
    "note": (note, lambda m, p: True),
    "start_encounter": (start_encounter, lambda m, p: True),
    "finish_encounter": (finish_encounter, lambda m, p: bool(p.live("encounter", "in-progress"))),
    "schedule": (schedule, lambda m, p: bool(m.free_slots())),
    "reschedule": (
        reschedule,
        lambda m, p: any(
            m.free_slots(p.appointments[a][0]) for a in p.live("appointment", "booked")
        ),
    ),
    "close_appointment": (close_appointment, lambda m, p: bool(p.live("appointment", "booked"))),
    "demographics": (demographics, lambda m, p: True),
    "entered_in_error": (entered_in_error, lambda m, p: any(i not in p.in_error for i in p.kinds)),
}


def next_step(data: Draw, model: ClinicModel) -> Step:
    """Draw one command that the model says must be accepted, and update the model."""
    if not model.patients or (len(model.patients) < MAX_PATIENTS and data.draw(st.booleans())):
        return register(data, model)
    pid = data.draw(st.sampled_from(sorted(model.patients)))
    patient = model.patients[pid]
    possible = sorted(name for name, (_, ok) in ACTIONS.items() if ok(model, patient))
    action, _ = ACTIONS[data.draw(st.sampled_from(possible), label="action")]
    return action(data, model, pid, patient)
