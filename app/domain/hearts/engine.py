"""The next step of the hypertension protocol for one chart: a Suggestion, never an action.

Order of the rules (docs/clinical/hypertension-protocol.md explains each):
1. no active hypertension diagnosis, or no blood pressure recorded: nothing to suggest;
2. very high blood pressure (>= 180 or >= 110): see today, refer urgently if organ damage
   (before anything else: it does not wait for a prescription review);
3. drug classes the protocol never combines (ACE inhibitor + ARB) taken together: review;
4. the child-bearing-age rule broken by a current prescription: review and refer;
5. at target (< 140 and < 90): continue, follow up in 3 months;
6. above target: the first protocol step the current prescriptions do not yet meet, given
   as start / increase / add with its drug and dose (an allergy or the child-bearing rule
   moves to the component's alternative, or past the component); after the last: refer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from app.domain.chart import PatientChart
from app.domain.hearts import regimen
from app.domain.hearts.decline import active_decline
from app.domain.hearts.protocol import Component, DrugOption, Protocol, Step
from app.domain.reference import Catalog
from app.domain.wording import N_, Text, as_text, joined, t

START, INCREASE, ADD, CONTINUE = "start", "increase", "add", "continue"
REFER, REFER_URGENT, NONE = "refer", "refer-urgent", "none"
PRESCRIBING = (START, ADD)  # accepted through the prescription form
FREQUENCY_WORDS = {"QD": N_("once daily"), "BID": N_("twice daily")}


@dataclass(frozen=True)
class Suggestion:
    """What the protocol suggests now, and why. `applies` is False when the protocol has
    nothing to say (no hypertension, no blood pressure): the chart shows no panel then."""

    kind: str
    summary: Text  # one line: "Increase amlodipine to 10 mg once daily"
    explanation: Text  # one line, citing the step and the reading it is based on
    applies: bool = True
    step: int | None = None
    medicine_id: str | None = None
    drug: str | None = None
    dose: float | None = None
    dose_unit: str | None = None
    route: str | None = None
    frequency: str | None = None
    prescription_id: str | None = None  # the prescription an increase changes
    current_dose: float | None = None
    follow_up: str | None = None  # ISO date
    vitals_id: str | None = None
    blood_pressure: str | None = None
    taken_at: str | None = None
    protocol_version: str = ""
    declined_reason: str | None = None  # set when a clinician declined it for this reading

    def to_json(self) -> dict[str, Any]:
        """Plain values; the texts in English (JSON is for programs, not people)."""
        values = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {k: str(v) if isinstance(v, Text) else v for k, v in values.items()}


def suggest(chart: PatientChart, protocol: Protocol, catalog: Catalog, today: date) -> Suggestion:
    """The protocol's suggestion for the chart as it is, on the device's day `today`."""
    if regimen.hypertension(chart, protocol) is None:
        return _nothing(
            N_("No active hypertension diagnosis (ICD-10 I10–I15) on the chart"), protocol
        )
    bp = regimen.latest_blood_pressure(chart)
    if bp is None:
        return _nothing(N_("No blood pressure recorded"), protocol)
    found = _Visit(chart, protocol, catalog, today, bp).suggestion()
    declined = active_decline(chart, bp.vitals_id)
    if declined is not None:
        found = replace(found, declined_reason=str(declined.get("reason") or ""))
    return found


def _nothing(why: str, protocol: Protocol) -> Suggestion:
    return Suggestion(
        NONE, t(N_("No suggestion")), t(why), applies=False, protocol_version=protocol.version
    )


class _Visit:
    def __init__(
        self,
        chart: PatientChart,
        protocol: Protocol,
        catalog: Catalog,
        today: date,
        bp: regimen.BloodPressure,
    ) -> None:
        self.chart, self.protocol, self.catalog, self.today, self.bp = (
            chart,
            protocol,
            catalog,
            today,
            bp,
        )
        self.taking = regimen.taking(chart, protocol, catalog)
        self.classes = regimen.classes_taken(chart, catalog)
        self.notes: list[Text] = []  # why steps were passed over, shown in the explanation

    def suggestion(self) -> Suggestion:
        p, bp = self.protocol, self.bp
        if bp.systolic >= p.urgent_systolic or bp.diastolic >= p.urgent_diastolic:
            limit = f"{p.urgent_systolic:g}/{p.urgent_diastolic:g}"
            return self._make(
                REFER_URGENT,
                t(N_("See today; refer urgently if organ damage")),
                t(
                    "{advice} (BP at or above {limit})",
                    advice=as_text(p.urgent_advice),
                    limit=limit,
                ),
                follow_days=p.follow_up_urgent,
            )
        for pair in p.never_together:
            if pair <= self.classes:
                first, second = sorted(self.catalog.class_names.get(c, c) for c in pair)
                return self._make(
                    NONE,
                    t(N_("Review the prescriptions")),
                    t(
                        "takes {first} and {second} together, which the protocol never "
                        "combines; no step is suggested until one is stopped",
                        first=as_text(first),
                        second=as_text(second),
                    ),
                )
        child_bearing = regimen.child_bearing_reason(self.chart, p, self.catalog, self.today)
        if child_bearing is not None and p.child_bearing is not None:
            for component_id, found in self.taking.items():
                if p.component(component_id).child_bearing_caution:
                    return self._make(
                        REFER,
                        t("Review {drugs} and refer", drugs=_drug_names(found)),
                        t(
                            "{reason}: {rule}",
                            reason=child_bearing,
                            rule=as_text(p.child_bearing.rule),
                        ),
                        follow_days=p.follow_up_uncontrolled,
                    )
        if bp.systolic < p.systolic_below and bp.diastolic < p.diastolic_below:
            on = [t for found in self.taking.values() for t in found]
            what = (
                t("Continue {drugs}", drugs=_drug_names(on))
                if on
                else t(N_("No medicine needed now; recheck"))
            )
            return self._make(
                CONTINUE,
                what,
                t(
                    "BP at target (below {target})",
                    target=_pair(p.systolic_below, p.diastolic_below),
                ),
                follow_days=p.follow_up_controlled,
            )
        return self._next_step(child_bearing)

    def _next_step(self, child_bearing: Text | None) -> Suggestion:
        p = self.protocol
        passed: set[str] = set()
        for step in p.steps:
            component = p.component(step.component)
            current = self.taking.get(component.id)
            if current:
                found = self._on_component(step, current[0])
                if found is not None:
                    return found
                continue
            if component.id in passed:
                continue
            passed.add(component.id)
            if child_bearing is not None and component.child_bearing_caution:
                self.notes.append(
                    t(
                        "step {number} ({component}) not given: {reason}",
                        number=step.number,
                        component=as_text(component.name),
                        reason=child_bearing,
                    )
                )
                continue
            option = self._usable_option(step, component)
            if option is not None:
                return self._new_drug(step, option)
        return self._make(
            REFER,
            t(N_("Refer to a specialist")),
            as_text(p.after_last_step),
            follow_days=p.follow_up_uncontrolled,
        )

    def _on_component(self, step: Step, taking: regimen.Taking) -> Suggestion | None:
        """The step's dose increase for a component already prescribed, or None when the
        prescription already meets the step."""
        name = self._name(taking.option.medicine)
        option = taking.option
        if taking.dose is None:
            data = taking.item.data
            return self._make(
                NONE,
                t("Review {drug}", drug=str(data.get("drug"))),
                t(
                    "{drug} {dose} {unit} cannot be compared with the protocol's doses in "
                    "{protocol_unit}; decide the step by hand",
                    drug=str(data.get("drug")),
                    dose=_n(data.get("dose")),
                    unit=str(data.get("dose_unit")),
                    protocol_unit=option.unit,
                ),
            )
        needed = option.doses[step.level - 1]
        if taking.dose >= needed:
            highest = option.doses[-1]
            if step.level == len(option.doses) and taking.dose > highest:
                self.notes.append(
                    t(
                        "{drug} {dose} {unit} is above the protocol's highest dose "
                        "({highest} {unit})",
                        drug=name,
                        dose=_n(taking.dose),
                        unit=option.unit,
                        highest=_n(highest),
                    )
                )
            return None
        if taking.dose not in option.doses:
            self.notes.append(
                t(
                    "{drug} {dose} {unit} is not a protocol dose",
                    drug=name,
                    dose=_n(taking.dose),
                    unit=option.unit,
                )
            )
        return self._make(
            INCREASE,
            t(
                "Increase {drug} from {dose} to {needed} {unit} {frequency}",
                drug=name,
                dose=_n(taking.dose),
                needed=_n(needed),
                unit=option.unit,
                frequency=_frequency(option.frequency),
            ),
            t("step {number}", number=step.number),
            step=step,
            option=option,
            dose=needed,
            prescription_id=taking.item.id,
            current_dose=taking.dose,
        )

    def _usable_option(self, step: Step, component: Component) -> DrugOption | None:
        """The first option the patient may take (no allergy to it, no class it must not be
        combined with); the reasons others were passed over go to the notes."""
        for option in component.options:
            name = self._name(option.medicine)
            allergy = regimen.allergy_to(self.chart, self.catalog, option.medicine)
            if allergy is not None:
                self.notes.append(
                    t("{drug} not given: allergy to {allergy} recorded", drug=name, allergy=allergy)
                )
                continue
            medicine = self.catalog.medicines.get(option.medicine)
            classes = medicine.classes if medicine else frozenset()
            clash = next(
                (
                    pair
                    for pair in self.protocol.never_together
                    if pair <= (self.classes | classes) and not pair <= classes
                ),
                None,
            )
            if clash is not None:
                self.notes.append(
                    t("{drug} not given: never combined with what the patient takes", drug=name)
                )
                continue
            if step.level > len(option.doses):
                continue
            return option
        self.notes.append(
            t(
                "step {number} ({component}) passed over",
                number=step.number,
                component=as_text(component.name),
            )
        )
        return None

    def _new_drug(self, step: Step, option: DrugOption) -> Suggestion:
        kind = ADD if any(self.taking.values()) else START
        dose = option.doses[step.level - 1]
        template = (
            N_("Add {drug} {dose} {unit} {frequency}")
            if kind == ADD
            else N_("Start {drug} {dose} {unit} {frequency}")
        )
        return self._make(
            kind,
            Text(
                template,
                {
                    "drug": self._name(option.medicine),
                    "dose": _n(dose),
                    "unit": option.unit,
                    "frequency": _frequency(option.frequency),
                },
            ),
            t("step {number}", number=step.number),
            step=step,
            option=option,
            dose=dose,
        )

    def _make(
        self,
        kind: str,
        summary: Text,
        reason: Text,
        *,
        follow_days: int | None = None,
        step: Step | None = None,
        option: DrugOption | None = None,
        dose: float | None = None,
        prescription_id: str | None = None,
        current_dose: float | None = None,
    ) -> Suggestion:
        p, bp = self.protocol, self.bp
        if step is not None:
            follow_days = p.follow_up_uncontrolled
            target = f"{p.systolic_below:g}/{p.diastolic_below:g}"
            reason = t(
                "BP {bp} is not below the target {target}: protocol {reason}",
                bp=bp.text,
                target=target,
                reason=reason,
            )
        else:
            reason = t("BP {bp}: {reason}", bp=bp.text, reason=reason)
        explanation = t(
            "{reasons} ({protocol} {version})",
            reasons=joined([reason, *self.notes]),
            protocol=as_text(p.name),
            version=p.version,
        )
        follow = None if follow_days is None else (self.today + timedelta(days=follow_days))
        return Suggestion(
            kind=kind,
            summary=summary,
            explanation=explanation,
            step=step.number if step else None,
            medicine_id=option.medicine if option else None,
            drug=self._name(option.medicine) if option else None,
            dose=dose,
            dose_unit=option.unit if option else None,
            route=option.route if option else None,
            frequency=option.frequency if option else None,
            prescription_id=prescription_id,
            current_dose=current_dose,
            follow_up=follow.isoformat() if follow else None,
            vitals_id=bp.vitals_id,
            blood_pressure=bp.text,
            taken_at=bp.taken_at,
            protocol_version=p.version,
        )

    def _name(self, medicine_id: str) -> str:
        medicine = self.catalog.medicines.get(medicine_id)
        return medicine.name if medicine else medicine_id


def _drug_names(found: list[regimen.Taking]) -> str:
    # Medicine names, doses and units as prescribed: nothing here to translate.
    names = []
    for taking in found:
        data = taking.item.data
        text = f"{data.get('drug')} {_n(data.get('dose'))} {data.get('dose_unit')}"
        if text not in names:
            names.append(text)
    return ", ".join(names)


def _frequency(code: str) -> Text:
    return as_text(FREQUENCY_WORDS.get(code, code))


def _n(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _pair(systolic: float, diastolic: float) -> str:
    return f"{systolic:g}/{diastolic:g}"
