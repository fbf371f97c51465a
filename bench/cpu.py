#!/usr/bin/env python3
"""bench/cpu.py - where a case's CPU went, for script/bench.

  cpu.py snap FILE
      saves every process's CPU time (utime + stime, /proc/PID/stat) and
      parent, and the machine's busy time (/proc/stat), to FILE (JSON).
  cpu.py diff [--json] SNAP0 SNAP1 NAME=PID...
      prints the CPU seconds used between the two snapshots as key=value
      words for script/bench's `record`: cpu_total (the whole machine: every
      core's busy time), cpu_NAME for each group (the process PID and all of
      its descendants: a PostgreSQL postmaster stands for its backends and
      background processes), and cpu_other (the rest: the benchmark's own
      helpers, processes that ended before SNAP1, the kernel's threads).
      A process that started after SNAP0 counts from zero; a PID that does
      not exist in SNAP1 (an empty group) counts 0. --json: the same as
      one JSON object.
"""
import json
import os
import sys

TICK = os.sysconf("SC_CLK_TCK")


def machine_busy():
    """(busy, interrupts): every core's busy time (steal, the hypervisor's
    time for other machines, is not ours) and the part of it spent in
    interrupts and softirqs (the network stack, mostly), which no process
    is charged with."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return user + nice + system + irq + softirq, irq + softirq


def processes():
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue  # ended meanwhile
        comm = s[s.index("(") + 1:s.rindex(")")]
        rest = s[s.rindex(")") + 2:].split()
        # rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15
        out[d] = [int(rest[1]), int(rest[11]) + int(rest[12]), comm]
    return out


def snap(path):
    with open(path, "w") as f:
        json.dump({"machine": machine_busy(), "procs": processes()}, f)


def group_of(pid, procs, roots):
    seen = 0
    while pid in procs and seen < 64:
        if pid in roots:
            return roots[pid]
        pid = str(procs[pid][0])
        seen += 1
    return None


def diff(path0, path1, groups, as_json=False):
    with open(path0) as f:
        s0 = json.load(f)
    with open(path1) as f:
        s1 = json.load(f)
    roots = {}
    for g in groups:
        name, pid = g.split("=", 1)
        if pid.strip():
            roots[pid.strip()] = name
    used = {name.split("=", 1)[0]: 0 for name in groups}
    p0, p1 = s0["procs"], s1["procs"]
    for pid, (_ppid, ticks, comm) in p1.items():
        g = group_of(pid, p1, roots)
        if g is None:
            continue
        before = p0.get(pid)
        # the same pid with the same name is the same process (pids are
        # not reused within a case's seconds on this machine's pid range)
        used[g] += ticks - before[1] if before and before[2] == comm else ticks
    total = s1["machine"][0] - s0["machine"][0]
    irq = s1["machine"][1] - s0["machine"][1]
    out = {"cpu_total": round(total / TICK, 2)}
    for name, ticks in used.items():
        out["cpu_" + name] = round(max(ticks, 0) / TICK, 2)
    out["cpu_irq"] = round(irq / TICK, 2)
    out["cpu_other"] = round(max(total - irq - sum(used.values()), 0) / TICK, 2)
    if as_json:
        print(json.dumps(out))
    else:
        print(" ".join(f"{k}={v:.2f}" for k, v in out.items()))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "snap":
        snap(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "diff":
        args = sys.argv[2:]
        as_json = args[0] == "--json"
        if as_json:
            args = args[1:]
        diff(args[0], args[1], args[2:], as_json)
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
