#!/usr/bin/python3
"""Interoperability of our Avro codec with another implementation (Debian's
python3-avro), using nothing but schemas/*.avsc:

1. Python computes each schema's Parsing Canonical Form and CRC-64-AVRO
   fingerprint itself (checked first against the spec's test vectors), and
   decodes messages our C encoder wrote (bench_codec encode-sample): header,
   fingerprint, every byte of the datum, and the CKAN dict rebuilt from the
   typed state record by the rule documented in revision.avsc.
2. Python encodes messages (header included) from real CKAN dicts, and our
   C decoder (bench_codec decode) must give back the same dicts.

Environment: CKS_BUILD_DIR (where bench_codec is), CKS_SOURCE_DIR.
Exit 0 on success; prints "N passed, M failed".
"""
import datetime
import glob
import gzip
import io
import json
import os
import struct
import subprocess
import sys
import tempfile

import avro.io
import avro.schema

SRC = os.environ.get("CKS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("CKS_BUILD_DIR", os.path.join(SRC, "build"))
DATA = os.path.join(SRC, "..", "shared", "data")
TOOL = os.path.join(BUILD, "bench_codec")
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

passed = 0
failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


# ---- canonical form and fingerprint, written from the spec ----------------

PRIMS = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def canon(s, ns=""):
    def full(name, space):
        return name if "." in name or not space else space + "." + name

    if isinstance(s, str):
        return json.dumps(s if s in PRIMS else full(s, ns), ensure_ascii=False)
    if isinstance(s, list):
        return "[" + ",".join(canon(b, ns) for b in s) + "]"
    t = s["type"]
    if not isinstance(t, str):
        return canon(t, ns)
    if t in PRIMS:
        return json.dumps(t)
    if t in ("array", "map"):
        k = "items" if t == "array" else "values"
        return '{"type":"%s","%s":%s}' % (t, k, canon(s[k], ns))
    if t in ("record", "error", "enum", "fixed"):
        name = full(s["name"], s.get("namespace", ns))
        inner = name.rsplit(".", 1)[0] if "." in name else ""
        out = '{"name":%s,"type":%s' % (json.dumps(name, ensure_ascii=False), json.dumps(t))
        if t in ("record", "error"):
            out += ',"fields":[' + ",".join(
                '{"name":%s,"type":%s}' % (json.dumps(f["name"]), canon(f["type"], inner))
                for f in s["fields"]) + "]"
        elif t == "enum":
            out += ',"symbols":[' + ",".join(json.dumps(x) for x in s["symbols"]) + "]"
        else:
            out += ',"size":%d' % s["size"]
        return out + "}"
    return json.dumps(full(t, ns))


def crc64(data):
    empty = 0xC15D213AA4D7A795
    fp = empty
    for b in data:
        x = (fp ^ b) & 0xFF
        for _ in range(8):
            x = (x >> 1) ^ (empty & -(x & 1))
        fp = (fp >> 8) ^ x
    return fp


def spec_vectors():
    path = os.path.join(DATA, "avro", "schema-tests.txt")
    if not os.path.exists(path):
        return
    lines = open(path, encoding="utf-8").read().split("\n")
    cases, i = [], 0
    while i < len(lines):
        line = lines[i]
        for key in ("INPUT", "canonical", "fingerprint"):
            if line.startswith("<<" + key):
                rest = line[2 + len(key):]
                if rest.startswith(" "):
                    val = rest[1:]
                else:
                    j = i + 1
                    while lines[j] != key:
                        j += 1
                    val = "\n".join(lines[i + 1:j])
                    i = j
                if key == "INPUT":
                    cases.append({})
                cases[-1][key] = val
        i += 1
    for c in cases:
        got = canon(json.loads(c["INPUT"]))
        check(got == c["canonical"], "spec canonical %s -> %s" % (c["INPUT"], got))
        if "fingerprint" in c:
            fp = struct.unpack("<q", struct.pack("<Q", crc64(got.encode())))[0]
            check(fp == int(c["fingerprint"]), "spec fingerprint " + c["INPUT"])


# ---- the typed state record (reading and writing rule of revision.avsc) ----

STR, BOOL, JSONTEXT, RECS, KV = range(5)
TAG = [("id", STR), ("name", STR), ("vocabulary_id", STR), ("display_name", STR), ("state", STR)]
GROUP = [("id", STR), ("name", STR), ("title", STR)]
RES = [("id", STR), ("name", STR), ("url", STR), ("format", STR), ("description", STR)]
STATE = [(k, STR) for k in ("id", "name", "title", "notes", "url", "version", "author",
                            "author_email", "maintainer", "maintainer_email", "license_id",
                            "owner_org")] + [
    ("private", BOOL), ("state", STR), ("type", STR), ("tags", (RECS, TAG)), ("extras", KV),
    ("groups", (RECS, GROUP)), ("organization", JSONTEXT), ("resources", (RECS, RES))]


def jtext(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def typed_value(kind, v):
    """Typed value for a non-null v, or KeyError if it goes to extra."""
    if kind == STR and isinstance(v, str):
        return v
    if kind == BOOL and isinstance(v, bool):
        return v
    if kind == JSONTEXT:
        return jtext(v)
    if kind == KV and isinstance(v, list) and all(
            isinstance(e, dict) and set(e) == {"key", "value"} and isinstance(e["key"], str)
            and isinstance(e["value"], str) for e in v):
        return v
    if isinstance(kind, tuple) and isinstance(v, list) and all(isinstance(e, dict) for e in v):
        return [to_record(kind[1], e) for e in v]
    raise KeyError


def to_record(spec, d):
    rec, nulls, extra = {}, [], {}
    for key, kind in spec:
        rec[key] = None
        if key not in d:
            continue
        if d[key] is None:
            nulls.append(key)
            continue
        try:
            rec[key] = typed_value(kind, d[key])
        except KeyError:
            extra[key] = jtext(d[key])
    names = {k for k, _ in spec}
    for key, v in d.items():
        if key not in names:
            extra[key] = jtext(v)
    rec["nulls"], rec["extra"] = nulls, extra
    return rec


def from_record(spec, rec):
    d = {}
    for key, kind in spec:
        if key in rec["extra"]:
            continue
        v = rec[key]
        if v is None:
            if key in rec["nulls"]:
                d[key] = None
        elif kind == JSONTEXT:
            d[key] = json.loads(v)
        elif isinstance(kind, tuple):
            d[key] = [from_record(kind[1], e) for e in v]
        else:
            d[key] = v
    for key, text in rec["extra"].items():
        d[key] = json.loads(text)
    return d


# ---- helpers ----------------------------------------------------------------

def micros(t):
    if isinstance(t, datetime.datetime):
        delta = t - EPOCH
        return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds
    return t


def load_schemas():
    out = {}
    for name in ("revision", "conflict", "object"):
        text = open(os.path.join(SRC, "schemas", name + ".avsc"), encoding="utf-8").read()
        fp = crc64(canon(json.loads(text)).encode())
        out[name] = (avro.schema.parse(text), fp)
    return out


def decode_py(schema, data):
    buf = io.BytesIO(data[10:])
    datum = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(buf))
    return datum, buf.tell() == len(data) - 10


def encode_py(schema, fp, datum):
    buf = io.BytesIO()
    buf.write(b"\xc3\x01" + struct.pack("<Q", fp))
    avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def diff_back(ops):
    if ops is None:
        return None
    out = []
    for op in ops:
        e = {"op": op["op"], "path": op["path"]}
        for k in ("old", "new"):
            if op[k] is not None:
                e[k] = json.loads(op[k])
        out.append(e)
    return out


# ---- 1. Python reads what C wrote ---------------------------------------

def c_to_python(schemas, datasets, tmp):
    subprocess.run([TOOL, "encode-sample", datasets, tmp, "40"], check=True)
    for binf in sorted(glob.glob(os.path.join(tmp, "*.bin"))):
        kind = os.path.basename(binf).split("-")[0]
        schema, fp = schemas[kind]
        data = open(binf, "rb").read()
        model = json.load(open(binf[:-4] + ".json", encoding="utf-8"))
        check(data[:2] == b"\xc3\x01", binf + ": magic")
        check(struct.unpack("<Q", data[2:10])[0] == fp, binf + ": fingerprint")
        datum, whole = decode_py(schema, data)
        check(whole, binf + ": Python read every byte of the datum")
        if kind == "revision":
            got = dict(datum)
            got["timestamp"] = micros(got["timestamp"])
            got["diff"] = diff_back(got["diff"])
            got["state"] = from_record(STATE, got["state"]) if got["state"] else None
            check(got == model, binf + ": revision as Python reads it")
        elif kind == "conflict":
            got = dict(datum)
            got["detected"] = micros(got["detected"])
            check(got == model, binf + ": conflict as Python reads it")
        else:
            got = dict(datum)
            got["updated"] = micros(got["updated"])
            got["state"] = json.loads(got["state"]) if got["state"] else None
            check(got == model, binf + ": object as Python reads it")


# ---- 2. C reads what Python wrote ---------------------------------------

def c_decode(path):
    p = subprocess.run([TOOL, "decode", path], capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip()
    return json.loads(p.stdout), None


def python_to_c(schemas, dicts, tmp):
    schema, fp = schemas["revision"]
    for i, d in enumerate(dicts):
        rev = {
            "revision_id": "6fb6dd5c-5886-4d2b-8d73-%012x" % i,
            "origin": "py\u00e9",
            "timestamp": EPOCH + datetime.timedelta(microseconds=1445870113330636 + i),
            "author": "python",
            "message": "written by python3-avro",
            "kind": "edit" if i % 3 else "merge",
            "object_type": "package",
            "object_id": d.get("id") or "70eca0ce-5714-4441-9c35-6ca802c31830",
            "objrev_id": "e9a82645-dcc2-4de8-a83a-%012x" % i,
            "parents": ["1157e2a8-ed76-4c9c-aa49-%012x" % j for j in range(i % 3)],
            "diff": [{"op": "change", "path": ["title"], "old": jtext(None),
                      "new": jtext(d.get("title"))}],
            "state": to_record(STATE, d),
        }
        path = os.path.join(tmp, "py-revision-%d.bin" % i)
        open(path, "wb").write(encode_py(schema, fp, rev))
        got, err = c_decode(path)
        if got is None:
            check(False, "C decode of Python revision %d: %s" % (i, err))
            continue
        check(got["state"] == d, "revision %d: state round trip through Python -> C" % i)
        check(got["timestamp"] == 1445870113330636 + i and got["origin"] == "py\u00e9"
              and got["kind"] == rev["kind"] and got["parents"] == rev["parents"]
              and got["diff"] == [{"op": "change", "path": ["title"], "old": None,
                                   "new": d.get("title")}],
              "revision %d: metadata through Python -> C" % i)
    schema, fp = schemas["object"]
    obj = {"type": "rating", "id": "r1", "origin": "B", "updated": EPOCH,
           "state": jtext({"rating": 4.5, "user": None})}
    path = os.path.join(tmp, "py-object.bin")
    open(path, "wb").write(encode_py(schema, fp, obj))
    got, err = c_decode(path)
    check(got is not None and got["state"] == {"rating": 4.5, "user": None}
          and got["updated"] == 0, "object through Python -> C: %s" % (err or got))
    schema, fp = schemas["conflict"]
    conf = {"id": "6fb6dd5c-5886-4d2b-8d73-c8f2eacfc851", "detected_at": "B",
            "detected": EPOCH, "kind": "name-clash", "object_type": "group",
            "object_id": "70eca0ce-5714-4441-9c35-6ca802c31830", "object_name": "g",
            "base_objrev": None, "local_objrev": None,
            "remote_objrev": "e9a82645-dcc2-4de8-a83a-f1bad87c40f6", "remote_origin": "A",
            "field_path": "", "local_value": None, "remote_value": '"g"',
            "resolution": "disambiguate", "chosen_value": '"g-2"', "merge_revision": None}
    path = os.path.join(tmp, "py-conflict.bin")
    open(path, "wb").write(encode_py(schema, fp, conf))
    got, err = c_decode(path)
    check(got is not None and got["kind"] == "name-clash" and got["chosen_value"] == '"g-2"'
          and got["object_type"] == "group", "conflict through Python -> C: %s" % (err or got))


def main():
    datasets = os.path.join(DATA, "depositar-datasets.jsonl.gz")
    if not os.path.exists(TOOL) or not os.path.exists(datasets):
        print("skipped: need %s and %s" % (TOOL, datasets))
        return 0
    spec_vectors()
    schemas = load_schemas()
    with gzip.open(datasets, "rt", encoding="utf-8") as f:
        dicts = [json.loads(line) for line in f][-60:]
    backup = sorted(glob.glob(os.path.join(DATA, "ckan-api-v2-backup", "dataset.*.json")))
    dicts += [json.load(open(p, encoding="utf-8")) for p in backup]
    dicts.append({"name": "odd", "title": 42, "notes": None, "tags": [{"name": None, "w": 1}],
                  "extras": {"k": "v"}, "private": "no", "resources": [1], "x": [None, {}]})
    with tempfile.TemporaryDirectory() as tmp:
        c_to_python(schemas, datasets, tmp)
        python_to_c(schemas, dicts, tmp)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
