"""Tests of the FHIR test peer itself, against the real node process.

They pin down the behaviours the sync code relies on or must cope with (see README.md here and
/work/shared/FHIR-PEER.md): Medplum's opaque versions and 412s, atomic transactions and their
limits, and how search paging links behave, including where they are not stable.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.peer import harness
from tests.peer.harness import PeerServer
from tests.peer.plugin import fhir_peer, fhir_peer_server  # noqa: F401

pytestmark = pytest.mark.peer

FHIR_HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
WEAK_ETAG = re.compile(r'^W/"([^"]+)"$')


@pytest.fixture
def client(fhir_peer: PeerServer) -> Iterator[httpx.Client]:  # noqa: F811
    with httpx.Client(base_url=fhir_peer.base_url, headers=FHIR_HEADERS, timeout=10.0) as c:
        yield c


# -- helpers -------------------------------------------------------------------------------


def new_id() -> str:
    return str(uuid.uuid4())


def patient(pid: str, family: str = "Doe") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": family}]}


def put(client: httpx.Client, resource: dict[str, Any], **headers: str) -> httpx.Response:
    return client.put(
        f"/{resource['resourceType']}/{resource['id']}", json=resource, headers=headers
    )


def put_ok(client: httpx.Client, resource: dict[str, Any]) -> dict[str, Any]:
    response = put(client, resource)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def version_of(client: httpx.Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return str(response.json()["meta"]["versionId"])


def links(bundle: dict[str, Any]) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in bundle.get("link", [])}


def follow_pages(
    client: httpx.Client, path: str, params: dict[str, str], on_page=None
) -> list[dict[str, Any]]:
    """GET a search and follow `next` links to the end; returns the page Bundles."""
    pages: list[dict[str, Any]] = []
    response = client.get(path, params=params)
    while True:
        assert response.status_code == 200, response.text
        bundle = response.json()
        pages.append(bundle)
        if on_page is not None:
            on_page(len(pages), bundle)
        next_url = links(bundle).get("next")
        if next_url is None:
            return pages
        assert len(pages) < 100, "next links do not terminate"
        response = client.get(next_url)


def entries(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry["resource"] for page in pages for entry in page.get("entry", [])]


def transaction(*entries_: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries_)}


def put_entry(resource: dict[str, Any], if_match: str | None = None) -> dict[str, Any]:
    request = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    if if_match is not None:
        request["ifMatch"] = if_match
    return {"fullUrl": f"urn:uuid:{new_id()}", "resource": resource, "request": request}


# -- capability, create, update ------------------------------------------------------------


def test_metadata_is_an_r4_capability_statement(client: httpx.Client) -> None:
    response = client.get("/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    cs = response.json()
    assert cs["resourceType"] == "CapabilityStatement"
    assert cs["fhirVersion"] == "4.0.1"
    rest = cs["rest"][0]
    assert rest["mode"] == "server"
    assert {"code": "transaction"} in rest["interaction"]
    by_type = {r["type"]: r for r in rest["resource"]}
    assert set(by_type) >= {
        "Patient",
        "Encounter",
        "Observation",
        "AuditEvent",
        "DocumentReference",
    }
    pat = by_type["Patient"]
    assert pat["versioning"] == "versioned-update"
    assert pat["updateCreate"] is True and pat["conditionalUpdate"] is True
    assert {i["code"] for i in pat["interaction"]} >= {"read", "vread", "update", "search-type"}
    assert any(p["name"] == "_lastUpdated" for p in pat["searchParam"])


def test_put_with_client_id_creates_with_200_and_weak_etag(client: httpx.Client) -> None:
    pid = new_id()
    response = put(client, patient(pid))
    # Medplum: update-as-create answers 200, not 201.
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["id"] == pid
    version = body["meta"]["versionId"]
    match = WEAK_ETAG.match(response.headers["etag"])
    assert match and match.group(1) == version
    assert response.headers["last-modified"].endswith("GMT")
    uuid.UUID(version)  # versionId is an opaque UUID, not "1"

    read = client.get(f"/Patient/{pid}")
    assert read.status_code == 200
    assert read.headers["etag"] == f'W/"{version}"'


def test_every_put_makes_a_new_opaque_version_even_if_identical(client: httpx.Client) -> None:
    pid = new_id()
    first = put_ok(client, patient(pid))["meta"]["versionId"]
    second = put_ok(client, patient(pid))["meta"]["versionId"]
    assert first != second  # no no-op detection on the server: the client must skip such writes


def test_post_create_returns_201_with_location(client: httpx.Client) -> None:
    response = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "X"}]})
    assert response.status_code == 201, response.text
    body = response.json()
    version = body["meta"]["versionId"]
    location = str(client.base_url).rstrip("/") + f"/Patient/{body['id']}/_history/{version}"
    assert response.headers["location"] == location
    assert response.headers["etag"] == f'W/"{version}"'


def test_stale_quoted_if_match_gives_412(client: httpx.Client) -> None:
    pid = new_id()
    v1 = put_ok(client, patient(pid, "One"))["meta"]["versionId"]
    v2 = put(client, patient(pid, "Two"), **{"If-Match": f'W/"{v1}"'}).json()["meta"]["versionId"]

    stale = put(client, patient(pid, "Three"), **{"If-Match": f'W/"{v1}"'})
    assert stale.status_code == 412, stale.text
    assert stale.json()["resourceType"] == "OperationOutcome"
    assert version_of(client, f"/Patient/{pid}") == v2

    current = put(client, patient(pid, "Three"), **{"If-Match": f'W/"{v2}"'})
    assert current.status_code == 200


def test_unquoted_if_match_is_silently_ignored(client: httpx.Client) -> None:
    # A real Medplum trap, reproduced on purpose: the client must always quote If-Match.
    pid = new_id()
    v1 = put_ok(client, patient(pid, "One"))["meta"]["versionId"]
    put_ok(client, patient(pid, "Two"))
    response = put(client, patient(pid, "Three"), **{"If-Match": v1})
    assert response.status_code == 200


def test_vread_and_instance_history_newest_first_on_every_call(client: httpx.Client) -> None:
    pid = new_id()
    versions = [put_ok(client, patient(pid, f"F{i}"))["meta"]["versionId"] for i in range(3)]

    old = client.get(f"/Patient/{pid}/_history/{versions[0]}")
    assert old.status_code == 200
    assert old.json()["name"][0]["family"] == "F0"
    assert old.headers["etag"] == f'W/"{versions[0]}"'

    for _ in range(2):  # MemoryRepository alone flips the order on every call
        history = client.get(f"/Patient/{pid}/_history").json()
        assert history["type"] == "history"
        assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == versions[::-1]


# -- transactions --------------------------------------------------------------------------


def test_transaction_with_a_stale_entry_fails_whole_and_applies_nothing(
    client: httpx.Client,
) -> None:
    a_id, b_id = new_id(), new_id()
    v1 = put_ok(client, patient(a_id, "A1"))["meta"]["versionId"]
    v2 = put_ok(client, patient(a_id, "A2"))["meta"]["versionId"]

    # B is processed first and succeeds; the stale If-Match on A then fails the transaction.
    bundle = transaction(put_entry(patient(b_id, "B")), put_entry(patient(a_id, "A3"), f'W/"{v1}"'))
    response = client.post("/", json=bundle)
    assert response.status_code == 412, response.text
    assert response.json()["resourceType"] == "OperationOutcome"

    assert client.get(f"/Patient/{b_id}").status_code == 404
    current = client.get(f"/Patient/{a_id}").json()
    assert current["meta"]["versionId"] == v2
    assert current["name"][0]["family"] == "A2"
    history = client.get(f"/Patient/{a_id}/_history").json()
    assert len(history["entry"]) == 2
    assert client.get("/Patient").json()["total"] == 1


def test_transaction_touching_a_resource_twice_is_rejected(client: httpx.Client) -> None:
    a_id = new_id()
    v1 = put_ok(client, patient(a_id, "A1"))["meta"]["versionId"]
    bundle = transaction(put_entry(patient(a_id, "X")), put_entry(patient(a_id, "Y")))
    response = client.post("/", json=bundle)
    assert response.status_code == 400, response.text
    assert version_of(client, f"/Patient/{a_id}") == v1


def test_transaction_over_50_updates_is_rejected(client: httpx.Client) -> None:
    bundle = transaction(*(put_entry(patient(new_id())) for _ in range(51)))
    response = client.post("/", json=bundle)
    assert response.status_code == 400, response.text
    assert client.get("/Patient").json()["total"] == 0


def test_successful_transaction_reports_versions_in_entries(client: httpx.Client) -> None:
    a_id, b_id = new_id(), new_id()
    v1 = put_ok(client, patient(a_id, "A1"))["meta"]["versionId"]
    bundle = transaction(put_entry(patient(a_id, "A2"), f'W/"{v1}"'), put_entry(patient(b_id, "B")))
    response = client.post("/", json=bundle)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "transaction-response"
    assert len(result["entry"]) == 2
    for entry, pid in zip(result["entry"], (a_id, b_id), strict=True):
        assert entry["response"]["status"] == "200"
        assert "etag" not in entry["response"]  # read the version from the resource instead
        assert entry["resource"]["id"] == pid
        assert entry["resource"]["meta"]["versionId"] == version_of(client, f"/Patient/{pid}")


# -- search and paging ---------------------------------------------------------------------


def test_lastupdated_search_follows_cursor_links_and_returns_each_resource_once(
    client: httpx.Client,
) -> None:
    created = [put_ok(client, patient(new_id(), f"P{i}")) for i in range(120)]
    since = min(p["meta"]["lastUpdated"] for p in created)

    pages = follow_pages(
        client,
        "/Patient",
        {"_lastUpdated": f"ge{since}", "_sort": "_lastUpdated", "_count": "50"},
    )

    assert [len(p.get("entry", [])) for p in pages] == [50, 50, 20]
    assert all(p["total"] == 120 for p in pages)
    for page in pages[:-1]:
        assert "_cursor=" in links(page)["next"]
    ids = [r["id"] for r in entries(pages)]
    assert len(ids) == len(set(ids)) == 120
    assert set(ids) == {p["id"] for p in created}
    stamps = [r["meta"]["lastUpdated"] for r in entries(pages)]
    assert stamps == sorted(stamps)
    assert all(e["fullUrl"].endswith(f"/Patient/{e['resource']['id']}") for e in pages[0]["entry"])


def test_cursor_paging_stays_complete_when_a_seen_resource_changes(client: httpx.Client) -> None:
    created = [put_ok(client, patient(new_id(), f"P{i}")) for i in range(60)]
    since = min(p["meta"]["lastUpdated"] for p in created)
    changed: dict[str, str] = {}

    def touch_first_resource(page_number: int, bundle: dict[str, Any]) -> None:
        if page_number == 1:
            first = bundle["entry"][0]["resource"]
            updated = put_ok(client, patient(first["id"], "Changed"))
            changed[first["id"]] = updated["meta"]["versionId"]

    pages = follow_pages(
        client,
        "/Patient",
        {"_lastUpdated": f"ge{since}", "_sort": "_lastUpdated", "_count": "20"},
        on_page=touch_first_resource,
    )
    seen = [(r["id"], r["meta"]["versionId"]) for r in entries(pages)]
    (changed_id, new_version) = next(iter(changed.items()))
    assert {pid for pid, _ in seen} == {p["id"] for p in created}  # nothing skipped
    assert len(seen) == 61  # the changed resource comes again, at its new version, at the end
    assert seen[-1] == (changed_id, new_version)


def test_small_count_uses_offset_links_which_are_not_stable_under_writes(
    client: httpx.Client,
) -> None:
    # With _count < 20 (or any sort other than _lastUpdated ascending, or an explicit _offset),
    # Medplum pages by _offset. A write between pages shifts the result set: one resource is
    # skipped. Sync must page with _sort=_lastUpdated and _count >= 20.
    created = [put_ok(client, patient(new_id(), f"P{i}")) for i in range(30)]
    since = min(p["meta"]["lastUpdated"] for p in created)

    def touch_first_resource(page_number: int, bundle: dict[str, Any]) -> None:
        if page_number == 1:
            assert "_offset=10" in links(bundle)["next"]
            first = bundle["entry"][0]["resource"]
            put_ok(client, patient(first["id"], "Changed"))

    pages = follow_pages(
        client,
        "/Patient",
        {"_lastUpdated": f"ge{since}", "_sort": "_lastUpdated", "_count": "10"},
        on_page=touch_first_resource,
    )
    seen_ids = {r["id"] for r in entries(pages)}
    assert len({p["id"] for p in created} - seen_ids) == 1


def test_cursor_page_sharing_one_millisecond_is_a_500_as_in_production(
    fhir_peer: PeerServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    # Production Medplum refuses a cursor page whose first entry has the same lastUpdated as the
    # first entry of the next page ("Cursor fails to make progress", 500). One transaction writes
    # its 50 entries within a millisecond or two, so a pull with _count=20 right after it hits
    # this about half the time. Predict the outcome from the timestamps and check the peer agrees;
    # a _count larger than one transaction always works.
    for _ in range(5):
        fhir_peer.reset()
        bundle = transaction(*(put_entry(patient(new_id())) for _ in range(50)))
        written = client.post("/", json=bundle)
        assert written.status_code == 200, written.text
        stamps = sorted(e["resource"]["meta"]["lastUpdated"] for e in written.json()["entry"])
        params = {"_sort": "_lastUpdated", "_count": "20"}

        small = client.get("/Patient", params=params)
        if stamps[0] == stamps[20]:
            assert small.status_code == 500, small.text
            assert "Cursor fails to make progress" in small.text
        else:
            assert small.status_code == 200, small.text

        pages = follow_pages(client, "/Patient", {**params, "_count": "100"})
        assert len(entries(pages)) == 50


def test_search_without_count_returns_every_match_without_next_link(client: httpx.Client) -> None:
    for i in range(30):
        put_ok(client, patient(new_id(), f"P{i}"))
    bundle = client.get("/Patient").json()
    assert len(bundle["entry"]) == 30
    assert set(links(bundle)) == {"self"}


def test_unknown_search_parameter_matches_nothing(client: httpx.Client) -> None:
    put_ok(client, patient(new_id()))
    bundle = client.get("/Patient", params={"no-such-param": "x"}).json()
    assert bundle["total"] == 0
    assert "entry" not in bundle


# -- harness -------------------------------------------------------------------------------


def test_reset_empties_the_store(fhir_peer: PeerServer, client: httpx.Client) -> None:  # noqa: F811
    pid = new_id()
    put_ok(client, patient(pid))
    fhir_peer.reset()
    assert client.get(f"/Patient/{pid}").status_code == 404
    assert client.get("/Patient").json()["total"] == 0
    assert client.get(f"/Patient/{pid}/_history").status_code == 404


def test_fixture_exposes_base_url_and_log(
    fhir_peer: PeerServer,  # noqa: F811
    fhir_peer_server: PeerServer,  # noqa: F811
    client: httpx.Client,
) -> None:
    assert fhir_peer is fhir_peer_server
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", fhir_peer.base_url)
    client.get("/metadata")
    assert "GET /metadata -> 200" in fhir_peer.log_text()


def test_context_manager_stops_node() -> None:
    with PeerServer() as peer:
        assert peer.running
        assert httpx.get(f"{peer.base_url}/metadata", timeout=10.0).status_code == 200
        proc = peer._proc
    assert proc is not None and proc.poll() is not None
    assert not peer.running


def test_missing_node_modules_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(harness, "_INSTALL_MARKER", tmp_path / "absent" / "package.json")
    with pytest.raises(RuntimeError, match=r"npm ci --prefix tests/peer"):
        PeerServer().start()
