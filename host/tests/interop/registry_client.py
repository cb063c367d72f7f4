"""Interop: Confluent's own Python client (confluent_kafka.schema_registry) against
weir's embedded schema registry: register, lookups, compatibility (with a 409),
configuration, soft and hard deletes, and an Avro serializer/deserializer round
trip in Confluent's wire format.

    python registry_client.py http://127.0.0.1:8081   # a running registry
    python registry_client.py path/to/weir            # starts `weir broker` itself
"""

import json
import sys
import uuid

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext
from weir_broker import weir_broker


def user(*extra):
    return json.dumps({
        "type": "record", "name": "User", "namespace": "weir.interop",
        "fields": [{"name": "id", "type": "long"}, *extra],
    })


V1 = user()
V2 = user({"name": "email", "type": "string", "default": ""})
# A field without a default: new readers cannot read old data (not BACKWARD).
V3 = user({"name": "email", "type": "string", "default": ""}, {"name": "phone", "type": "string"})


def expect_error(call, status, code):
    try:
        call()
    except SchemaRegistryError as e:
        assert (e.http_status_code, e.error_code) == (status, code), f"got {e!r}"
        return e.error_message
    raise AssertionError(f"expected HTTP {status} / error {code}, the call succeeded")


def check(url: str) -> None:
    sr = SchemaRegistryClient({"url": url})
    subject = f"interop-{uuid.uuid4().hex[:8]}-value"

    id1 = sr.register_schema(subject, Schema(V1, "AVRO"))
    assert SchemaRegistryClient({"url": url}).register_schema(subject, Schema(V1, "AVRO")) == id1, \
        "the same schema keeps its id"
    latest = sr.get_latest_version(subject)
    assert (latest.schema_id, latest.version, latest.subject) == (id1, 1, subject), latest
    assert json.loads(latest.schema.schema_str) == json.loads(V1)
    assert json.loads(sr.get_schema(id1).schema_str) == json.loads(V1)

    assert sr.test_compatibility(subject, Schema(V2, "AVRO")) is True
    assert sr.test_compatibility(subject, Schema(V3, "AVRO")) is False
    id2 = sr.register_schema(subject, Schema(V2, "AVRO"))
    assert id2 != id1
    reason = expect_error(lambda: sr.register_schema(subject, Schema(V3, "AVRO")), 409, 409)
    assert "phone" in reason, reason
    expect_error(lambda: sr.register_schema(subject, Schema('{"type": "record"}', "AVRO")), 422, 42201)

    assert sr.set_compatibility(subject, "NONE") == {"compatibility": "NONE"}
    assert sr.get_compatibility(subject) == "NONE"
    id3 = sr.register_schema(subject, Schema(V3, "AVRO"))
    assert sr.get_versions(subject) == [1, 2, 3]
    assert sr.lookup_schema(subject, Schema(V2, "AVRO")).version == 2
    assert subject in sr.get_subjects()
    assert sr.get_version(subject, 3).schema_id == id3

    # What an Avro producer and consumer do: the serializer looks the schema up
    # (auto-registration off), frames the body; the deserializer fetches by id.
    ser = AvroSerializer(sr, V3, conf={"auto.register.schemas": False, "use.latest.version": False})
    ctx = SerializationContext(subject.removesuffix("-value"), MessageField.VALUE)
    framed = ser({"id": 7, "email": "a@b.c", "phone": "123"}, ctx)
    assert framed[0] == 0 and int.from_bytes(framed[1:5], "big") == id3, framed[:5]
    back = AvroDeserializer(SchemaRegistryClient({"url": url}))(framed, ctx)
    assert back == {"id": 7, "email": "a@b.c", "phone": "123"}, back

    expect_error(lambda: sr.delete_subject(subject, permanent=True), 404, 40405)
    assert sr.delete_subject(subject) == [1, 2, 3]
    assert subject not in sr.get_subjects()
    assert sr.get_schema(id1) is not None, "ids outlive a soft delete"
    assert sr.delete_subject(subject, permanent=True) == [1, 2, 3]
    expect_error(lambda: SchemaRegistryClient({"url": url}).get_latest_version(subject), 404, 40401)
    print(f"interop ok: confluent-kafka's SchemaRegistryClient against {url} "
          f"(ids {id1}, {id2}, {id3}; 409 with reason; soft and hard delete)")






def main() -> None:
    target = sys.argv[1]
    if target.startswith(("http://", "https://")):
        check(target)
        return
    with weir_broker(target) as (_, url):
        check(url)


if __name__ == "__main__":
    main()
