"""`{{name}}`: a transform plugin. It upper-cases one string field of each JSON
record, passes records without that field on unchanged and rejects records
whose value is not a JSON object. Replace the logic in `process`; keep the shape."""

from weir_sdk import Transform, dumps, parse_config


class {{Type}}(Transform):
    def __init__(self, config):
        # `field = "name"`: the string field to upper-case. Unknown settings are refused.
        self.field = parse_config("{{name}}", config, {"field": "name"})["field"]

    def process(self, records, out):
        for i, r in enumerate(records):
            try:
                doc = r.json()
            except ValueError:
                doc = None
            if not isinstance(doc, dict):
                # The code travels beside the reason: the host counts DLQ records per code.
                out.fail(i, "not_json", "the value is not a JSON object")
                continue
            value = doc.get(self.field)
            if not isinstance(value, str):
                # Nothing to change: the host forwards the input without a copy.
                out.pass_(i)
                continue
            doc[self.field] = value.upper()
            out.emit(i, r.key, dumps(doc), r.headers, r.timestamp_ms)
