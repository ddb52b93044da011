"""The ingest API of a real hub process: acknowledgements, duplicates, gzip, and each refusal's status and message."""

from __future__ import annotations

import gzip
import json

import requests

from mlway.core.wire import MAX_BATCH_RECORDS, EventList, Fleet, IngestAck
from mlway.hub.testing import RunningHub, event_record, ingest_body, stamp_clock, summary_record


def post(hub: RunningHub, token: str, body: bytes, path: str = "/v1/ingest", **headers: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"} | headers
    return requests.post(hub.url + path, data=body, headers=headers, timeout=30)


def test_a_batch_is_acknowledged_and_a_resend_is_counted_as_duplicates(hub: RunningHub) -> None:
    token = hub.add_device("combine-07")
    body = ingest_body("combine-07", [event_record(1), event_record(2, kind="end"), summary_record(3)])
    first = IngestAck.model_validate_json(post(hub, token, body).content)
    again = IngestAck.model_validate_json(post(hub, token, body).content)
    assert (first.acked, first.stored, first.duplicates) == ([1, 2, 3], 3, 0)
    assert (again.acked, again.stored, again.duplicates) == ([1, 2, 3], 0, 3)
    events = EventList.model_validate_json(requests.get(hub.url + "/v1/events", timeout=10).content).events
    assert [(e.event_id, e.state, e.updates) for e in events] == [("e1", "ended", 2)]
    metrics = requests.get(hub.url + "/metrics", timeout=10).text
    assert 'mlway_hub_records_stored_total{type="event"} 2.0' in metrics
    assert "mlway_hub_records_duplicate_total 3.0" in metrics
    assert 'mlway_hub_device_last_seen_timestamp_seconds{device="combine-07"}' in metrics


def test_a_gzip_body_is_accepted(hub: RunningHub) -> None:
    token = hub.add_device("combine-07")
    body = gzip.compress(ingest_body("combine-07", [event_record(i, event_id=f"e{i}") for i in range(1, 51)]))
    response = post(hub, token, body, **{"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert IngestAck.model_validate_json(response.content).stored == 50


def test_missing_unknown_and_revoked_tokens_get_401_with_a_hint(hub: RunningHub) -> None:
    token = hub.add_device("combine-07")
    body = ingest_body("combine-07", [event_record(1)])
    missing = requests.post(hub.url + "/v1/ingest", data=body, timeout=10)
    assert missing.status_code == 401
    assert "Authorization: Bearer" in missing.json()["hint"]
    unknown = post(hub, "guessed-token", body)
    assert (unknown.status_code, unknown.json()["error"]) == (401, "unknown device token")
    hub.revoke_device("combine-07")
    revoked = post(hub, token, body)
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["error"]
    assert "mlway hub device add combine-07" in revoked.json()["hint"]
    metrics = requests.get(hub.url + "/metrics", timeout=10).text
    assert 'mlway_hub_rejected_total{endpoint="ingest",status="401"} 3.0' in metrics


def test_a_device_cannot_write_as_another_device(hub: RunningHub) -> None:
    token = hub.add_device("combine-07")
    hub.add_device("combine-08")
    response = post(hub, token, ingest_body("combine-08", [event_record(1)]))
    assert response.status_code == 403
    assert "writes only as itself" in response.json()["error"]
    fleet = Fleet.model_validate_json(requests.get(hub.url + "/v1/fleet", timeout=10).content)
    assert {d.device_id: d.records for d in fleet.devices} == {"combine-07": 0, "combine-08": 0}


def test_a_batch_over_the_record_limit_gets_413(hub: RunningHub) -> None:
    token = hub.add_device("combine-07")
    record = json.loads(event_record(1).model_dump_json())
    records = [record | {"seq": i} for i in range(1, MAX_BATCH_RECORDS + 2)]
    response = post(hub, token, json.dumps({"device_id": "combine-07", "records": records}).encode())
    assert response.status_code == 413
    assert f"at most {MAX_BATCH_RECORDS}" in response.json()["error"]


def test_an_invalid_record_gets_422_naming_the_field_and_nothing_of_the_batch_is_stored(hub: RunningHub) -> None:
    token = hub.add_device("combine-07")
    good = json.loads(event_record(1).model_dump_json())
    bad = good | {"seq": 2, "confidence": 1.5}
    response = post(hub, token, json.dumps({"device_id": "combine-07", "records": [good, bad]}).encode())
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "records.1.event.confidence"
    assert "records.1.event.confidence" in response.json()["error"]
    fleet = Fleet.model_validate_json(requests.get(hub.url + "/v1/fleet", timeout=10).content)
    assert fleet.devices[0].records == 0


def test_malformed_json_and_bad_gzip_get_400(hub: RunningHub) -> None:
    token = hub.add_device("combine-07")
    assert post(hub, token, b"{not json").status_code == 400
    response = post(hub, token, b"plain", **{"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "not valid gzip" in response.json()["error"]


def test_a_heartbeat_shows_in_the_fleet_with_the_hub_clock_in_the_answer(hub: RunningHub) -> None:
    token = hub.add_device("combine-07")
    heartbeat = {
        "device_id": "combine-07",
        "clock": stamp_clock().model_dump(),
        "model_version": "grain-v3",
        "backlog_records": 12,
        "backlog_oldest_age_s": 30.5,
        "disk_free_bytes": 10**9,
        "store_bytes": 4096,
        "faults": ["outbox quarantined"],
    }
    response = post(hub, token, json.dumps(heartbeat).encode(), path="/v1/heartbeat")
    assert response.status_code == 200, response.text
    assert response.json()["hub_wall"] > 1.7e9
    assert (
        post(hub, token, json.dumps(heartbeat | {"device_id": "x"}).encode(), path="/v1/heartbeat").status_code == 403
    )
    fleet = Fleet.model_validate_json(requests.get(hub.url + "/v1/fleet", timeout=10).content)
    (device,) = fleet.devices
    assert device.last_heartbeat is not None
    assert (device.last_heartbeat.backlog_records, device.last_heartbeat.faults) == (12, ["outbox quarantined"])
    assert device.last_seen_wall is not None


def test_event_queries_filter_and_bad_parameters_get_422(hub: RunningHub) -> None:
    token = hub.add_device("combine-07")
    records = [event_record(1, event_id="a", label="unloading"), event_record(2, event_id="b", label="failure")]
    post(hub, token, ingest_body("combine-07", records))
    found = requests.get(hub.url + "/v1/events", params={"label": "failure", "device": "combine-07"}, timeout=10)
    assert [e["event_id"] for e in found.json()["events"]] == ["b"]
    bad = requests.get(hub.url + "/v1/events", params={"state": "closed"}, timeout=10)
    assert bad.status_code == 422
    assert bad.json()["fields"][0]["field"] == "query.state"
