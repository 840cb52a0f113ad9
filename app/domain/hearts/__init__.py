"""The WHO HEARTS hypertension protocol as offline suggestions (pure: no I/O, no clock).

`protocol` reads and checks a protocol file's contents, `regimen` reads the patient's chart
(hypertension, blood pressures, antihypertensives, what may not be given), `engine` turns
both into one Suggestion, and `decline` decides DeclineProtocolSuggestion. A suggestion is
only ever shown: accepting it opens the ordinary forms pre-filled, nothing is recorded by it.
"""
