"""Request bodies: gzip, limits (413), encodings (415), JSON, and 422 errors that name the field."""

from __future__ import annotations

import gzip

import pytest

from mlway.core.errors import InputError
from mlway.core.wire import IngestBatch
from mlway.hub.body import decode, validate
from mlway.hub.errors import InvalidBodyError, PayloadTooLargeError, UnsupportedEncodingError
from mlway.hub.testing import event_record, ingest_body


def test_gzip_and_plain_bodies_decode_to_the_same_document() -> None:
    body = ingest_body("combine-07", [event_record(1)])
    assert decode(gzip.compress(body), "gzip", 1 << 20) == decode(body, None, 1 << 20)


def test_a_gzip_bomb_is_refused_once_it_inflates_past_the_limit() -> None:
    bomb = gzip.compress(b" " * (4 << 20))
    with pytest.raises(PayloadTooLargeError, match="1048576 byte limit"):
        decode(bomb, "gzip", 1 << 20)


def test_bad_gzip_bad_json_and_unknown_encodings_say_what_is_wrong() -> None:
    with pytest.raises(InputError, match="not valid gzip"):
        decode(b"{}", "gzip", 1024)
    with pytest.raises(InputError, match="not valid JSON"):
        decode(b"{", None, 1024)
    with pytest.raises(UnsupportedEncodingError, match="'br'"):
        decode(b"{}", "br", 1024)


def test_validation_errors_name_each_wrong_field() -> None:
    record = event_record(1).model_dump(mode="json")
    record["confidence"] = 2.0
    del record["label"]
    with pytest.raises(InvalidBodyError) as info:
        validate(IngestBatch, {"device_id": "combine-07", "records": [record]})
    fields = {p.field for p in info.value.fields}
    assert fields == {"records.0.event.confidence", "records.0.event.label"}
    assert "and 1 more" in info.value.message
