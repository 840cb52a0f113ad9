"""A real FHIR server (Medplum from ../shared/realfhir, or one named by the environment) for the
sync tests: ``harness`` finds or starts it, ``plugin`` gives the pytest fixtures."""
