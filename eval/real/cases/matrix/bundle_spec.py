#!/usr/bin/env python3
"""Bundles the Matrix client-server API spec (matrix-org/matrix-spec, data/api/client-server/*.yaml,
one OpenAPI 3.1 document per file with relative-file `$ref`s) into one OpenAPI document.

    python3 bundle_spec.py SPEC_CHECKOUT -o published-spec.json

Every file's paths are written with that file's own server base path (the default of its
`basePath` server variable, e.g. `/_matrix/client/v3`, `/_matrix/media/v3`); every `$ref`
(relative file, file#pointer, or local) is inlined, a cycle becoming `{}`; examples are
dropped. The result is the published spec reduce_spec.py reduces.
"""
import argparse
import glob
import json
import os
import sys
from urllib.parse import unquote

import yaml

CACHE = {}


def load(path):
    path = os.path.normpath(path)
    if path not in CACHE:
        with open(path, encoding="utf-8") as f:
            CACHE[path] = yaml.safe_load(f)
    return CACHE[path]


def pointer(doc, ptr):
    cur = doc
    for part in [p for p in ptr.split("/") if p]:
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


def resolve(node, path, stack=()):
    if isinstance(node, list):
        return [resolve(x, path, stack) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node and isinstance(node["$ref"], str):
        ref = node["$ref"]
        file_part, _, ptr = ref.partition("#")
        target_file = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        key = (target_file, ptr)
        if key in stack:
            return {}
        target = pointer(load(target_file), ptr)
        extra = {k: v for k, v in node.items() if k != "$ref"}
        out = resolve(target, target_file, stack + (key,))
        if extra and isinstance(out, dict):
            out = dict(out, **resolve(extra, path, stack))
        return out
    return {k: resolve(v, path, stack) for k, v in node.items() if k not in ("example", "examples", "x-example")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkout")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    paths = {}
    files = sorted(glob.glob(os.path.join(a.checkout, "data/api/client-server/*.yaml")))
    for fpath in files:
        doc = load(fpath)
        if not isinstance(doc, dict) or "paths" not in doc:
            continue
        base = ""
        for s in doc.get("servers") or []:
            base = str(((s.get("variables") or {}).get("basePath") or {}).get("default", ""))
            break
        for p, item in (doc.get("paths") or {}).items():
            full = base.rstrip("/") + p
            item = resolve(item, fpath)
            if full in paths:
                paths[full].update(item)
            else:
                paths[full] = item
    out = {"openapi": "3.1.0", "info": {"title": "Matrix Client-Server API (bundled)", "version": "bundled"},
           "servers": [{"url": "/"}], "paths": paths}
    with open(a.out, "w") as f:
        json.dump(out, f, sort_keys=True)
    print(f"bundle_spec: {len(files)} files, {len(paths)} paths", file=sys.stderr)


if __name__ == "__main__":
    main()
