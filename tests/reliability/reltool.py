#!/usr/bin/env python3
"""reltool.py — helpers of the reliability tests (tests/reliability/rel_*.sh).

  reltool.py datasets ROUND SIDE FIRST COUNT
      CKAN package dicts ds-FIRST .. ds-(FIRST+COUNT-1) as JSON lines, their
      content a function of (index, ROUND, SIDE): importing them creates the
      datasets, importing another round edits them (import finds by name).
      SIDE "a" changes title, tags and resources; "c" changes notes and extras;
      so edits of one dataset on two instances merge, some with a conflict.
  reltool.py edits ROUND SIDE N OF
      The same for N distinct datasets picked among ds-0 .. ds-(OF-1)
      (deterministic for a round; round 1 picks the same on both sides).
  reltool.py invariants CONNINFO
      Checks a mirror for half-applied revisions (see check_invariants);
      prints one line per problem, exit status 1 if any.
  reltool.py topic-check CONNINFO DUMP KILLS
      The producer-crash oracle: DUMP is `kcat -f '%p %o %k %h\\n'` output of
      a revisions topic, KILLS lines "partition:high_watermark,... ord seq"
      recorded at each SIGKILL. Every revision of the origin must be in the
      topic, and every extra copy must be one the producer had not recorded
      as acknowledged when it was killed. Prints a summary line.
  reltool.py hostile MARK
      CKAN dicts (JSON lines) whose text fields, extras keys and resource
      fields are full of quotes, backslashes, SQL, shell and format strings,
      the shell commands touching the file MARK if anything ever runs them.
  reltool.py sql-audit ROOT
      Static check that every statement the C code sends to PostgreSQL
      (PQexec, PQexecParams, PQprepare, PQsendQuery*, cks_sti_exec/run) is a
      string literal (or a macro/constant of literals), values going as
      parameters; the few reviewed exceptions are listed in SQL_AUDIT_OK.
Only the Python standard library; PostgreSQL through psql.
"""
import json
import random
import subprocess
import sys


def psql(conninfo, sql):
    out = subprocess.run(["psql", "-X", "-qAt", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                          conninfo, "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def dataset(i, rnd, side):
    d = {
        "name": "ds-%d" % i,
        "title": "Dataset %d" % i,
        "notes": "Notes of dataset %d.\nSecond line with 'quotes', \"doubles\" and \\ backslash." % i,
        "license_id": "cc-by",
        "tags": [{"name": "tag-%d" % (i % 17)}, {"name": "common"}],
        "extras": [{"key": "spatial", "value": "region-%d" % (i % 5)}],
        "resources": [{"id": "%08x-0000-4000-8000-%012d" % (i, 1),
                       "url": "https://example.org/ds-%d/data.csv" % i,
                       "format": "CSV", "name": "data"}],
    }
    if side == "a" and rnd > 0:
        d["title"] = "Dataset %d, round %d on A" % (i, rnd)
        d["tags"].append({"name": "round-%d" % rnd})
        d["resources"][0]["url"] = "https://example.org/ds-%d/data-r%d.csv" % (i, rnd)
    if side == "c" and rnd > 0:
        d["notes"] = "Notes of dataset %d, round %d on C." % (i, rnd)
        d["extras"].append({"key": "reviewed", "value": "round %d" % rnd})
        if i % 4 == 0:  # the same field changed on both sides: a conflict
            d["title"] = "Dataset %d, retitled on C" % i
    return d


def cmd_datasets(rnd, side, first, count):
    for i in range(int(first), int(first) + int(count)):
        print(json.dumps(dataset(i, int(rnd), side)))


def cmd_edits(rnd, side, n, of):
    rng = random.Random("round-%s" % rnd)
    for i in sorted(rng.sample(range(int(of)), min(int(n), int(of)))):
        print(json.dumps(dataset(i, int(rnd), side)))


INVARIANTS = [
    ("revision without any object revision (half-applied)",
     """select r.id from ckansync.revision r where r.kind <> 'purge' and not exists
        (select 1 from ckansync.object_revision o where o.revision_id = r.id)"""),
    ("object whose head is missing",
     """select ob.id from ckansync.object ob where ob.head is null or not exists
        (select 1 from ckansync.object_revision o where o.id = ob.head)"""),
    ("package whose typed row does not match its head",
     """select ob.id from ckansync.object ob where ob.type = 'package' and not exists
        (select 1 from ckansync.package p where p.id = ob.id and p.objrev_id = ob.head)"""),
    ("object revision whose parent is not stored",
     """select o.id from ckansync.object_revision o, unnest(o.parents) par
        where not exists (select 1 from ckansync.object_revision q where q.id = par)"""),
    ("object revision not queued for the chain (outbox)",
     """select o.id from ckansync.object_revision o where not exists
        (select 1 from ckansync.outbox x where x.objrev_id = o.id)"""),
]


def cmd_invariants(conninfo):
    bad = 0
    for what, sql in INVARIANTS:
        rows = psql(conninfo, sql)
        if rows:
            bad += 1
            print("%d %s, e.g. %s" % (len(rows), what, rows[0][0]))
    sys.exit(1 if bad else 0)


def parse_headers(h):
    out = {}
    for kv in h.split(","):
        if "=" in kv:
            k, v = kv.split("=", 1)
            out[k] = v
    return out


def cmd_topic_check(conninfo, dump, kills):
    # Expected: every outbox entry of kind revision, with its position.
    pos = {}
    for rev, obj, ordv, seq in psql(conninfo, """
            select coalesce(o.revision_id, x.revision_id), coalesce(o.object_id, x.object_id),
                   x.ord::text, x.seq
              from ckansync.outbox x left join ckansync.object_revision o on o.id = x.objrev_id
             where x.kind = 0"""):
        pos[(obj, rev)] = (int(ordv), int(seq))
    kill_marks = []  # [(hw dict, cursor)]
    for line in open(kills):
        parts = line.split()
        if len(parts) != 3:
            continue
        hw = {}
        for ph in parts[0].split(","):
            if ":" in ph:
                p, o = ph.split(":")
                hw[int(p)] = int(o)
        kill_marks.append((hw, (int(parts[1]), int(parts[2]))))
    seen = {}
    msgs = 0
    for line in open(dump):
        f = line.rstrip("\n").split(" ", 3)
        if len(f) < 4:
            continue
        p, o, key, hdr = int(f[0]), int(f[1]), f[2], parse_headers(f[3])
        msgs += 1
        seen.setdefault((key, hdr.get("revision_id", "")), []).append((p, o))
    missing = [k for k in pos if k not in seen]
    unknown = [k for k in seen if k not in pos]
    dups = 0
    bad_dups = []
    for k, copies in seen.items():
        if len(copies) < 2 or k not in pos:
            continue
        for p, o in sorted(copies, key=lambda c: c[1])[1:]:
            dups += 1
            # The session that wrote this copy started after the last kill
            # whose high watermark is at or below its offset.
            cursor = None
            for hw, cur in kill_marks:
                if hw.get(p, 0) <= o:
                    cursor = cur
            if cursor is None or pos[k] <= cursor:
                bad_dups.append((k, p, o, cursor))
    print("topic: %d messages, %d revisions expected, %d missing, %d unknown, %d duplicates "
          "(%d of them were acknowledged before the kill)"
          % (msgs, len(pos), len(missing), len(unknown), dups, len(bad_dups)))
    for k in missing[:5]:
        print("missing:", k)
    for b in bad_dups[:5]:
        print("re-sent although acknowledged:", b)
    sys.exit(1 if missing or unknown or bad_dups else 0)


def cmd_hostile(mark):
    h = ["Robert'); DROP TABLE ckansync.revision; --",
         "\\ \\\\ back\\slash \\' \\\" '' \"\"",
         "$$ $tag$ E'\\x41' %s %n %x %99999999d {0} ${HOME}",
         "\" OR 1=1; -- ' OR ''='",
         "$(touch %s) `touch %s` ; touch %s #" % (mark, mark, mark),
         "'; COPY ckansync.revision TO PROGRAM 'touch %s'; --" % mark,
         "\u00e9\u6f22\U0001F600 \t tab \r\n crlf"]
    for i in range(len(h)):
        d = {"name": "hostile-%d" % i, "title": h[i], "notes": "\n".join(h[i:] + h[:i]),
             "author": h[(i + 1) % len(h)], "maintainer_email": h[(i + 2) % len(h)],
             "version": h[(i + 3) % len(h)], "url": "file:///etc/passwd?%s" % h[i],
             "extras": [{"key": h[i], "value": h[(i + 4) % len(h)]},
                        {"key": "plain", "value": h[(i + 5) % len(h)]}],
             "resources": [{"name": h[i], "url": "javascript:alert('%s')" % h[i],
                            "description": h[(i + 6) % len(h)], "format": "SQL"}]}
        print(json.dumps(d, ensure_ascii=False))


SQL_CALLS = {"PQexec": 1, "PQexecParams": 1, "PQprepare": 2, "PQsendQuery": 1,
             "PQsendQueryParams": 1, "cks_sti_exec": 2, "cks_sti_run": 2,
             "cks_store_exec_params": 1}
# (file, argument text): reviewed, no data in the SQL text.
SQL_AUDIT_OK = {
    ("common/store.c", "m[i]->data"),   # embedded migration scripts
    ("common/store_read.c", "sql"),     # digest: two constant fragments (snprintf)
}


def c_args(text, start):
    """Arguments of the call whose '(' is at text[start]: list of strings."""
    depth, i, args, cur, instr = 0, start, [], "", None
    while i < len(text):
        ch = text[i]
        if instr:
            cur += ch
            if ch == "\\":
                cur += text[i + 1]
                i += 1
            elif ch == instr:
                instr = None
        elif ch in "\"'":
            instr = ch
            cur += ch
        elif ch == "(":
            depth += 1
            if depth > 1:
                cur += ch
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(cur.strip())
                return args
            cur += ch
        elif ch == "," and depth == 1:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
        i += 1
    return args


def cmd_sql_audit(root):
    import glob
    import os
    import re
    bad, calls = [], 0
    files = sorted(glob.glob(os.path.join(root, "common", "*.c")) +
                   glob.glob(os.path.join(root, "cli", "*.c")) +
                   glob.glob(os.path.join(root, "producer", "*.c")) +
                   glob.glob(os.path.join(root, "consumer", "*.c")))
    for path in files:
        rel = os.path.relpath(path, root)
        text = open(path, encoding="utf-8").read()
        text = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text,
                      flags=re.S)
        consts = {}  # static const char NAME[] = "literal" "literal";
        for c in re.finditer(r"static\s+const\s+char\s+(\w+)\s*\[\]\s*=([^;]*);", text):
            consts[c.group(1)] = c.group(2)
        tables = set()  # static const char *const NAME[..] = { literals only };
        for c in re.finditer(r"static\s+const\s+char\s*\*\s*const\s+(\w+)\s*(?:\[[^\]]*\])+\s*=\s*"
                             r"\{(.*?)\};", text, flags=re.S):
            body = re.sub(r'"([^"\\]|\\.)*"', "", c.group(2))
            if re.fullmatch(r"[\s{},]*", body):
                tables.add(c.group(1))
        calls_here = dict(SQL_CALLS)
        wrapper_defs = []  # (position, name) of functions passing `sql` on
        # Wrappers: a function of this file taking `const char *sql` is an
        # SQL call too (its own body passes `sql` on, which is then fine).
        # (not `if (...) {` and the like: keywords are not function names)
        kw = r"(?!(?:if|while|for|switch)\b)"
        for d in re.finditer(r"\n(?:static\s+)?[\w\s\*]+?\b" + kw + r"(\w+)\s*\(([^)]*)\)\s*\{",
                             text):
            params = [x.strip() for x in d.group(2).split(",")]
            for k, prm in enumerate(params):
                if re.fullmatch(r"const\s+char\s*\*\s*sql", prm):
                    calls_here[d.group(1)] = k
                    wrapper_defs.append(d.start())
        defs = [d.start() for d in re.finditer(
            r"\n(?:static\s+)?[\w\s\*]+?\b" + kw + r"\w+\s*\([^)]*\)\s*\{", text)]
        for m in re.finditer(r"\b(%s)\s*\(" % "|".join(calls_here), text):
            line = text.count("\n", 0, m.start()) + 1
            before = text[max(0, m.start() - 40):m.start()]
            if re.search(r"(cks_err|void|static)\s+$|\b[A-Za-z_]\w*\s*\*\s*$", before):
                continue  # a definition or declaration, not a call
            args = c_args(text, m.end() - 1)
            idx = calls_here[m.group(1)]
            if len(args) <= idx:
                continue
            calls += 1
            arg = args[idx]
            # adjacent literals and macro names; no two ways to match the same
            # text (or a long non-literal argument backtracks exponentially)
            lit = r'\s*(?:(?:"(?:[^"\\]|\\.)*"|[A-Z_][A-Z0-9_]*(?![A-Z0-9_]))\s*)+'
            literal = re.fullmatch(lit, arg, flags=re.S) or (
                arg in consts and re.fullmatch(lit, consts[arg], flags=re.S))
            enclosing = max([d for d in defs if d < m.start()], default=-1)
            passthrough = arg == "sql" and enclosing in wrapper_defs
            table = re.fullmatch(r"(\w+)(\[[^\]]*\])+", arg)
            if table and table.group(1) in tables:
                literal = True
            if literal or passthrough or (rel, arg) in SQL_AUDIT_OK:
                continue
            bad.append("%s:%d: %s(...) with SQL from '%s'" % (rel, line, m.group(1), arg[:60]))
    print("sql-audit: %d statement calls, %d not literal" % (calls, len(bad)))
    for b in bad:
        print(b)
    sys.exit(1 if bad or calls == 0 else 0)


def main(argv):
    cmds = {"datasets": cmd_datasets, "edits": cmd_edits, "sql-audit": cmd_sql_audit,
            "hostile": cmd_hostile, "invariants": cmd_invariants,
            "topic-check": cmd_topic_check}
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
