// `{{name}}`: an aggregator plugin. It counts records per key and, on every
// tick, emits one `{"count": N, "key": K}` row per key. The counts are its
// state, checkpointed by the host. Replace the logic in `update` and `tick`.
//
// `just plugin {{name}}` builds it into target/plugins/{{name}}.wasm
// (plugins/sdk-js/build.mjs; run `npm ci --prefix plugins/sdk-js` once).

import { Aggregator, compareKeys, parseConfig, restoreJson, snapshotJson, sortedJson } from 'weir-sdk';

export default class {{Type}} extends Aggregator {
  /** `config`: the connector's `[aggregate.config]` table (no settings yet). */
  constructor(config) {
    super(config);
    parseConfig('{{name}}', config, {});
    /** @type {Map<string, number>} */
    this.counts = new Map();
  }

  update(records, out) {
    for (const r of records) {
      const key = r.key === null ? '(none)' : r.keyText();
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    }
  }

  tick(watermarkMs, nowMs, out) {
    // Keys in UTF-8 byte order, as a Rust BTreeMap keeps them.
    for (const key of [...this.counts.keys()].sort(compareKeys)) {
      const row = { key, count: this.counts.get(key) };
      out.push(key, sortedJson(row), [], nowMs);
    }
  }

  /** The counts as compact JSON with sorted keys: `{"a":2,"b":1}`. */
  snapshot() {
    return snapshotJson(this.counts);
  }

  /** An empty state starts afresh; anything else must be a snapshot of counts. */
  restore(state) {
    if (state.length === 0) {
      this.counts = new Map();
      return;
    }
    const counts = restoreJson('{{name}}', state);
    const bad = (why) => new Error(`{{name}} snapshot: not a {{name}} snapshot: ${why}`);
    if (counts === null || typeof counts !== 'object' || Array.isArray(counts)) throw bad('expected a map of counts');
    for (const [key, n] of Object.entries(counts)) {
      if (!Number.isSafeInteger(n) || n < 0) {
        throw bad(`the count of ${JSON.stringify(key)} is not an unsigned integer`);
      }
    }
    this.counts = new Map(Object.entries(counts));
  }
}
