// The weir guest SDK for JavaScript: write a plugin as a class, `build.mjs` turns
// it into a WebAssembly component for the weir:plugin@0.3.0 contract.
//
//   import { Transform } from 'weir-sdk';
//   export default class Upper extends Transform {
//     constructor(config) { super(config); }
//     process(records, out) {
//       records.forEach((r, i) => out.emit(i, r.key, r.text()?.toUpperCase() ?? null, r.headers, r.timestampMs));
//     }
//   }
//
// Same meaning as the Rust SDK (plugins/sdk/src/{lib,flat,codes,json}.rs): the
// flat batch layout of wit/types.wit is read into `Record`s (key and value are
// `Uint8Array` views into the batch, not copies) and written by `Batch` (sources,
// ticks) and `Outcome` (transforms, aggregator updates).
//
// This module is plain JavaScript without imports: it runs under `node --test`
// as it does in the component. Only `bind.js` touches the world (its imports and
// exports), and the build script wires the plugin's class to it.

/** Length marking an absent key or value (a tombstone). */
export const ABSENT = 0xffffffff;

/** The value is not a JSON object, or there is no value (a tombstone). */
export const MALFORMED_JSON = 'malformed_json';
/** A required field is absent or `null`. */
export const MISSING_FIELD = 'missing_field';
/** A field has the wrong JSON type, or a value of the right type that cannot be read. */
export const WRONG_TYPE = 'wrong_type';

const ENCODER = new TextEncoder();
/** Invalid UTF-8 becomes U+FFFD, as Rust's `String::from_utf8_lossy`. */
const LOSSY = new TextDecoder('utf-8');
/** Refuses invalid UTF-8 and keeps a byte-order mark (which JSON then refuses), as serde_json. */
const STRICT = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const NO_HEADERS = Object.freeze([]);

/** A batch whose offsets do not fit its buffer: a bug on the side that built it. */
export class LayoutError extends Error {
  constructor(message) {
    super(`malformed batch layout: ${message}`);
    this.name = 'LayoutError';
  }
}

/**
 * Why a plugin refused a record: the rules it broke (codes of lower-case letters
 * and `_`) and a sentence an operator can act on. Hand it to `out.reject(i, rejection)`;
 * `Record.jsonObject()` throws one.
 */
export class Rejection extends Error {
  constructor(codes, reason) {
    const list = Array.isArray(codes) ? codes.map(String) : [String(codes)];
    super(reasonText(list, reason));
    this.name = 'Rejection';
    this.codes = list;
    this.reason = String(reason);
  }
}

/** `code[,code…]: reason`, or the reason alone without codes: how the DLQ shows a failure. */
export function reasonText(codes, reason) {
  return codes.length === 0 ? String(reason) : `${codes.join(',')}: ${reason}`;
}

/** `required field(s) a, b is/are missing`, worded as in every Rust plugin. */
export function missingFields(names) {
  const [s, verb] = names.length === 1 ? ['', 'is'] : ['s', 'are'];
  return `required field${s} ${names.join(', ')} ${verb} missing`;
}

/** One record of an input batch. `key` and `value` are views into the batch (or `null`). */
export class Record {
  constructor(key, value, headers, timestampMs) {
    /** @type {Uint8Array | null} */
    this.key = key;
    /** @type {Uint8Array | null} */
    this.value = value;
    /** @type {ReadonlyArray<[string, Uint8Array]>} */
    this.headers = headers;
    /** Event time, milliseconds since the Unix epoch (a Number). */
    this.timestampMs = timestampMs;
  }

  /** The value of the first header with this name, or `null`. */
  header(name) {
    for (const [n, v] of this.headers) {
      if (n === name) return v;
    }
    return null;
  }

  /** The key as text (invalid UTF-8 becomes U+FFFD), or `null` without a key. */
  keyText() {
    return this.key === null ? null : LOSSY.decode(this.key);
  }

  /** The value as text (invalid UTF-8 becomes U+FFFD), or `null` for a tombstone. */
  text() {
    return this.value === null ? null : LOSSY.decode(this.value);
  }

  /**
   * The value parsed as JSON (any JSON value). Throws a `Rejection` with code
   * `malformed_json` for a tombstone, invalid UTF-8 or text that is not JSON.
   */
  json() {
    if (this.value === null) {
      throw new Rejection(MALFORMED_JSON, 'record has no value (a tombstone)');
    }
    try {
      return JSON.parse(STRICT.decode(this.value));
    } catch (e) {
      throw new Rejection(MALFORMED_JSON, `value is not valid JSON: ${e.message}`);
    }
  }

  /** `json()`, and a `malformed_json` `Rejection` unless the value is a JSON object. */
  jsonObject() {
    const v = this.json();
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new Rejection(MALFORMED_JSON, 'value is not a JSON object');
    }
    return v;
  }
}

/**
 * Reads a batch in the flat layout into `Record`s, after checking that every
 * offset fits the buffer (a `LayoutError` otherwise, as the Rust SDK's
 * `FlatBatch::records`). `batch.timestamps` holds Numbers.
 */
export function readBatch(batch) {
  const { data, keys, values, headerCounts, headers, timestamps } = batch;
  const n = timestamps.length;
  if (keys.length !== 2 * n || values.length !== 2 * n || headerCounts.length !== n) {
    throw new LayoutError(
      `${n} timestamps but ${keys.length} key, ${values.length} value and ${headerCounts.length} header-count entries`,
    );
  }
  let total = 0;
  for (let i = 0; i < n; i++) total += headerCounts[i];
  if (headers.length !== total * 4) {
    throw new LayoutError(`${total} headers need ${total * 4} header offsets, got ${headers.length}`);
  }
  const size = data.length;
  const slice = (start, len) => {
    if (len === ABSENT) return null;
    const end = start + len;
    if (end > size) throw new LayoutError(`span ${start}..${end} outside the ${size}-byte buffer`);
    return data.subarray(start, end);
  };
  const out = new Array(n);
  let h = 0;
  for (let i = 0; i < n; i++) {
    const key = slice(keys[2 * i], keys[2 * i + 1]);
    const value = slice(values[2 * i], values[2 * i + 1]);
    const count = headerCounts[i];
    let hs = NO_HEADERS;
    if (count > 0) {
      hs = new Array(count);
      for (let j = 0; j < count; j++, h += 4) {
        const name = slice(headers[h], headers[h + 1]) ?? new Uint8Array(0);
        let text;
        try {
          text = STRICT.decode(name);
        } catch {
          throw new LayoutError(`record ${i}: header name is not UTF-8`);
        }
        hs[j] = [text, slice(headers[h + 2], headers[h + 3]) ?? new Uint8Array(0)];
      }
      Object.freeze(hs);
    }
    out[i] = new Record(key, value, hs, timestamps[i]);
  }
  return out;
}

/** Bytes of a key, value or header value: a Uint8Array (or other view), or a string (UTF-8). */
function toBytes(what, v) {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return ENCODER.encode(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  throw new TypeError(`${what} must be a Uint8Array, a string or null, not ${describe(v)}`);
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? `a ${v.constructor?.name ?? 'object'}` : `a ${typeof v}`;
}

function checkIndex(what, i) {
  if (!Number.isInteger(i) || i < 0 || i > 0xfffffffe) {
    throw new TypeError(`${what} must be the index of an input record, not ${String(i)}`);
  }
}

function checkTimestamp(t) {
  if (typeof t === 'bigint') t = Number(t);
  if (!Number.isSafeInteger(t)) {
    throw new TypeError(`timestampMs must be an integer number of milliseconds, not ${String(t)}`);
  }
  return t;
}

/**
 * Records being written in the flat layout: what a source's `nextBatch` and an
 * aggregator's `tick` fill, and the new records of an `Outcome`.
 */
export class Batch {
  constructor() {
    this._data = new Uint8Array(256);
    this._len = 0;
    this.keys = [];
    this.values = [];
    this.headerCounts = [];
    this.headers = [];
    this.timestamps = [];
  }

  /** How many records were pushed. */
  get length() {
    return this.timestamps.length;
  }

  _reserve(extra) {
    const need = this._len + extra;
    if (need <= this._data.length) return;
    let cap = this._data.length * 2;
    while (cap < need) cap *= 2;
    const grown = new Uint8Array(cap);
    grown.set(this._data.subarray(0, this._len));
    this._data = grown;
  }

  /** Writes `v` (absent: null/undefined) at the end of the buffer, its start and length into `out`. */
  _span(what, v, out) {
    if (v === null || v === undefined) {
      out.push(0, ABSENT);
      return;
    }
    const start = this._len;
    if (typeof v === 'string') {
      // At most 3 UTF-8 bytes per UTF-16 code unit: encode straight into the buffer.
      this._reserve(v.length * 3);
      const { written } = ENCODER.encodeInto(v, this._data.subarray(start));
      this._len += written;
      out.push(start, written);
      return;
    }
    const bytes = toBytes(what, v);
    this._reserve(bytes.length);
    this._data.set(bytes, start);
    this._len += bytes.length;
    out.push(start, bytes.length);
  }

  /**
   * Appends one record. `key`/`value`: Uint8Array, string (UTF-8) or null (absent);
   * `headers`: `[[name, value], …]` (e.g. an input record's `headers`) or an object;
   * `timestampMs`: integer milliseconds since the Unix epoch.
   */
  push(key, value, headers = NO_HEADERS, timestampMs = 0) {
    const ts = checkTimestamp(timestampMs);
    const pairs = Array.isArray(headers) ? headers : Object.entries(headers ?? {});
    const mark = [this._len, this.keys.length, this.values.length, this.headers.length];
    try {
      this._span('key', key, this.keys);
      this._span('value', value, this.values);
      for (const pair of pairs) {
        if (!Array.isArray(pair) || typeof pair[0] !== 'string') {
          throw new TypeError('headers must be [name, value] pairs with string names');
        }
        this._span('header name', pair[0], this.headers);
        this._span('header value', pair[1] ?? '', this.headers);
      }
    } catch (e) {
      // Leave the batch as it was: a caught error must not leave half a record behind.
      [this._len] = mark;
      this.keys.length = mark[1];
      this.values.length = mark[2];
      this.headers.length = mark[3];
      throw e;
    }
    this.headerCounts.push(pairs.length);
    this.timestamps.push(ts);
  }

  /** The flat layout (timestamps as Numbers; the binding turns them into s64). */
  finish() {
    return {
      data: this._data.subarray(0, this._len),
      keys: Uint32Array.from(this.keys),
      values: Uint32Array.from(this.values),
      headerCounts: Uint32Array.from(this.headerCounts),
      headers: Uint32Array.from(this.headers),
      timestamps: this.timestamps,
    };
  }
}

/**
 * What a transform or aggregator made of an input batch. Each input record is
 * passed on unchanged (`pass`), emitted as new records (`emit`, naming the input
 * it comes from), failed (`fail`/`reject`), or dropped (none of these).
 */
export class Outcome {
  constructor() {
    this.output = new Batch();
    this.origins = [];
    this.passed = [];
    this.failures = [];
  }

  /** Emits a new output record derived from input `origin`. */
  emit(origin, key, value, headers = NO_HEADERS, timestampMs = 0) {
    checkIndex('origin', origin);
    this.output.push(key, value, headers, timestampMs);
    this.origins.push(origin);
  }

  /**
   * Passes input `index` on unchanged without copying it: the host forwards the
   * record it sent. Call it in ascending index order.
   */
  pass(index) {
    checkIndex('index', index);
    const last = this.passed.length ? this.passed[this.passed.length - 1] : -1;
    if (index <= last) {
      throw new RangeError(`pass(${index}) after pass(${last}): passed inputs must be in ascending order`);
    }
    this.passed.push(index);
  }

  /** Rejects input `index` for breaking rule `code`; the host sends it to the DLQ with `reason`. */
  fail(index, code, reason) {
    this.reject(index, [code], reason);
  }

  /** Rejects input `index` with several codes and a reason, or with a `Rejection`. */
  reject(index, codes, reason) {
    checkIndex('index', index);
    if (codes instanceof Rejection) {
      ({ codes, reason } = codes);
    }
    const list = Array.isArray(codes) ? codes.map(String) : [String(codes)];
    this.failures.push({ index, codes: list, reason: String(reason ?? '') });
  }

  /**
   * Checks the outcome against an input of `inputs` records as the host will
   * (same wording as the Rust SDK's `Outcome::check`); throws a `LayoutError`.
   */
  check(inputs) {
    const bad = (i) => i >= inputs;
    if (this.origins.some(bad) || this.passed.some(bad) || this.failures.some((f) => bad(f.index))) {
      throw new LayoutError(`the outcome names input records that do not exist (the batch has ${inputs})`);
    }
    for (let k = 1; k < this.passed.length; k++) {
      if (this.passed[k - 1] >= this.passed[k]) {
        throw new LayoutError('passed inputs are not in ascending order');
      }
    }
    if (this.passed.length > 0) {
      for (let k = 1; k < this.origins.length; k++) {
        if (this.origins[k - 1] > this.origins[k]) {
          throw new LayoutError('records emitted beside passed inputs are not in input order');
        }
      }
    }
  }

  /** The contract's `outcome` (timestamps of the new records as Numbers). */
  finish() {
    return {
      output: this.output.finish(),
      origins: Uint32Array.from(this.origins),
      passed: Uint32Array.from(this.passed),
      failures: this.failures,
    };
  }
}

// ---- Plugin base classes -------------------------------------------------

/**
 * A plugin that makes records (the `source` world). The constructor gets the
 * connector's plugin config (a parsed JSON object); throw to refuse it.
 */
export class Source {
  constructor(config) {}
  /** Pushes up to `maxRecords` records into `out` (a `Batch`); none means "nothing now". */
  nextBatch(maxRecords, out) {
    throw new Error(`${this.constructor.name} must define nextBatch(maxRecords, out)`);
  }
  /** State to resume from after a restart (a Uint8Array). */
  snapshot() {
    return new Uint8Array(0);
  }
  /** Resumes from `snapshot()` bytes. */
  restore(state) {}
}

/** A plugin that maps each input record to zero or more outputs or a failure (the `transform` world). */
export class Transform {
  constructor(config) {}
  /** Records an outcome for each of `records` in `out`; a throw fails the whole batch. */
  process(records, out) {
    throw new Error(`${this.constructor.name} must define process(records, out)`);
  }
  /** State kept between batches, checkpointed with the source positions. */
  snapshot() {
    return new Uint8Array(0);
  }
  restore(state) {}
}

/** A stateful plugin the host checkpoints (the `aggregator` world). */
export class Aggregator {
  constructor(config) {}
  /** Folds `records` into the state; may already emit results into `out` (an `Outcome`). */
  update(records, out) {
    throw new Error(`${this.constructor.name} must define update(records, out)`);
  }
  /** Emits into `out` (a `Batch`) what the watermark has completed. */
  tick(watermarkMs, nowMs, out) {
    throw new Error(`${this.constructor.name} must define tick(watermarkMs, nowMs, out)`);
  }
  snapshot() {
    throw new Error(`${this.constructor.name} must define snapshot()`);
  }
  restore(state) {
    throw new Error(`${this.constructor.name} must define restore(state)`);
  }
}

// ---- Host services -------------------------------------------------------

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
let logger = (level, message) => console.error(`[${level}] ${message}`);

/** @internal The binding installs the host's `log` import here. */
export function setLogger(f) {
  logger = f;
}

/** Writes a line into the host's log, tagged with the plugin and connector. */
export function log(level, message) {
  if (!LEVELS.includes(level)) {
    throw new TypeError(`log level must be one of ${LEVELS.join(', ')}, not ${String(level)}`);
  }
  logger(level, String(message));
}

/**
 * The guest's wall clock in milliseconds since the Unix epoch: WASI's clock,
 * which the host makes virtual in conformance runs.
 */
export function nowMs() {
  return Date.now();
}

/**
 * A number in [0, 1), from WASI randomness: seeded, hence repeatable, under the
 * conformance harness; the host's randomness otherwise. The same stream as
 * `Math.random()` (see README.md: componentize-js draws it from wasi:random).
 * Do not call it at module top level: that runs at build time, without WASI.
 */
export function random() {
  return Math.random();
}

// ---- JSON helpers ----------------------------------------------------------

/**
 * UTF-16 code units reordered so that comparing them compares code points, i.e.
 * the UTF-8 byte order of Rust's `BTreeMap<String, _>` and serde_json's maps.
 */
function unit(c) {
  return c >= 0xe000 ? c - 0x800 : c >= 0xd800 ? c + 0x2000 : c;
}

/** Orders strings as their UTF-8 bytes (code points), like Rust's `str` ordering. */
export function compareKeys(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return unit(x) - unit(y);
  }
  return a.length - b.length;
}

/**
 * Compact JSON with object keys sorted (by UTF-8 bytes), as serde_json writes a
 * `Value` or a `BTreeMap` in a Rust plugin: the same bytes as the Rust SDK's
 * output for the same document, and a deterministic snapshot (`JSON.stringify`
 * keeps insertion order but moves integer-like keys first). Maps count as
 * objects, BigInts as integers. Numbers are written the JavaScript way (`1.0`
 * becomes `1`, `1e21` becomes `1e+21`, integers beyond 2^53 lose precision).
 */
export function sortedJson(value) {
  // Most documents (e.g. parsed from what a Rust plugin or the host wrote) are
  // already in order: then the engine's native JSON.stringify writes the same bytes.
  return canonical(value) ? JSON.stringify(value) : writeSorted(value);
}

/** Keys containing code units >= U+D800, where UTF-16 order and code point order differ. */
const HIGH = /[\ud800-\uffff]/;

/** Whether `JSON.stringify(v)` already writes what `sortedJson(v)` would. */
function canonical(v) {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'number':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (v === null) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!canonical(v[i])) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if ((proto !== Object.prototype && proto !== null) || 'toJSON' in v) return false;
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    if (HIGH.test(keys[i]) || (i > 0 && !(keys[i - 1] < keys[i])) || !canonical(v[keys[i]])) return false;
  }
  return true;
}

function writeSorted(value) {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (typeof value.toJSON === 'function') return sortedJson(value.toJSON());
  if (Array.isArray(value)) return `[${value.map(writeSorted).join(',')}]`;
  const obj = value instanceof Map ? Object.fromEntries(value) : value;
  const keys = Object.keys(obj);
  // The native sort (no callback) compares UTF-16 units: the same order unless a key
  // has units >= U+D800.
  if (keys.some((k) => HIGH.test(k))) keys.sort(compareKeys);
  else keys.sort();
  let out = '{';
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(k)}:${writeSorted(v)}`;
  }
  return `${out}}`;
}

/**
 * Checks a plugin's config (the parsed JSON object the constructor gets)
 * against `defaults` and returns it with the defaults filled in. A field whose
 * default is `undefined` is required; an unknown field, a missing required one
 * or a value of another JSON type than its default throws
 * `"{plugin} config: …"`, worded like serde's messages in the Rust SDK.
 */
export function parseConfig(plugin, config, defaults) {
  const fail = (why) => {
    throw new Error(`${plugin} config: ${why}`);
  };
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    fail(`invalid type: ${jsonType(config)}, expected a table`);
  }
  const known = Object.keys(defaults);
  const listed = known.map((k) => `\`${k}\``);
  const expected =
    known.length === 0
      ? 'there are no fields'
      : known.length === 1
        ? `expected ${listed[0]}`
        : known.length === 2
          ? `expected ${listed[0]} or ${listed[1]}`
          : `expected one of ${listed.join(', ')}`;
  const out = {};
  for (const [k, v] of Object.entries(config)) {
    if (!Object.hasOwn(defaults, k)) fail(`unknown field \`${k}\`, ${expected}`);
    const d = defaults[k];
    if (d !== undefined && d !== null && jsonType(v) !== jsonType(d)) {
      fail(`invalid type for \`${k}\`: ${jsonType(v)}, expected ${jsonType(d)}`);
    }
    out[k] = v;
  }
  for (const k of known) {
    if (Object.hasOwn(out, k)) continue;
    if (defaults[k] === undefined) fail(`missing field \`${k}\``);
    out[k] = structuredCloneSafe(defaults[k]);
  }
  return out;
}

function structuredCloneSafe(v) {
  return v !== null && typeof v === 'object' ? JSON.parse(JSON.stringify(v)) : v;
}

function jsonType(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string':
      return 'a string';
    case 'number':
    case 'bigint':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'a table';
    default:
      return typeof v;
  }
}

/** Snapshot bytes of `state`: `sortedJson` as UTF-8, deterministic. */
export function snapshotJson(state) {
  return ENCODER.encode(sortedJson(state));
}

/**
 * Reads a `snapshotJson` snapshot: `null` for no bytes (the host's "start
 * fresh"); throws `"{plugin} snapshot: not a {plugin} snapshot: …"` for bytes
 * that are not JSON.
 */
export function restoreJson(plugin, bytes) {
  if (bytes.length === 0) return null;
  try {
    return JSON.parse(STRICT.decode(bytes));
  } catch (e) {
    throw new Error(`${plugin} snapshot: not a ${plugin} snapshot: ${e.message}`);
  }
}

/** `"{plugin} snapshot: inconsistent state: {problem}"`. */
export function inconsistentSnapshot(plugin, problem) {
  return new Error(`${plugin} snapshot: inconsistent state: ${problem}`);
}
