"""Printed documents (prescription, referral letter, visit summary, appointment slip, patient
card): their content as HTML built from the chart, and the audit of each print. Rendering to a
PDF or a printer is app/ui/printing's (the only place Qt is)."""
