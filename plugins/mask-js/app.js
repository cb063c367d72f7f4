// `mask-js`: masks personal fields of JSON records, e.g. before they leave a
// trusted topic. An example of a weir plugin in JavaScript (see plugins/sdk-js).
//
//   [transform.config]
//   fields = ["name", "email"]   # top-level string fields to mask (required)
//   keep = 1                     # leading characters kept; the rest become `*`
//
// "Ada Lovelace" becomes "A***********" (characters are Unicode code points).
// A record with none of the fields (absent or null), or whose masked fields are
// already masked, is passed on unchanged without a copy. A masked record is
// written back as compact JSON with sorted keys; its key, headers and timestamp
// are kept. A value that is not a JSON object fails with `malformed_json`, a
// field that is there but not a string with `wrong_type` (masking it some other
// way could leak it). A failed record goes to the DLQ as it came in, unmasked:
// protect the DLQ topic as you protect the input.
//
// `just plugin mask-js` builds target/plugins/mask-js.wasm;
// `weir conformance mask-js` plays fixtures/.

import { Rejection, Transform, WRONG_TYPE, sortedJson } from 'weir-sdk';

const NAME = 'mask-js';
const SURROGATES = /[\ud800-\udfff]/;

export default class MaskJs extends Transform {
  constructor(config) {
    super(config);
    const bad = (why) => new Error(`${NAME} config: ${why}`);
    for (const k of Object.keys(config)) {
      if (k !== 'fields' && k !== 'keep') throw bad(`unknown field \`${k}\`, expected \`fields\` or \`keep\``);
    }
    const { fields, keep = 1 } = config;
    if (fields === undefined) throw bad('missing field `fields`');
    if (!Array.isArray(fields) || fields.length === 0 || !fields.every((f) => typeof f === 'string' && f !== '')) {
      throw bad('fields must be a non-empty list of field names');
    }
    if (!Number.isSafeInteger(keep) || keep < 0) {
      throw bad(`keep must be a whole number of characters, 0 or more (got ${JSON.stringify(keep)})`);
    }
    this.fields = [...new Set(fields)];
    this.keep = keep;
  }

  /** The first `keep` code points of `s`, then one `*` per code point left. */
  mask(s) {
    if (!SURROGATES.test(s)) {
      // Every code point is one UTF-16 unit: plain string operations will do.
      return s.length <= this.keep ? s : s.slice(0, this.keep) + '*'.repeat(s.length - this.keep);
    }
    const chars = Array.from(s);
    if (chars.length <= this.keep) return s;
    return chars.slice(0, this.keep).join('') + '*'.repeat(chars.length - this.keep);
  }

  process(records, out) {
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      let doc;
      try {
        doc = r.jsonObject();
      } catch (e) {
        if (!(e instanceof Rejection)) throw e;
        out.reject(i, e); // malformed_json: tombstone, not JSON, or not an object
        continue;
      }
      let changed = false;
      const wrong = [];
      for (const f of this.fields) {
        const v = Object.hasOwn(doc, f) ? doc[f] : null;
        if (v === null) continue;
        if (typeof v !== 'string') {
          wrong.push(`${f} is not a string`);
          continue;
        }
        const masked = this.mask(v);
        if (masked !== v) {
          doc[f] = masked;
          changed = true;
        }
      }
      if (wrong.length > 0) {
        out.fail(i, WRONG_TYPE, wrong.join('; '));
      } else if (changed) {
        out.emit(i, r.key, sortedJson(doc), r.headers, r.timestampMs);
      } else {
        out.pass(i);
      }
    }
  }
}
