// The SDK's flat-layout code, without wasm: `node --test plugins/sdk-js/test/`.
// Mirrors the tests of plugins/sdk/src/flat.rs.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ABSENT,
  Batch,
  LayoutError,
  Outcome,
  Rejection,
  compareKeys,
  missingFields,
  parseConfig,
  readBatch,
  restoreJson,
  snapshotJson,
  sortedJson,
} from '../weir-sdk.js';

const enc = new TextEncoder();
const bytes = (s) => enc.encode(s);

test('round trip keeps every part', () => {
  const b = new Batch();
  b.push('k1', '{"a":1}', [['h', 'v'], ['x', '']], 7);
  b.push(null, null, [], -1);
  b.push(new Uint8Array(0), bytes('v'), undefined, 9);
  const flat = b.finish();
  assert.deepEqual([...flat.keys.slice(2, 4)], [0, ABSENT]);
  const r = readBatch(flat);
  assert.equal(r.length, 3);
  assert.deepEqual(r[0].key, bytes('k1'));
  assert.equal(r[0].keyText(), 'k1');
  assert.deepEqual(r[0].json(), { a: 1 });
  assert.deepEqual(r[0].headers, [['h', bytes('v')], ['x', new Uint8Array(0)]]);
  assert.deepEqual(r[0].header('x'), new Uint8Array(0));
  assert.equal(r[0].header('nope'), null);
  assert.equal(r[0].timestampMs, 7);
  assert.equal(r[1].key, null);
  assert.equal(r[1].value, null);
  assert.equal(r[1].text(), null);
  assert.equal(r[1].timestampMs, -1);
  assert.deepEqual(r[2].key, new Uint8Array(0));
  assert.equal(r[2].text(), 'v');
});

test('keys and values are views into the batch, not copies', () => {
  const b = new Batch();
  b.push('key', 'value');
  const flat = b.finish();
  const [r] = readBatch(flat);
  assert.equal(r.value.buffer, flat.data.buffer);
  assert.equal(r.value.byteOffset, 3);
});

test('a batch grows past its first buffer and encodes UTF-8', () => {
  const b = new Batch();
  const long = 'é'.repeat(1000) + '𝄞';
  for (let i = 0; i < 50; i++) b.push(String(i), long, { h: `${i}` }, i);
  const r = readBatch(b.finish());
  assert.equal(r.length, 50);
  assert.equal(r[49].text(), long);
  assert.equal(new TextDecoder().decode(r[49].header('h')), '49');
});

test('out-of-range offsets are an error, not a crash', () => {
  const b = new Batch();
  b.push('k', 'v');
  const flat = b.finish();
  flat.values[0] = 1000;
  assert.throws(() => readBatch(flat), (e) => e instanceof LayoutError && /outside/.test(e.message));

  const h = new Batch();
  h.push('k', 'v', [['a', 'b']]);
  const f2 = h.finish();
  f2.headers = f2.headers.slice(0, 3);
  assert.throws(() => readBatch(f2), /header offsets/);
  const f3 = h.finish();
  f3.timestamps = [...f3.timestamps, 1];
  assert.throws(() => readBatch(f3), /1 header-count entries/);
});

test('header names must be UTF-8', () => {
  const flat = {
    data: new Uint8Array([0xff, 0x61]),
    keys: [0, ABSENT],
    values: [0, ABSENT],
    headerCounts: [1],
    headers: [0, 1, 1, 1],
    timestamps: [0],
  };
  assert.throws(() => readBatch(flat), /record 0: header name is not UTF-8/);
});

test('json() rejects with malformed_json, jsonObject() wants an object', () => {
  const b = new Batch();
  b.push(null, 'nope');
  b.push(null, null);
  b.push(null, '[1]');
  b.push(null, new Uint8Array([0xef, 0xbb, 0xbf, 0x31])); // a BOM: serde_json refuses it
  const [bad, tomb, arr, bom] = readBatch(b.finish());
  assert.throws(() => bad.json(), (e) => e instanceof Rejection && e.codes[0] === 'malformed_json' && /^value is not valid JSON: /.test(e.reason));
  assert.throws(() => tomb.json(), { message: 'malformed_json: record has no value (a tombstone)' });
  assert.throws(() => arr.jsonObject(), { message: 'malformed_json: value is not a JSON object' });
  assert.throws(() => bom.json(), Rejection);
});

test('passed inputs merge-check like the Rust SDK', () => {
  const o = new Outcome();
  o.pass(0);
  o.emit(1, 'a', null);
  o.pass(2);
  o.emit(2, 'b', null);
  o.emit(4, 'c', null);
  o.pass(5);
  o.check(6);
  const w = o.finish();
  assert.deepEqual([...w.origins], [1, 2, 4]);
  assert.deepEqual([...w.passed], [0, 2, 5]);
  assert.equal(readBatch(w.output).length, 3);
});

test('outcomes that do not fit their input are refused', () => {
  const refuse = (o) => assert.throws(() => o.check(2), LayoutError);
  let o = new Outcome();
  o.pass(2);
  assert.throws(() => o.check(2), /do not exist/);
  o = new Outcome();
  o.pass(1);
  assert.throws(() => o.pass(0), /ascending/);
  assert.throws(() => o.pass(1), /ascending/);
  o = new Outcome();
  o.pass(0);
  o.emit(1, null, null);
  o.emit(0, null, null);
  assert.throws(() => o.check(2), /not in input order/);
  o = new Outcome();
  o.fail(5, 'x', 'y');
  refuse(o);
  o = new Outcome();
  o.emit(1, null, null);
  o.emit(0, null, null);
  o.check(2); // without passed inputs, any order
  assert.throws(() => o.emit(-1, null, null), TypeError);
  assert.throws(() => o.emit(1.5, null, null), TypeError);
});

test('failures keep codes and reasons', () => {
  const o = new Outcome();
  o.fail(0, 'not_json', 'the value is not a JSON object');
  o.reject(1, ['missing_field', 'wrong_type'], 'both');
  o.reject(1, new Rejection('malformed_json', 'value is not a JSON object'));
  assert.deepEqual(o.finish().failures, [
    { index: 0, codes: ['not_json'], reason: 'the value is not a JSON object' },
    { index: 1, codes: ['missing_field', 'wrong_type'], reason: 'both' },
    { index: 1, codes: ['malformed_json'], reason: 'value is not a JSON object' },
  ]);
  assert.equal(missingFields(['a']), 'required field a is missing');
  assert.equal(missingFields(['a', 'b']), 'required fields a, b are missing');
});

test('a push that throws leaves no half record behind', () => {
  const b = new Batch();
  b.push('a', 'b');
  assert.throws(() => b.push('k', 'v', [['h', 42]]), TypeError);
  assert.throws(() => b.push('k', 'v', [], 1.5), TypeError);
  assert.throws(() => b.push(42, 'v'), TypeError);
  assert.equal(b.length, 1);
  const flat = b.finish();
  assert.equal(flat.data.length, 2);
  assert.equal(flat.keys.length, 2);
  assert.deepEqual(readBatch(flat).map((r) => r.text()), ['b']);
});

test('sortedJson writes compact JSON with keys in UTF-8 byte order', () => {
  assert.equal(sortedJson({ name: 'ADA', id: 1 }), '{"id":1,"name":"ADA"}');
  assert.equal(sortedJson({ b: 1, 10: 2, 9: 3, a: [1, { z: null, y: 'é' }] }), '{"10":2,"9":3,"a":[1,{"y":"é","z":null}],"b":1}');
  assert.equal(sortedJson(new Map([['b', 1n], ['a', 2]])), '{"a":2,"b":1}');
  assert.equal(sortedJson('line\n"q"\u0001'), '"line\\n\\"q\\"\\u0001"');
  // U+FF61 sorts before U+1F600 by code point, not by UTF-16 unit.
  assert.ok(compareKeys('\uff61', '\u{1f600}') < 0);
  assert.equal(sortedJson({ '\u{1f600}': 1, '\uff61': 2 }), '{"\uff61":2,"\u{1f600}":1}');
});

test('sortedJson takes the native fast path only when it writes the same bytes', () => {
  const cases = [
    [{ a: 1, b: { d: 1, c: 2 } }, '{"a":1,"b":{"c":2,"d":1}}'],
    [{ 9: 1, 10: 2 }, '{"10":2,"9":1}'],
    [{ a: [1, undefined, () => 1], b: undefined }, '{"a":[1,null,null]}'],
    [{ when: new Date(0) }, '{"when":"1970-01-01T00:00:00.000Z"}'],
    [{ toJSON: 1, a: NaN }, '{"a":null,"toJSON":1}'],
    [{ '\u{1f600}': 1, '\uff61': 2, a: 3 }, '{"a":3,"\uff61":2,"\u{1f600}":1}'],
    [[{ b: 1, a: 2 }, 'x', true, null, 1.5], '[{"a":2,"b":1},"x",true,null,1.5]'],
    [{ a: { b: { c: [{ e: 1, d: 2 }] } } }, '{"a":{"b":{"c":[{"d":2,"e":1}]}}}'],
    [Object.assign(Object.create(null), { b: 1, a: 2 }), '{"a":2,"b":1}'],
    [{ n: 12345678901234567890n }, '{"n":12345678901234567890}'],
  ];
  for (const [value, want] of cases) assert.equal(sortedJson(value), want);
  // Random documents: the output parses back to the same value, keys in order.
  let seed = 42;
  const rnd = (n) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  const key = () => ['a', 'b', 'B', '1', '10', '_', 'é', '\uff61', '\u{1f600}'][rnd(9)] + (rnd(3) ? '' : String(rnd(20)));
  const doc = (d) => {
    switch (d > 3 ? rnd(4) : rnd(6)) {
      case 0: return rnd(1000) - 500;
      case 1: return `s${rnd(99)}`;
      case 2: return rnd(2) === 0;
      case 3: return null;
      case 4: return Array.from({ length: rnd(4) }, () => doc(d + 1));
      default: return Object.fromEntries(Array.from({ length: rnd(5) }, () => [key(), doc(d + 1)]));
    }
  };
  // The reference: every object's keys sorted by code point, written recursively.
  const reference = (x) =>
    x === null || typeof x !== 'object'
      ? JSON.stringify(x)
      : Array.isArray(x)
        ? `[${x.map(reference).join(',')}]`
        : `{${Object.keys(x).sort(compareKeys).map((k) => `${JSON.stringify(k)}:${reference(x[k])}`).join(',')}}`;
  for (let n = 0; n < 500; n++) {
    const v = doc(0);
    const text = sortedJson(v);
    assert.equal(text, reference(v));
    assert.deepEqual(JSON.parse(text), v);
    assert.equal(sortedJson(JSON.parse(text)), text, 'writing what was written changes nothing');
  }
});

test('config: defaults, unknown and missing fields, types', () => {
  assert.deepEqual(parseConfig('p', {}, { field: 'name' }), { field: 'name' });
  assert.deepEqual(parseConfig('p', { field: 'x' }, { field: 'name' }), { field: 'x' });
  assert.throws(() => parseConfig('p', { rows: 5 }, { last_rows: undefined }), {
    message: 'p config: unknown field `rows`, expected `last_rows`',
  });
  assert.throws(() => parseConfig('p', { x: 1 }, { a: 1, b: 2, c: 3 }), {
    message: 'p config: unknown field `x`, expected one of `a`, `b`, `c`',
  });
  assert.throws(() => parseConfig('p', {}, { need: undefined }), { message: 'p config: missing field `need`' });
  assert.throws(() => parseConfig('p', { field: 3 }, { field: 'name' }), {
    message: 'p config: invalid type for `field`: a number, expected a string',
  });
});

test('snapshots round trip and empty is fresh', () => {
  const bytes = snapshotJson({ b: 2, a: 1 });
  assert.equal(new TextDecoder().decode(bytes), '{"a":1,"b":2}');
  assert.deepEqual(restoreJson('p', bytes), { a: 1, b: 2 });
  assert.equal(restoreJson('p', new Uint8Array(0)), null);
  assert.throws(() => restoreJson('p', enc.encode('{')), /^Error: p snapshot: not a p snapshot: /);
});
