"""`attention` and `resolve`: what waits for a person after sync, and deciding it headless.

`attention` lists both kinds of needs-attention items with both versions: commands whose
change conflicts with the server's (resolved here or by `exec` ResolveSyncConflict), and server
changes held because they would change who a patient is or move an item to another patient
(docs/sync-identity.md). It shows names and birth dates: it is for the person deciding, like
`chart`. `resolve ITEM RESOLUTION` records the decision; the next `sync` sends what it must.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.commandline.context import add_credentials, add_data_dir, clinic_from
from app.commandline.errors import CliError
from app.i18n import _

RESOLUTIONS = {
    "accept-server": "accept-server",
    "take-servers": "accept-server",
    "keep-ours": "keep-ours",
    "keep-mine": "keep-ours",
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "attention",
        help=_("what needs a person: sync conflicts and held server changes, both versions"),
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_attention)

    p = sub.add_parser(
        "resolve",
        help=_("decide a needs-attention item: accept-server (take the server's) or keep-ours"),
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("item_id", help=_("the item's id, as `attention` shows it"))
    p.add_argument("resolution", choices=sorted(RESOLUTIONS))
    p.set_defaults(run=cmd_resolve)


def cmd_attention(args: argparse.Namespace) -> int:
    from app.domain.rebase import ConflictDetail
    from sync.held_changes import attention_items

    with clinic_from(args) as clinic:
        items = [
            {
                "id": i.command_id,
                "kind": i.kind,
                "what": i.command_type,
                "patient_id": i.patient_id,
                "field": i.field,
                "ours": i.mine,
                "servers": i.servers,
                "message": i.message,
            }
            for i in attention_items(clinic.sync_gateway)
        ]
        for a in clinic.queries.sync_overview().attention:
            d = ConflictDetail.from_json(a.detail)
            items.append(
                {
                    "id": a.command_id,
                    "kind": "conflict",
                    "what": a.command_type,
                    "patient_id": a.patient_id,
                    "field": d.field,
                    "ours": d.mine,
                    "servers": d.servers,
                    "message": a.last_error or _("needs a decision"),
                }
            )
    if args.json:
        print(json.dumps(items, ensure_ascii=False, sort_keys=True))
        return 0
    if not items:
        print(_("nothing needs attention"))
    for item in items:
        field = f" ({item['field']})" if item["field"] else ""
        print(f"{item['id']}: {item['what']}{field} — {item['message']}")
        print(_("  ours:     {ours}").format(ours=item["ours"] or "—"))
        print(_("  server's: {servers}").format(servers=item["servers"] or "—"))
    return 0


def cmd_resolve(args: argparse.Namespace) -> int:
    from app.domain.commands import ResolveSyncConflict
    from app.domain.events import patient_of_command_stream
    from app.domain.rebase import ConflictDetail
    from app.services.sync_gateway import HELD_PREFIX
    from app.store.outbox import NEEDS_ATTENTION
    from sync.clinic_sync import facility_of
    from sync.fhir_mapper import FhirResourceMapper
    from sync.held_changes import resolve_held

    resolution = RESOLUTIONS[args.resolution]
    with clinic_from(args) as clinic:
        gateway = clinic.sync_gateway
        if args.item_id.startswith(HELD_PREFIX):
            mapper = FhirResourceMapper(clinic.catalog, facility_of(clinic.settings.get()))
            try:
                resolve_held(gateway, mapper, args.item_id, resolution, clinic.actor)
            except LookupError as exc:
                raise CliError(str(exc)) from None
        else:
            entry = gateway.entry(args.item_id)
            if entry is None or entry.status != NEEDS_ATTENTION:
                raise CliError(
                    _("no item needs attention with this id (see `fieldchart attention`)")
                )
            detail = ConflictDetail.from_json(entry.detail)
            keep = resolution == "keep-ours"
            clinic.commands.execute(
                ResolveSyncConflict(
                    patient_id=patient_of_command_stream(entry.stream_id),
                    conflict_command_id=args.item_id,
                    resolution="keep-mine" if keep else "take-servers",
                    field=detail.field,
                    value=detail.mine if keep else None,
                ),
                clinic.actor,
            )
    print(
        _("{item_id}: {resolution}; `fieldchart sync` sends what must go to the server").format(
            item_id=args.item_id, resolution=args.resolution
        )
    )
    return 0
