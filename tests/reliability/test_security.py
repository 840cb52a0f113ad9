"""Experiment 5 (small size): TLS, passphrase guessing, roles, lock, and the plaintext scan
(last: it reads every data directory the reliability tests of this session wrote)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.peer.harness import PeerServer
from tests.reliability import security
from tests.reliability.common import Size

pytestmark = pytest.mark.peer


def test_tls_refuses_a_private_ca_until_it_is_configured(work: Path, fhir_peer: PeerServer) -> None:
    f = security.tls(fhir_peer, work / "security")
    print(vars(f))
    assert f.client_refuses_untrusted and f.client_refuses_other_ca
    assert f.client_accepts_configured_ca
    assert f.enroll_refuses_untrusted and f.enroll_left_settings_unchanged, f.enroll_message
    assert "certificate not trusted" in f.enroll_message
    assert f.enroll_with_ca_bundle and f.sync_over_tls


def test_passphrase_guessing_is_slowed(size: Size, work: Path) -> None:
    f = security.guessing(work / "security", size.guess_attempts)
    print(vars(f))
    assert f.delays_s[:3] == [0, 0, 0] and f.delays_s[3:6] == [1.0, 2.0, 4.0]
    assert f.attempts_per_s_argon2id_only < 50, "Argon2id must make each guess expensive"
    assert f.steady_attempts_per_day < 3000
    assert f.delay_remembered_across_processes and f.right_passphrase_still_works


def test_staff_cannot_run_clinical_commands(work: Path) -> None:
    f = security.roles(work / "security")
    print(vars(f))
    assert f.clinical_commands >= 12
    assert (f.service_allowed, f.cli_allowed, f.state_changed) == (0, 0, 0)


def test_after_lock_queries_fail_and_the_vault_holds_no_key(work: Path) -> None:
    f = security.lock(work / "security")
    print(vars(f))
    assert f.queries_not_locked == []
    assert f.key_copies_reachable_from_vault == 0, f.paths


def test_after_lock_no_key_is_reachable_from_the_services(work: Path) -> None:
    f = security.lock(work / "security-services")
    assert f.key_copies_reachable_from_services == 0, f.paths


def test_no_patient_name_is_on_disk_in_any_encoding(work: Path, fhir_peer: PeerServer) -> None:
    security.scan_scenario(fhir_peer, work / "scan")
    f = security.scan_everything()
    print({k: v for k, v in vars(f).items()})
    assert all(f.positive_control.values())
    assert f.needles > 50 and f.files > 10
    assert f.kinds["wal"] >= 1 and f.kinds["shm"] >= 1, "a killed process leaves WAL and SHM"
    assert f.kinds["log"] >= 1 and f.kinds["backup"] >= 1, f.kinds
    assert f.total_hits == 0, f.where
