// `{{name}}`: a source plugin. It counts: each record is `{"id": "PREFIX-N",
// "n": N}` keyed by N, stamped with the guest's clock. Its position is its state,
// so a restart continues the count. Replace the logic in `nextBatch`.
//
// `just plugin {{name}}` builds it into target/plugins/{{name}}.wasm
// (plugins/sdk-js/build.mjs; run `npm ci --prefix plugins/sdk-js` once).

import { Source, nowMs, parseConfig, sortedJson } from 'weir-sdk';

export default class {{Type}} extends Source {
  /** `config`: the connector's `[source.generator.config]` table, as a parsed JSON object. */
  constructor(config) {
    super(config);
    // `prefix = "event"`: the start of every id. Unknown settings are refused.
    const c = parseConfig('{{name}}', config, { prefix: 'event' });
    this.prefix = c.prefix;
    this.next = 0n; // a u64, as the snapshot stores it
  }

  nextBatch(maxRecords, out) {
    const now = nowMs();
    for (let k = 0; k < maxRecords; k++) {
      const n = this.next;
      this.next += 1n;
      out.push(String(n), sortedJson({ id: `${this.prefix}-${n}`, n }), [], now);
    }
  }

  /** The count as 8 little-endian bytes. */
  snapshot() {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, this.next, true);
    return bytes;
  }

  restore(state) {
    if (state.length !== 8) {
      throw new Error(`{{name}} snapshot: expected 8 bytes, got ${state.length}`);
    }
    this.next = new DataView(state.buffer, state.byteOffset, 8).getBigUint64(0, true);
  }
}
