"""Turns the experiments' figures into the table of docs/reliability.md (and JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    section: str
    figure: str
    value: str
    required: str = ""
    ok: bool | None = None  # None: informational

    def to_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "figure": self.figure,
            "value": self.value,
            "required": self.required,
            "ok": self.ok,
        }


def zero(section: str, figure: str, value: int) -> Row:
    return Row(section, figure, str(value), "0", value == 0)


def yes(section: str, figure: str, value: bool) -> Row:
    return Row(section, figure, "yes" if value else "NO", "yes", bool(value))


def info(section: str, figure: str, value: object) -> Row:
    return Row(section, figure, str(value))


def at_least(section: str, figure: str, value: int, minimum: int) -> Row:
    return Row(section, figure, str(value), f">= {minimum}", value >= minimum)


def rows(results: dict[str, Any], size: Any) -> list[Row]:
    out: list[Row] = []
    if "crash_exec" in results:
        f = results["crash_exec"]
        s = "1 Crash: `exec` killed"
        out += [
            at_least(s, "trials", f["trials"], size.crash_exec_trials),
            info(
                s,
                "kill landed: mid-stream / before the first ack / after the last",
                f"{f['killed_mid_stream']} / {f['killed_before_first_ack']} / "
                f"{f['finished_before_kill']}",
            ),
            info(s, "commands acknowledged before the kill", f["acknowledged"]),
            zero(s, "acknowledged commands missing afterwards", f["acknowledged_missing"]),
            info(
                s,
                "committed but not acknowledged (found as duplicates on re-submission)",
                f["committed_not_acknowledged"],
            ),
            zero(
                s, "commands twice in the log after re-submission", f["duplicates_after_resubmit"]
            ),
            zero(s, "vaults failing `verify`", f["vaults_failing_verify"]),
            zero(s, "vaults failing to open", f["vaults_failing_open"]),
            zero(
                s, "read models differing from a rebuild", f["read_models_differing_from_rebuild"]
            ),
            zero(s, "tracebacks", f["tracebacks"]),
        ]
    if "crash_sync" in results:
        f = results["crash_sync"]
        s = "1 Crash: `sync` killed"
        out += [
            at_least(s, "trials", f["trials"], size.crash_sync_trials),
            info(
                s,
                "kill landed: before any write / mid-push / after the push / after the end",
                f"{f['killed_before_any_write']} / {f['killed_mid_push']} / "
                f"{f['killed_after_push']} / {f['finished_before_kill']}",
            ),
            zero(s, "vaults failing `verify`", f["vaults_failing_verify"]),
            zero(s, "vaults failing to open", f["vaults_failing_open"]),
            zero(s, "following syncs that failed", f["next_sync_failed"]),
            zero(s, "pending after the following sync", f["pending_after_next_sync"]),
            zero(
                s, "needs-attention after the following sync", f["needs_attention_after_next_sync"]
            ),
            zero(s, "resources missing on the server", f["missing_on_server"]),
            zero(s, "duplicate resources on the server (by search)", f["duplicates_on_server"]),
            zero(
                s,
                "resources differing from an uninterrupted sync",
                f["content_differs_from_clean_sync"],
            ),
            zero(s, "tracebacks", f["tracebacks"]),
        ]
    if "network" in results:
        f = results["network"]
        s = "2 Network faults"
        attention = f["needs_attention_per_seed"]
        out += [
            Row(
                s,
                "seeds converged (charts equal to the server's, before and after resolving)",
                f"{f['seeds_converged']} / {f['seeds']}",
                "all",
                f["seeds_converged"] == f["seeds"],
            ),
            Row(
                s,
                "seeds that went quiet",
                f"{f['seeds_quiet']} / {f['seeds']}",
                "all",
                f["seeds_quiet"] == f["seeds"],
            ),
            info(s, "commands acknowledged", f["commands_acknowledged"]),
            zero(s, "commands lost", f["commands_lost"]),
            zero(s, "duplicates on the server", f["duplicates_on_server"]),
            info(
                s,
                "needs-attention per seed (min / mean / max)",
                f"{attention['min']} / {attention['mean']} / {attention['max']}",
            ),
            info(
                s,
                "edits with a concurrent edit of the same field (ground truth)",
                f["overlapping_edits_total"],
            ),
            zero(
                s,
                "needs-attention without a concurrent same-field edit",
                f["attention_without_overlap"],
            ),
            info(
                s,
                "sync cycles (failed by a fault)",
                f"{f['cycles']} ({f['cycles_failed_by_faults']})",
            ),
            zero(s, "cycles ending in anything but a FhirError", f["cycles_crashed"]),
            zero(
                s,
                "devices whose read models differ from a rebuild at the end",
                f.get("read_models_differing", 0),
            ),
            info(
                s,
                "search pages quarantined because a fault cut them",
                f["pages_quarantined_by_faults"],
            ),
            info(
                s, "faults injected", ", ".join(f"{k} {v}" for k, v in f["faults_injected"].items())
            ),
        ]
    if "people" in results:
        f = results["people"]
        s = "3 Bad input from people"
        out += [
            info(
                s,
                "inputs tried (services + `exec` lines in N processes)",
                f"{f['service_inputs'] + f['cli_lines']} ({f['service_inputs']} + {f['cli_lines']} "
                f"in {f['cli_processes']})",
            ),
            info(
                s,
                "accepted / refused",
                f"{f['service_accepted'] + f['cli_accepted']} / "
                f"{f['service_refused'] + f['cli_refused']}",
            ),
            zero(
                s,
                "crashes (other exception, traceback, aborted batch)",
                f["service_crashes"] + f["cli_crashes"],
            ),
            zero(
                s,
                "refusals without a field (validation, not found, precondition)",
                f["refusals_without_field"],
            ),
            zero(s, "messages empty or showing Python internals", f["messages_with_internals"]),
            zero(
                s,
                "refused inputs that changed log, outbox or read models",
                f["refused_but_changed_state"] + f["cli_state_mismatch"],
            ),
        ]
    if "server" in results:
        f = results["server"]
        s = "4 Bad input from the server"
        out += [
            info(s, "cases tried", f["cases"]),
            info(s, "sync cycles run", f["cycles"]),
            zero(s, "sync cycles that stopped", f["cycles_stopped"]),
            zero(s, "cases whose bad item was not quarantined", f["cases_not_quarantined"]),
            zero(
                s,
                "cases losing valid data, or whose next sync missed new data",
                f["cases_losing_valid_data"],
            ),
            info(s, "items quarantined", f["quarantined_items"]),
            yes(s, "quarantine listed by `fieldchart status --json`", f["shown_by_status"]),
        ]
    if "politeness" in results:
        f = results["politeness"]
        s = "6 Rate-limited server"
        answered = f["answered"]
        out += [
            info(s, "seeds / commands recorded on two devices", f"{f['seeds']} / {f['commands']}"),
            info(
                s,
                "requests sent / reached the server / simulated minutes",
                f"{f['requests']} / {f['forwarded']} / {f['simulated_minutes']}",
            ),
            info(
                s,
                "answers instead of the server",
                ", ".join(f"{k} {v}" for k, v in answered.items()),
            ),
            info(
                s,
                "waits inside the client (count / seconds); cycles ended by a long Retry-After",
                f"{f['waits_in_client']} / {f['seconds_waited_in_client']}; "
                f"{f['cycles_told_to_wait']} of {f['cycles']}",
            ),
            zero(s, "requests sent before the time the server gave", f["requests_too_early"]),
            zero(
                s,
                "commands lost (pending, missing on the server, charts differing)",
                f["pending_at_end"] + f["missing_on_server"] + f["charts_differing"],
            ),
            zero(s, "needs-attention (no concurrent edits)", f["needs_attention"]),
            zero(s, "cycles ending in an error", f["cycles_failed"]),
            at_least(s, "seeds that went quiet", f["seeds_quiet"], f["seeds"]),
        ]
    if "scan" in results:
        f = results["scan"]
        s = "5 Security: plaintext scan"
        hits = f["hits"]
        out += [
            info(s, "files / MB scanned", f"{f['files']} / {f['bytes'] / 1e6:.1f}"),
            info(s, "file kinds", ", ".join(f"{k} {v}" for k, v in sorted(f["kinds"].items()))),
            info(s, "patient names and phone numbers searched", f["needles"]),
            yes(
                s,
                "positive control found in UTF-8, UTF-16-LE and UTF-16-BE",
                all(f["positive_control"].values()),
            ),
            zero(s, "hits in UTF-8", hits.get("utf-8", 0)),
            zero(s, "hits in UTF-16-LE", hits.get("utf-16-le", 0)),
            zero(s, "hits in UTF-16-BE", hits.get("utf-16-be", 0)),
        ]
    if "tls" in results:
        f = results["tls"]
        s = "5 Security: TLS"
        out += [
            yes(
                s,
                "client refuses a private CA's certificate by default",
                f["client_refuses_untrusted"],
            ),
            yes(s, "client refuses it with another CA configured", f["client_refuses_other_ca"]),
            yes(s, "client accepts it with that CA configured", f["client_accepts_configured_ca"]),
            yes(
                s,
                "`fieldchart enroll` refuses it (and saves nothing)",
                f["enroll_refuses_untrusted"] and f["enroll_left_settings_unchanged"],
            ),
            yes(
                s,
                "`enroll --ca-bundle` accepts it; `sync` pushes over it",
                f["enroll_with_ca_bundle"] and f["sync_over_tls"],
            ),
        ]
    if "guessing" in results:
        f = results["guessing"]
        s = "5 Security: passphrase guessing"
        out += [
            info(s, "key derivation", f["params"]),
            info(
                s,
                "Argon2id alone: seconds per guess / guesses per second",
                f"{f['argon2id_s_median']} / {f['attempts_per_s_argon2id_only']}",
            ),
            info(
                s,
                f"first {f['attempts']} guesses with the growing delay: guesses per second",
                f["attempts_per_s_with_delays"],
            ),
            info(s, "delays recorded (s)", " ".join(f"{d:g}" for d in f["delays_s"])),
            info(s, "steady state (30 s delay): guesses per day", f["steady_attempts_per_day"]),
            yes(s, "failure count survives the process", f["delay_remembered_across_processes"]),
        ]
    if "roles" in results:
        f = results["roles"]
        s = "5 Security: roles"
        out += [
            info(
                s,
                "clinical commands tried by staff and admin (services) / staff (CLI)",
                f"{f['service_attempts']} / {f['cli_attempts']}",
            ),
            zero(s, "allowed through the services", f["service_allowed"]),
            zero(s, "allowed through `fieldchart exec`", f["cli_allowed"]),
            zero(s, "refused attempts that changed the vault", f["state_changed"]),
        ]
    if "lock" in results:
        f = results["lock"]
        s = "5 Security: lock"
        out += [
            info(s, "queries and commands tried after lock", f["queries_tried"]),
            zero(s, "that answered instead of VaultLockedError", len(f["queries_not_locked"])),
            zero(
                s,
                "data-key copies (raw, hex, subkeys) reachable from the vault",
                f["key_copies_reachable_from_vault"],
            ),
            zero(
                s,
                "... reachable from the Clinic services",
                f["key_copies_reachable_from_services"],
            ),
        ]
    return out


def markdown(table: list[Row]) -> str:
    lines = ["| Experiment | Figure | Value | Required |", "|---|---|---|---|"]
    for row in table:
        mark = "" if row.ok is None else (" ✓" if row.ok else " ✗ FAILED")
        value = row.value.replace("|", "/")
        lines.append(f"| {row.section} | {row.figure} | {value} | {row.required}{mark} |")
    return "\n".join(lines)
