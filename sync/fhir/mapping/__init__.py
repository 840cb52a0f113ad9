"""Pure mapping between FieldChart's domain and HL7 FHIR R4 resources (no I/O).

`to_fhir_*` build the resource to PUT from a chart item and the server's latest copy (None
when new), keeping every element FieldChart does not own; `from_fhir_*` read a server
resource into what the chart shows (RemotePatient, RemoteItem, RemoteAuditEvent) or raise a
MappingError that names the resource and element.
"""

from sync.fhir.mapping.adapter import (
    PULL_TYPES,
    event_from_fhir,
    patient_keys_for_events,
    resource_keys_for_events,
    same_meaning,
    writes_for_events,
)
from sync.fhir.mapping.allergy import (
    from_fhir_allergy_intolerance,
    to_fhir_allergy_intolerance,
)
from sync.fhir.mapping.appointment import from_fhir_appointment, to_fhir_appointment
from sync.fhir.mapping.audit import (
    from_fhir_audit_event,
    to_fhir_audit_event_for_view,
)
from sync.fhir.mapping.common import ICD10_CM, ResourceKey
from sync.fhir.mapping.condition import from_fhir_condition, to_fhir_condition
from sync.fhir.mapping.diff import (
    OWNED_ELEMENTS,
    changed_elements,
    diff_owned_elements,
)
from sync.fhir.mapping.document import from_fhir_document_reference, to_fhir_document_reference
from sync.fhir.mapping.encounter import from_fhir_encounter, to_fhir_encounter
from sync.fhir.mapping.errors import (
    MalformedResourceError,
    MappingError,
    UnsupportedResourceError,
)
from sync.fhir.mapping.items import (
    RESOURCE_TYPE_OF_KIND,
    Builder,
    from_fhir_resource,
    item_writers,
    resource_ids_for_item,
    resource_type_of_kind,
)
from sync.fhir.mapping.medication import (
    from_fhir_medication_request,
    to_fhir_medication_request,
)
from sync.fhir.mapping.observation import (
    from_fhir_observation,
    to_fhir_observation,
)
from sync.fhir.mapping.patient import from_fhir_patient, to_fhir_patient
from sync.fhir.mapping.remote import RemoteAuditEvent, RemoteItem, RemotePatient
from sync.fhir.mapping.vital_signs import (
    OBSERVATION_KEYS,
    VITALS_SET_SYSTEM,
    vitals_keys,
    vitals_observation_id,
    vitals_observation_ids,
)

__all__ = [
    "ICD10_CM",
    "OBSERVATION_KEYS",
    "OWNED_ELEMENTS",
    "PULL_TYPES",
    "RESOURCE_TYPE_OF_KIND",
    "VITALS_SET_SYSTEM",
    "Builder",
    "MalformedResourceError",
    "MappingError",
    "RemoteAuditEvent",
    "RemoteItem",
    "RemotePatient",
    "ResourceKey",
    "UnsupportedResourceError",
    "changed_elements",
    "diff_owned_elements",
    "event_from_fhir",
    "from_fhir_allergy_intolerance",
    "from_fhir_appointment",
    "from_fhir_audit_event",
    "from_fhir_condition",
    "from_fhir_document_reference",
    "from_fhir_encounter",
    "from_fhir_medication_request",
    "from_fhir_observation",
    "from_fhir_patient",
    "from_fhir_resource",
    "item_writers",
    "patient_keys_for_events",
    "resource_ids_for_item",
    "resource_keys_for_events",
    "resource_type_of_kind",
    "same_meaning",
    "to_fhir_allergy_intolerance",
    "to_fhir_appointment",
    "to_fhir_audit_event_for_view",
    "to_fhir_condition",
    "to_fhir_document_reference",
    "to_fhir_encounter",
    "to_fhir_medication_request",
    "to_fhir_observation",
    "to_fhir_patient",
    "vitals_keys",
    "vitals_observation_id",
    "vitals_observation_ids",
    "writes_for_events",
]
