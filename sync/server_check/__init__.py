"""Can FieldChart sync with this FHIR server? What `fieldchart check-server` runs for IT.

``check.check_server`` reads the CapabilityStatement and asks the server what sync will ask of
it (an authenticated search, ``_lastUpdated`` search with ``_sort`` and paging, the page size it
honours, type ``_history``), and tells whether its transactions are atomic with a probe that
writes nothing (``atomicity.transaction_atomicity``). With ``write_probe`` it also writes: it
creates a clearly marked throwaway test patient (family ``FIELDCHART-CHECK-SERVER-PROBE``,
identifiers under ``urn:fieldchart:fhir:check-server``), updates it with a current and a stale
If-Match, creates another conditionally (If-None-Exist) twice, tries update-as-create and a
transaction with real writes, and deletes everything it created.

Each check says what the server did and what FieldChart will do about it. A check that
``fails`` means FieldChart cannot sync with the server; ``warn`` means it can, with the
consequence stated.

The device also keeps one fact from here in its sync journal (``status --json`` shows it):
whether the server's transactions are atomic, probed at enrolment and again at the start of a
sync cycle at most once a day (``atomicity.record_server_facts``, ``refresh_server_facts``).

One module per part, each imported from where it lives:

- ``check``: ``check_server``, the checks in their order
- ``capability_checks``: what the CapabilityStatement declares, and the safe atomicity check
- ``read_checks``: what the server answers to sync's reads (token, search, paging, history)
- ``write_probe``: the throwaway test patient, written, probed and deleted
- ``atomicity``: the probe that writes nothing, and the device's record of its answer
- ``report``: one ``Check`` per line and the ``ServerReport`` they make
"""
