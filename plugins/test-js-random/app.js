// `test-js-random`: each record holds what JavaScript's own sources of time and
// chance gave (Math.random, crypto.getRandomValues, Date.now). Its fixtures prove
// the harness drives them: each case runs twice with the same bytes, and two
// seeds give different numbers.

import { Source, nowMs, sortedJson } from 'weir-sdk';

export default class TestJsRandom extends Source {
  nextBatch(maxRecords, out) {
    for (let i = 0; i < maxRecords; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(4));
      const record = {
        random: Math.random(),
        crypto: Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(''),
        now: Date.now(),
      };
      out.push(null, sortedJson(record), [], nowMs());
    }
  }
}
