#!/usr/bin/env python3
"""Reduce a project's published API spec to what a capture's traffic exercises.

    python3 reduce_spec.py SPEC EXCHANGES.jsonl -o REDUCED.json [--prefix /v1]

SPEC is the project's own OpenAPI 3.x or Swagger 2.0 document (JSON or YAML). EXCHANGES is
the output of `apitap exchanges CAPTURE --format jsonl --bodies`. The result is the truth that
`score.py` compares a learned spec against: only what the traffic can show, so a perfect
learner reaches 1.0.

Matching rule (request -> operation), applied to every request of the capture:
  1. The request path is the URI before `?` (absolute-form URIs lose scheme and host), split
     on `/` as on the wire; empty segments are dropped (as score.py does) and each segment is
     percent-decoded for comparison (a decoded `/` stays inside its segment).
  2. The spec's path prefix (Swagger `basePath`, or the path of the first OpenAPI `servers`
     URL) is tried first; if the request does not carry it, the path is also tried without it
     (Docker's `/_ping` is sent unversioned although the spec's basePath is `/v1.41`).
  3. A template literal must equal the decoded segment; `{param}` matches one non-empty
     segment (a segment such as `{name}.json` matches by pattern). The method must be equal.
  4. Among several matching templates the one with the most literal characters wins (a static
     route such as `/containers/create` beats `/containers/{id}`), then the one with fewer
     parameters.
  5. Only when no template matches with one segment per parameter, a parameter named with
     `--multi-segment NAME` that fills a whole segment may span several segments: names
     containing `/`, as Docker's `/images/{name}/json` for `/images/hc/tiny:edge/json` (its
     router declares `{name:.*}`) or Jupyter's `/api/contents/{path}` (its handlers match
     `(?P<path>.*)`). Only parameters the project's own router declares multi-segment are
     named so. Rule 4 breaks ties.
  6. `--literal NAME=VALUE` writes a path parameter that the server only ever accepts with one
     value as that literal in the output (PowerDNS Authoritative's `{server_id}` is always
     `localhost`): no learner can see a parameter that never varies, so the truth does not ask
     for one. A request with another value still matches the template (and is an error).
  7. `--optional-last NAME`: a template ending in `/{NAME}` also matches without that last
     segment, and such requests are written under that shorter path (Matrix's
     `/rooms/{roomId}/state/{eventType}/{stateKey}`: "when an empty string, the trailing
     slash on this endpoint is optional").
  Requests that match nothing are counted and listed on stderr (e.g. endpoints the published
  spec does not document).

What is kept for each matched operation:
  - the path written as the traffic used it: prefix + template when the requests carried the
    prefix, the bare template when they did not (the output has no basePath/servers prefix);
  - the response status codes documented AND observed (undocumented observed codes are
    reported, never invented; `default` is dropped);
  - query and header parameters that occurred in at least one matched request; path params;
  - request and response body schemas with every `$ref` inlined and pruned to the object
    properties that occurred in at least one observed body of that operation (and status);
    array `items` only when some observed array had an element, map `additionalProperties`
    only when some observed map had an entry, a `format` only where a non-null value was seen;
    formats, types, enums and nullability of what is kept are the spec's own. A body that
    is not JSON (or a stream of JSON lines, parsed line by line) keeps only its top level.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections import defaultdict
from urllib.parse import unquote, parse_qsl

try:
    import yaml
except ImportError:
    yaml = None

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def load_any(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text)
    except ValueError:
        if yaml is None:
            raise
        return yaml.safe_load(text)


def url_path(uri):
    m = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*(.*)$", uri or "")
    p = m.group(1) if m else (uri or "")
    return p.split("?", 1)[0].split("#", 1)[0]


def decoded_segments(path):
    return [unquote(s).replace("/", "%2F") for s in path.split("/") if s != ""]


def spec_prefix(spec):
    if str(spec.get("swagger", "")).startswith("2"):
        bp = spec.get("basePath") or ""
    else:
        servers = spec.get("servers") or []
        url = str(servers[0].get("url", "")) if servers and isinstance(servers[0], dict) else ""
        for var, sp in ((servers[0].get("variables") or {}) if servers else {}).items():
            url = url.replace("{" + var + "}", str((sp or {}).get("default", "")))
        bp = url_path(url)
    bp = "/" + "/".join(s for s in bp.split("/") if s)
    return "" if bp == "/" else bp


class Template:
    def __init__(self, raw_path, method, multi_names=()):
        self.raw = raw_path
        self.method = method
        self.segs = [s for s in raw_path.split("/") if s != ""]
        self.literal_chars = sum(len(re.sub(r"\{[^}]*\}", "", s)) for s in self.segs)
        self.params = sum(len(re.findall(r"\{[^}]*\}", s)) for s in self.segs)
        one, multi = [], []
        for s in self.segs:
            if re.fullmatch(r"\{[^}]*\}", s):
                one.append(r"[^/]+")
                multi.append(r".+" if s[1:-1] in multi_names else r"[^/]+")
            else:
                parts = re.split(r"(\{[^}]*\})", s)
                rx = "".join(r"[^/]+" if re.fullmatch(r"\{[^}]*\}", p) else re.escape(p) for p in parts)
                one.append(rx)
                multi.append(rx)
        self.rx_one = re.compile("^/" + "/".join(one) + "$") if self.segs else re.compile("^/$")
        self.rx_multi = re.compile("^/" + "/".join(multi) + "$") if self.segs else re.compile("^/$")


def match(templates, method, segs):
    path = "/" + "/".join(segs)
    for attr in ("rx_one", "rx_multi"):
        cands = [t for t in templates if t.method == method and getattr(t, attr).match(path)]
        if cands:
            cands.sort(key=lambda t: (-t.literal_chars, t.params, t.raw))
            return cands[0], attr == "rx_multi"
    return None, False


class Deref:
    def __init__(self, spec):
        self.spec = spec

    def get(self, node):
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
                return {}
            seen.add(ref)
            cur = self.spec
            for part in ref[2:].split("/"):
                cur = cur[unquote(part).replace("~1", "/").replace("~0", "~")]
            extra = {k: v for k, v in node.items() if k != "$ref"}
            node = dict(cur, **extra) if extra else cur
        return node


def body_values(text):
    """Observed JSON values of a body: one document, or one per line of a JSON-lines stream."""
    if text is None:
        return []
    try:
        return [json.loads(text)]
    except ValueError:
        pass
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            return []
    return out


def prune(d, schema, values, depth=0):
    """Inline `$ref`s and keep only the object properties that occur in `values`."""
    s = d.get(schema)
    if not isinstance(s, dict):
        return s
    s = {k: v for k, v in s.items()}
    if depth > 40:
        for k in ("properties", "additionalProperties", "items", "allOf", "oneOf", "anyOf"):
            s.pop(k, None)
        return s
    if values and all(v is None for v in values):
        # only nulls were seen here: the format of a non-null value is not observable
        s.pop("format", None)
    dicts = [v for v in values if isinstance(v, dict)]
    lists = [v for v in values if isinstance(v, list)]
    for key in ("allOf", "oneOf", "anyOf"):
        if isinstance(s.get(key), list):
            s[key] = [prune(d, sub, values, depth + 1) for sub in s[key]]
    props = s.get("properties")
    if isinstance(props, dict):
        kept = {}
        for name, ps in props.items():
            vals = [v[name] for v in dicts if name in v]
            if vals:
                kept[name] = prune(d, ps, vals, depth + 1)
        s["properties"] = kept
        if isinstance(s.get("required"), list):
            s["required"] = [r for r in s["required"] if r in kept]
            if not s["required"]:
                del s["required"]
    ap = s.get("additionalProperties")
    if isinstance(ap, dict):
        known = set(props or {})
        vals = [v for dv in dicts for k, v in dv.items() if k not in known]
        if vals:
            s["additionalProperties"] = prune(d, ap, vals, depth + 1)
        else:  # no map entry was ever seen: nothing below the map is observable
            del s["additionalProperties"]
    items = s.get("items")
    if isinstance(items, dict):
        elems = [x for lst in lists for x in lst]
        if elems:
            s["items"] = prune(d, items, elems, depth + 1)
        else:  # the array was always empty (or null): its items are not observable
            del s["items"]
    for k in ("example", "examples", "x-go-name", "x-nullable-example"):
        s.pop(k, None)
    return s


def top_only(d, schema):
    s = d.get(schema)
    if not isinstance(s, dict):
        return s
    return {k: v for k, v in s.items() if k in ("type", "format", "nullable", "x-nullable", "description")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec")
    ap.add_argument("exchanges")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--multi-segment", action="append", default=[], metavar="NAME",
                    help="a path parameter the server's router lets span several segments")
    ap.add_argument("--literal", action="append", default=[], metavar="NAME=VALUE",
                    help="a path parameter that only ever has this one value, written as a literal")
    ap.add_argument("--optional-last", action="append", default=[], metavar="NAME",
                    help="a last path parameter the server lets the client omit (empty value)")
    ap.add_argument("--prefix", help="path prefix to try first (default: the spec's basePath/servers path)")
    args = ap.parse_args(argv)

    spec = load_any(args.spec)
    d = Deref(spec)
    swagger2 = str(spec.get("swagger", "")).startswith("2")
    prefix = args.prefix if args.prefix is not None else spec_prefix(spec)
    pre_segs = [s for s in prefix.split("/") if s]

    templates = []
    variant_of = {}  # shortened path -> the spec path it comes from (--optional-last)
    for raw_path, item in (spec.get("paths") or {}).items():
        item = d.get(item)
        forms = [raw_path]
        for name in args.optional_last:
            if raw_path.endswith("/{" + name + "}"):
                short = raw_path[: -len("/{" + name + "}")]
                if short not in (spec.get("paths") or {}):
                    variant_of[short] = raw_path
                    forms.append(short)
        for m in METHODS:
            if isinstance(item.get(m), dict):
                for form in forms:
                    templates.append(Template(form, m.upper(), set(args.multi_segment)))

    # per (template, method): observations
    obs = defaultdict(lambda: {"n": 0, "with_prefix": 0, "without_prefix": 0, "multi": 0,
                               "query": set(), "headers": set(), "req": [],
                               "status": defaultdict(list)})
    unmatched = defaultdict(int)
    total = 0
    with open(args.exchanges, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            ex = json.loads(line)
            if not ex.get("method") or ex.get("uri") is None:
                continue
            total += 1
            method = ex["method"].upper()
            segs = decoded_segments(url_path(ex["uri"]))
            t, multi, used_prefix = None, False, False
            if pre_segs and segs[: len(pre_segs)] == pre_segs:
                t, multi = match(templates, method, segs[len(pre_segs):])
                used_prefix = t is not None
            if t is None:
                t, multi = match(templates, method, segs)
            if t is None:
                unmatched[f"{method} {url_path(ex['uri'])}"] += 1
                continue
            o = obs[(t.raw, t.method)]
            o["n"] += 1
            o["with_prefix" if used_prefix else "without_prefix"] += 1
            o["multi"] += int(multi)
            q = ex["uri"].split("?", 1)[1] if "?" in ex["uri"] else ""
            for k, _ in parse_qsl(q, keep_blank_values=True):
                o["query"].add(k)
            for h in ex.get("request_headers") or []:
                o["headers"].add(str(h[0]).lower())
            if ex.get("request_body_len"):
                o["req"].extend(body_values(ex.get("request_body")) if ex.get("request_body_encoding") != "base64" else [])
            if ex.get("status") is not None:
                body = ex.get("response_body") if ex.get("response_body_encoding") != "base64" else None
                o["status"][str(ex["status"])].append(body)

    out_paths = {}
    undocumented = []
    for (raw_path, method), o in sorted(obs.items()):
        item = d.get(spec["paths"][variant_of.get(raw_path, raw_path)])
        op = copy.deepcopy(d.get(item[method.lower()]))
        params = []
        for p in (item.get("parameters") or []) + (op.get("parameters") or []):
            p = copy.deepcopy(d.get(p))
            if not isinstance(p, dict):
                continue
            loc, name = p.get("in"), str(p.get("name", ""))
            if loc == "query" and name not in o["query"]:
                continue
            if loc == "header" and name.lower() not in o["headers"]:
                continue
            if loc == "body":
                if not o["req"]:
                    p["schema"] = top_only(d, p.get("schema"))
                else:
                    p["schema"] = prune(d, p.get("schema"), o["req"])
            elif "schema" in p:
                p["schema"] = prune(d, p["schema"], [])
            params = [x for x in params if not (x.get("in") == loc and x.get("name") == p.get("name"))]
            params.append(p)
        op["parameters"] = params
        if not swagger2 and "requestBody" in op:
            rb = copy.deepcopy(d.get(op["requestBody"]))
            for mt, media in (rb.get("content") or {}).items():
                if isinstance(media, dict) and "schema" in media:
                    media["schema"] = prune(d, media["schema"], o["req"]) if o["req"] else top_only(d, media["schema"])
                    media.pop("examples", None)
                    media.pop("example", None)
            op["requestBody"] = rb
        responses = {}
        documented = {str(c).upper(): r for c, r in (op.get("responses") or {}).items()}
        for code, bodies in sorted(o["status"].items()):
            r = documented.get(code)
            if r is None:
                undocumented.append(f"{method} {raw_path} {code} x{len(bodies)}")
                continue
            r = copy.deepcopy(d.get(r))
            values = [v for b in bodies for v in body_values(b)]
            if swagger2:
                if r.get("schema") is not None:
                    r["schema"] = prune(d, r["schema"], values) if values else top_only(d, r["schema"])
            else:
                for mt, media in (r.get("content") or {}).items():
                    if isinstance(media, dict) and "schema" in media:
                        media["schema"] = prune(d, media["schema"], values) if values else top_only(d, media["schema"])
                        media.pop("examples", None)
                        media.pop("example", None)
            r.pop("examples", None)
            r.pop("headers", None)
            responses[code] = r
        op["responses"] = responses
        op.pop("x-codeSamples", None)
        if raw_path in variant_of:
            dropped = variant_of[raw_path][len(raw_path) + 2:-1]
            params = [p for p in op["parameters"] if not (p.get("in") == "path" and p.get("name") == dropped)]
            op["parameters"] = params
        for lit in args.literal:
            name, value = lit.split("=", 1)
            if "{" + name + "}" in raw_path:
                raw_path = raw_path.replace("{" + name + "}", value)
                op["parameters"] = [p for p in op["parameters"] if not (p.get("in") == "path" and p.get("name") == name)]
        forms = []
        if o["with_prefix"]:
            forms.append(prefix + raw_path)
        if o["without_prefix"]:
            forms.append(raw_path)
        for fp in forms:
            out_paths.setdefault(fp, {})[method.lower()] = op

    out = {k: v for k, v in spec.items() if k in ("swagger", "openapi", "info", "consumes", "produces")}
    out["info"] = dict(out.get("info") or {})
    out["info"]["x-reduced-by"] = "eval/real/reduce_spec.py (operations, statuses, parameters and properties the traffic exercises)"
    if swagger2:
        out["basePath"] = "/"
    else:
        out["servers"] = [{"url": "/"}]
    out["paths"] = out_paths
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")

    n_ops = sum(len(v) for v in out_paths.values())
    print(f"reduce_spec: {total} requests, {total - sum(unmatched.values())} matched "
          f"{n_ops} operations on {len(out_paths)} paths; {sum(unmatched.values())} unmatched", file=sys.stderr)
    for k, n in sorted(unmatched.items(), key=lambda kv: -kv[1])[:30]:
        print(f"  unmatched: {k} x{n}", file=sys.stderr)
    for u in undocumented[:30]:
        print(f"  undocumented status: {u}", file=sys.stderr)
    multi = [f"{m} {p} x{o['multi']}" for (p, m), o in obs.items() if o["multi"]]
    for mline in multi:
        print(f"  multi-segment parameter: {mline}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
