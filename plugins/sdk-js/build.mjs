#!/usr/bin/env node
// Builds a JavaScript weir plugin into a WebAssembly component:
//
//   node plugins/sdk-js/build.mjs <plugin-dir> <world> <out.wasm>
//
// 1. generates an entry module that binds the default export of
//    <plugin-dir>/app.js to the world's exports (bind.js, the one binding site);
// 2. bundles it with the SDK into one ES module (rolldown; `weir-sdk` resolves to
//    this folder, `weir:plugin/*` imports stay for the component's imports);
// 3. runs componentize-js with the repository's wit/ folder and <world>, the
//    WASI features weir does not provide switched off, and writes <out.wasm>.
//
// Needs `npm ci --prefix plugins/sdk-js` once.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SDK_DIR = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(SDK_DIR, '..', '..');
const WIT = join(REPO, 'wit');
const WORLDS = ['transform', 'source', 'aggregator'];

// componentize-js features: `http` and `fetch-event` import wasi:http, which weir
// does not link; `stdio` imports wasi:cli stdin/stdout/terminal and
// wasi:filesystem (console.log). Without them the component imports only
// weir:plugin, wasi:clocks, wasi:random, wasi:io and wasi:cli/stderr. Plugins log
// through `log()` from "weir-sdk" (the host's log), not console.
const DISABLED_FEATURES = ['stdio', 'http', 'fetch-event'];

function die(message, code = 1) {
  console.error(`build.mjs: ${message}`);
  process.exit(code);
}

async function load(name) {
  try {
    return await import(name);
  } catch (e) {
    if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') {
      const prefix = resolve(process.cwd()) === REPO ? 'plugins/sdk-js' : SDK_DIR;
      // The package itself, or one it imports (the message names which).
      die(`${name} cannot be loaded from ${SDK_DIR}/node_modules (${e.message.split('\n')[0]}); ` +
          `run \`npm ci --prefix ${prefix}\``, 2);
    }
    throw e;
  }
}

const args = process.argv.slice(2);
if (args.length !== 3 || args.includes('--help') || args.includes('-h')) {
  die('usage: node plugins/sdk-js/build.mjs <plugin-dir> <world> <out.wasm>\n' +
      `       <world>: ${WORLDS.join(', ')}`, args.includes('--help') ? 0 : 2);
}
const [pluginArg, world, outArg] = args;
const pluginDir = resolve(pluginArg);
const out = resolve(outArg);
const app = join(pluginDir, 'app.js');

if (!WORLDS.includes(world)) die(`unknown world "${world}": expected ${WORLDS.join(', ')}`, 2);
if (!existsSync(app)) die(`${app} not found: a JS plugin is a folder with app.js and package.json`, 2);
if (!existsSync(WIT)) die(`the contract folder ${WIT} is missing`, 2);
const manifest = join(pluginDir, 'package.json');
if (existsSync(manifest)) {
  const declared = JSON.parse(readFileSync(manifest, 'utf8'))?.weir?.world;
  if (declared && declared !== world) {
    die(`${manifest} declares "weir": { "world": "${declared}" } but the build asked for ${world}`, 2);
  }
}

const { rolldown } = await load('rolldown');
const { componentize } = await load('@bytecodealliance/componentize-js');

const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'weir-js-'));
try {
  const entry = join(work, 'entry.js');
  writeFileSync(
    entry,
    `import Plugin from ${JSON.stringify(app)};\n` +
      `import { bind } from ${JSON.stringify(join(SDK_DIR, 'bind.js'))};\n` +
      `export const { transformApi, sourceApi, aggregatorApi } = bind(Plugin, ${JSON.stringify(world)});\n`,
  );

  const bundle = await rolldown({
    input: entry,
    platform: 'neutral',
    external: [/^weir:plugin\//],
    resolve: { alias: { 'weir-sdk': join(SDK_DIR, 'weir-sdk.js') } },
    logLevel: 'warn',
  });
  const bundled = join(work, 'plugin.js');
  await bundle.write({ file: bundled, format: 'esm', codeSplitting: false });
  await bundle.close();

  const { component } = await componentize({
    sourcePath: bundled,
    witPath: WIT,
    worldName: world,
    disableFeatures: DISABLED_FEATURES,
  });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, component);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.error(`built ${outArg} (${world}, ${component.length} bytes) in ${secs}s`);
} catch (e) {
  die(e?.message ?? String(e));
} finally {
  rmSync(work, { recursive: true, force: true });
}
