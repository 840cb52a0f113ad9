"""A clinic that keeps working while IT takes a backup: another process recording commands.

    python -m tests.it.writer DATA_DIR STOP_FILE READY_FILE

Unlocks DATA_DIR as the clinician `doc`, writes READY_FILE after its first command, then
records vitals and notes round-robin over every patient until STOP_FILE exists, and prints how
many commands it recorded.
"""

from __future__ import annotations

import sys
from pathlib import Path

from app.domain import commands as c
from tests.it.conftest import DOC, open_as


def main(data_dir: Path, stop: Path, ready: Path) -> int:
    clinic = open_as(data_dir, "doc")
    try:
        patients = [p.patient_id for p in clinic.queries.search_patients("", 100)]
        count = 0
        while not stop.exists():
            pid = patients[count % len(patients)]
            if count % 2:
                command: c.Command = c.AddNote(patient_id=pid, text=f"progress note {count}")
            else:
                command = c.RecordVitals(patient_id=pid, heart_rate=60 + count % 40)
            clinic.commands.execute(command, DOC)
            count += 1
            if count == 1:
                ready.write_text("ready")
    finally:
        clinic.close()
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
