#!/usr/bin/env python3
"""Builds Python and JavaScript plugins into components: `build.py OUT_DIR NAME...`
writes OUT_DIR/NAME.wasm for each plugins/NAME with a pyproject.toml (componentize-py)
or a package.json (componentize-js through plugins/sdk-js/build.mjs). A component
newer than every file it is built from is kept. Rust plugins are cargo's."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "plugins"
WORLDS = ("source", "transform", "aggregator")


class BuildError(Exception):
    pass


def language(name):
    """`python`, `js` or `rust` by the files plugins/NAME holds."""
    d = PLUGINS / name
    if not d.is_dir():
        raise BuildError(f"plugins/{name} does not exist (`weir plugin new {name}` makes one)")
    for file, lang in (("Cargo.toml", "rust"), ("pyproject.toml", "python"), ("package.json", "js")):
        if (d / file).exists():
            return lang
    raise BuildError(f"plugins/{name} has no Cargo.toml, pyproject.toml or package.json")


def world(name, lang):
    d = PLUGINS / name
    if lang == "python":
        with open(d / "pyproject.toml", "rb") as f:
            w = tomllib.load(f).get("tool", {}).get("weir", {}).get("world")
        where = "pyproject.toml [tool.weir] world"
    else:
        w = json.loads((d / "package.json").read_text()).get("weir", {}).get("world")
        where = 'package.json "weir": {"world": ...}'
    if w not in WORLDS:
        raise BuildError(f"plugins/{name}/{where} must be one of {', '.join(WORLDS)} (found {w!r})")
    return w


def inputs(name, lang):
    sdk = PLUGINS / ("sdk-py" if lang == "python" else "sdk-js")
    dirs = [PLUGINS / name, sdk, ROOT / "wit"]
    skip = {"fixtures", "node_modules", "__pycache__", "tests", "test"}
    for d in dirs:
        for dirpath, dirnames, filenames in os.walk(d):
            dirnames[:] = [x for x in dirnames if x not in skip]
            for f in filenames:
                yield Path(dirpath) / f


def up_to_date(out, name, lang):
    if not out.exists():
        return False
    built = out.stat().st_mtime
    return all(p.stat().st_mtime <= built for p in inputs(name, lang))


def build(out_dir, name):
    lang = language(name)
    if lang == "rust":
        raise BuildError(f"plugins/{name} is a Rust crate: cargo builds it")
    w = world(name, lang)
    out = out_dir / f"{name}.wasm"
    if up_to_date(out, name, lang):
        print(f"up to date {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
        return
    tmp = out.with_suffix(".wasm.tmp")
    if lang == "python":
        tool = Path(sys.executable).parent / "componentize-py"
        if not tool.exists():
            raise BuildError("componentize-py is not installed in this venv: run `just setup`")
        cmd = [str(tool), "-d", str(ROOT / "wit"), "-w", w, "componentize",
               "-p", str(PLUGINS / "sdk-py"), "-p", str(PLUGINS / name), "weir_main", "-o", str(tmp)]
    else:
        cmd = ["node", str(PLUGINS / "sdk-js" / "build.mjs"), str(PLUGINS / name), w, str(tmp)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"building plugins/{name} ({lang}, world {w}) failed:\n{done.stdout}{done.stderr}")
    tmp.replace(out)
    print(f"built {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} ({out.stat().st_size} bytes, {lang})")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = Path(argv[1]).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        for name in argv[2:]:
            build(out_dir, name)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
