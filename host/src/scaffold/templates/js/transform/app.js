// `{{name}}`: a transform plugin. It upper-cases one string field of each JSON
// record, passes records without that field on unchanged and rejects records
// whose value is not a JSON object. Replace the logic in `process`; keep the shape.
//
// `just plugin {{name}}` builds it into target/plugins/{{name}}.wasm
// (plugins/sdk-js/build.mjs; run `npm ci --prefix plugins/sdk-js` once).

import { Transform, parseConfig, sortedJson } from 'weir-sdk';

export default class {{Type}} extends Transform {
  /** `config`: the connector's `[transform.config]` table, as a parsed JSON object. */
  constructor(config) {
    super(config);
    // `field = "name"`: the string field to upper-case. Unknown settings are refused.
    const c = parseConfig('{{name}}', config, { field: 'name' });
    this.field = c.field;
  }

  process(records, out) {
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      let doc = null;
      try {
        doc = r.json();
      } catch {
        // not JSON, or a tombstone: handled below
      }
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
        // The code travels beside the reason: the host counts DLQ records per code.
        out.fail(i, 'not_json', 'the value is not a JSON object');
        continue;
      }
      const value = Object.hasOwn(doc, this.field) ? doc[this.field] : undefined;
      if (typeof value !== 'string') {
        // Nothing to change: the host forwards the input without a copy.
        out.pass(i);
        continue;
      }
      doc[this.field] = value.toUpperCase();
      // Compact JSON with sorted keys, as serde_json writes it.
      out.emit(i, r.key, sortedJson(doc), r.headers, r.timestampMs);
    }
  }
}
