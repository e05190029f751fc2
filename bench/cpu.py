#!/usr/bin/env python3
"""CPU seconds (user + system) a process and its descendants used so far, for bench sections.

    cpu.py PID...      one number per PID, in order ("null" when the PID is unknown or gone)

For each PID: its own time, the time of its children it already reaped (cutime/cstime: e.g. the
PostgreSQL backends that ended), and the own time of its live descendants. Sections take it
before and after a run and divide the difference by the stakes of the run.
"""
import os
import sys

TICK = os.sysconf("SC_CLK_TCK")


def stat(pid):
    with open("/proc/%s/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after "pid (comm)": state ppid ... utime(14) stime(15) cutime(16) cstime(17), 1-based
    return int(fields[1]), [int(x) for x in fields[11:15]]


def tree_seconds(root):
    children, own = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            ppid, t = stat(name)
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
        own[int(name)] = t
    if root not in own:
        return None
    total = sum(own[root])  # utime + stime + cutime + cstime
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        total += own[pid][0] + own[pid][1]
        todo.extend(children.get(pid, []))
    return total / TICK


def main():
    for arg in sys.argv[1:]:
        s = tree_seconds(int(arg)) if arg.isdigit() else None
        print("null" if s is None else "%.2f" % s)


if __name__ == "__main__":
    main()
