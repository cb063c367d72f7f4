// The one binding site: turns a plugin class (the default export of a plugin's
// app.js) into the exports of its weir:plugin@0.3.0 world, as componentize-js
// 0.23 expects them, and installs the host's `log` import into the SDK.
//
// componentize-js looks an interface export up by its camelCase name
// (`transformApi`, `sourceApi`, `aggregatorApi`) or its qualified name
// (`weir:plugin/transform-api@0.3.0`). A `result<T, string>` export may return
// its `ok` payload or `{ tag: 'ok' | 'err', val }`; a thrown value becomes the
// `err` only if it is not an `Error` (or carries an own `payload`), otherwise the
// call traps. So every call here catches and returns `{ tag: 'err', val: text }`:
// a plugin's exception fails the call (the whole batch to the DLQ, init refusing
// the config), never the instance.
//
// `s64` crosses as BigInt (`timestamps` as a BigInt64Array): converted here, so
// plugins see Numbers.
//
// The build script (build.mjs) generates the component's entry module:
//   import Plugin from '<plugin>/app.js';
//   import { bind } from '<sdk>/bind.js';
//   export const { transformApi, sourceApi, aggregatorApi } = bind(Plugin, 'transform');

import { log as hostLog } from 'weir:plugin/host@0.3.0';
import {
  Aggregator,
  Batch,
  Outcome,
  Source,
  Transform,
  readBatch,
  setLogger,
} from './weir-sdk.js';

setLogger(hostLog);

const ENCODER = new TextEncoder();
const EMPTY = new Uint8Array(0);

const BUILTIN_ERRORS = new Set([
  'TypeError',
  'RangeError',
  'ReferenceError',
  'SyntaxError',
  'EvalError',
  'URIError',
  'InternalError',
  'AggregateError',
]);

/** The text of an exception, for the call's `err`. */
function errorText(e) {
  if (e instanceof Error) {
    // Deliberate errors (`throw new Error('…')`, subclasses) read as their message;
    // the engine's own (a bug: TypeError, RangeError, …) keep their kind, and their
    // stack goes to the log at debug level.
    if (!BUILTIN_ERRORS.has(e.name)) return e.message;
    if (e.stack) hostLog('debug', `${e.name}: ${e.message}\n${e.stack}`);
    return `${e.name}: ${e.message}`;
  }
  return String(e);
}

const ok = (val) => ({ tag: 'ok', val });
const err = (e) => ({ tag: 'err', val: errorText(e) });
const NOT_STARTED = { tag: 'err', val: 'plugin called before init' };

function wireBatch(b) {
  const flat = b.finish();
  const ts = new BigInt64Array(flat.timestamps.length);
  for (let i = 0; i < ts.length; i++) ts[i] = BigInt(flat.timestamps[i]);
  flat.timestamps = ts;
  return flat;
}

function wireOutcome(o, inputs) {
  o.check(inputs);
  const flat = o.finish();
  flat.output = wireBatch(o.output);
  return flat;
}

function records(input) {
  const ts = input.timestamps;
  const numbers = new Array(ts.length);
  for (let i = 0; i < ts.length; i++) numbers[i] = Number(ts[i]);
  return readBatch({ ...input, timestamps: numbers });
}

function bytes(state, Plugin) {
  if (state === undefined || state === null) return EMPTY;
  if (state instanceof Uint8Array) return state;
  if (typeof state === 'string') return ENCODER.encode(state);
  if (ArrayBuffer.isView(state)) return new Uint8Array(state.buffer, state.byteOffset, state.byteLength);
  if (state instanceof ArrayBuffer) return new Uint8Array(state);
  throw new TypeError(`${Plugin.name}.snapshot() must return a Uint8Array or a string`);
}

function checkClass(Plugin, Base, world) {
  if (typeof Plugin !== 'function' || !(Plugin.prototype instanceof Base)) {
    throw new TypeError(
      `the default export of app.js must be a class extending ${Base.name} from "weir-sdk" (world ${world})`,
    );
  }
}

/** The calls every world shares: init (constructs the plugin), snapshot, restore. */
function common(Plugin, state) {
  return {
    init(config) {
      try {
        state.plugin = new Plugin(JSON.parse(config));
        return ok(undefined);
      } catch (e) {
        return err(e);
      }
    },
    snapshot() {
      if (!state.plugin) return EMPTY;
      try {
        return bytes(state.plugin.snapshot(), Plugin);
      } catch (e) {
        // `snapshot` cannot return an error: trap rather than checkpoint a wrong state.
        hostLog('error', `snapshot failed: ${errorText(e)}`);
        throw e;
      }
    },
    restore(bytes) {
      if (!state.plugin) return NOT_STARTED;
      try {
        state.plugin.restore(bytes);
        return ok(undefined);
      } catch (e) {
        return err(e);
      }
    },
  };
}

/** The `transform-api` export for a `Transform` subclass. */
export function bindTransform(Plugin) {
  checkClass(Plugin, Transform, 'transform');
  const state = { plugin: null };
  return {
    ...common(Plugin, state),
    process(input) {
      if (!state.plugin) return NOT_STARTED;
      try {
        const rs = records(input);
        const out = new Outcome();
        state.plugin.process(rs, out);
        return ok(wireOutcome(out, rs.length));
      } catch (e) {
        return err(e);
      }
    },
  };
}

/** The `source-api` export for a `Source` subclass. */
export function bindSource(Plugin) {
  checkClass(Plugin, Source, 'source');
  const state = { plugin: null };
  return {
    ...common(Plugin, state),
    nextBatch(maxRecords) {
      if (!state.plugin) return NOT_STARTED;
      try {
        const out = new Batch();
        state.plugin.nextBatch(maxRecords, out);
        return ok(wireBatch(out));
      } catch (e) {
        return err(e);
      }
    },
  };
}

/** The `aggregator-api` export for an `Aggregator` subclass. */
export function bindAggregator(Plugin) {
  checkClass(Plugin, Aggregator, 'aggregator');
  const state = { plugin: null };
  return {
    ...common(Plugin, state),
    update(input) {
      if (!state.plugin) return NOT_STARTED;
      try {
        const rs = records(input);
        const out = new Outcome();
        state.plugin.update(rs, out);
        return ok(wireOutcome(out, rs.length));
      } catch (e) {
        return err(e);
      }
    },
    tick(watermarkMs, nowMs) {
      if (!state.plugin) return NOT_STARTED;
      try {
        const out = new Batch();
        state.plugin.tick(Number(watermarkMs), Number(nowMs), out);
        return ok(wireBatch(out));
      } catch (e) {
        return err(e);
      }
    },
  };
}

/**
 * The exports of `world` for `Plugin`, under componentize-js's names: the
 * generated entry module re-exports them as
 * `export const { transformApi, sourceApi, aggregatorApi } = bind(Plugin, world)`.
 */
export function bind(Plugin, world) {
  switch (world) {
    case 'transform':
      return { transformApi: bindTransform(Plugin) };
    case 'source':
      return { sourceApi: bindSource(Plugin) };
    case 'aggregator':
      return { aggregatorApi: bindAggregator(Plugin) };
    default:
      throw new TypeError(`unknown world ${String(world)}: expected transform, source or aggregator`);
  }
}
