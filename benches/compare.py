#!/usr/bin/env python3
"""The whole comparison table in one command: goweave's work-stealing runtime against Go, tokio,
may and std threads, and its controlled executor against shuttle and loom.

    benches/compare.sh                      # everything (about 15 minutes on 2 cores, builds included)
    benches/compare.sh --quick              # 3 repetitions per anchor workload, 5 fresh runs
    benches/compare.sh --runs 20            # fresh-process runs per one-shot row (default 20)
    benches/compare.sh --from FILE.log      # re-print the table of a saved run, measure nothing
    benches/compare.sh --only oneshot,explore   # only some groups (the table shows what ran)

It runs, from the repository root:

- goweave: `cargo bench --bench runtime`, `--bench chan`, `--bench sync`, `--bench explore`,
  `--bench tasks`;
- the one-shot rows: `benches/oneshot.rs` (built once), run `--runs` times per workload, each
  run a fresh process (cold start included), against `benches/go/main.go -fresh N`, which does
  the same for Go; each side reports the median and the worst of its runs, so a bimodal
  workload shows;
- Go: `GO111MODULE=off go run benches/go/main.go` (skipped, with a note, when `go` is missing);
- tokio, may, std threads: the standalone project `benches/anchors` (built in release);
- loom: the standalone project `benches/loom` (loom's DPOR search and goweave's `Dfs` on the same
  mutex program, in one process).

Builds go where cargo puts them (`CARGO_TARGET_DIR` is respected: the executables' paths are
taken from cargo's own JSON messages). A missing tool is one line naming the command that
installs it.

Every line they print goes to a log (`target/compare/<UTC time>.log`, also echoed on stderr), and
the table, in Markdown, goes to stdout. The anchors print `anchor=<who> bench=<name> key=value
...`; goweave's benches print the same without `anchor=` (`bench=<name> median_ns_per_op=<x>`),
except `benches/explore.rs`, whose own table is parsed. Ratios:

- work-stealing rows are times (ns per op, lower is better): `gw/x` is goweave's time over x's,
  so below 1 goweave is faster;
- controlled-executor rows are rates (schedules per second, higher is better): `gw/x` is
  goweave's rate over x's, so above 1 goweave is faster.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Work-stealing rows: (label, goweave bench, the anchors' bench, unit note).
# Go's `spawn_join_1m` waits with a WaitGroup, as goweave's `spawn_waitgroup_1m` does; tokio, may
# and threads join every handle, as goweave's `spawn_join_1m` does.
RUNTIME_ROWS = [
    ("spawn + join, 1M (join handles)", "spawn_join_1m", "spawn_join_1m", ("tokio", "may", "threads")),
    ("spawn + WaitGroup, 1M", "spawn_waitgroup_1m", "spawn_join_1m", ("go",)),
    ("ping-pong, unbuffered (per round trip)", "pingpong_unbuffered_1m", "pingpong_unbuffered_1m", None),
    ("ring of 1000, 1M hops (per hop)", "ring_1000_1m_hops", "ring_1000_1m_hops", None),
    ("mpmc 4x4, cap 1024 (per message)", "mpmc_4x4_cap1024_4m", "mpmc_4x4_cap1024_4m", None),
    ("select over 4 channels (per message)", "select4", "select4", None),
    ("mutex, 1000 tasks x 1000 (per lock)", "mutex_1000x1000", "mutex_1000x1000", None),
    ("mutex, uncontended (per lock)", "mutex_uncontended", "mutex_uncontended", None),
    ("fib(20) fan-out, 100k tasks (per task)", "fib20_fanout_100k", "fib20_fanout_100k", None),
    # Async tasks (benches/tasks.rs) against tokio's tasks, in the same shapes.
    ("async tasks: spawn + await, 1M", "task_spawn_join_1m", "spawn_join_1m", ("tokio",)),
    ("async tasks: ping-pong, unbuffered (per round trip)", "task_pingpong_unbuffered_1m", "pingpong_unbuffered_1m", ("tokio",)),
    ("async tasks: mpmc 4x4, cap 1024 (per message)", "task_mpmc_4x4_cap1024_4m", "mpmc_4x4_cap1024_4m", ("tokio",)),
]
ANCHORS = ("go", "tokio", "may", "threads")

# One-shot rows, each run in a fresh process (benches/oneshot.rs and Go's -fresh): (label, bench).
ONESHOT_ROWS = [
    ("zero-duration timer: new + receive (per timer)", "timer0_1m"),
    ("ping-pong, unbuffered (per round trip)", "pingpong_unbuffered_1m"),
    ("2-case select, 1M unbuffered sends (per message)", "select2_unbuffered_1m"),
    ("mpmc 4x4, cap 1024 (per message)", "mpmc_4x4_cap1024_4m"),
    ("select over 4 channels (per message)", "select4"),
    ("mutex, uncontended (per lock)", "mutex_uncontended"),
    ("spawn + join, 1M (goweave: join handles; Go: WaitGroup)", "spawn_join_1m"),
    ("spawn + WaitGroup, 1M", "spawn_waitgroup_1m"),
]
# Go's spawn row is the WaitGroup shape for both goweave rows.
GO_ONESHOT = {"spawn_waitgroup_1m": "spawn_join_1m"}

# What to install for each tool the run needs (Debian/Ubuntu).
INSTALL = {
    "cargo": "curl https://sh.rustup.rs -sSf | sh",
    "go": "apt-get update && apt-get install -y golang-go",
}


def parse_kv(line):
    """`a=b c=d` -> dict, or None if the line is not of that shape."""
    if "bench=" not in line:
        return None
    d = {}
    for tok in line.split():
        if "=" not in tok:
            return None
        k, v = tok.split("=", 1)
        d[k] = v
    return d if "bench" in d else None


def parse(lines):
    """Returns (figures, explore, notes): figures[(who, bench)] = the dict of its first line,
    explore[program] = (goweave rate, shuttle rate, ratio)."""
    figures, explore, notes = {}, {}, []
    for line in lines:
        line = line.rstrip("\n")
        if line.startswith("# "):
            notes.append(line[2:])
            continue
        m = re.match(r"^(\d+x\d+(?:\+chan)?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x\s+([\d.]+)$", line.strip())
        if m:
            explore[m.group(1)] = (float(m.group(2)), float(m.group(3)), float(m.group(4)))
            continue
        d = parse_kv(line)
        if d is None:
            continue
        who = d.get("anchor", "goweave")
        if d.get("mode") in ("fresh", "oneshot"):
            who = ("fresh", who)
        key = (who, d["bench"])
        # goweave's sync bench prints fib20 at 2 workers first, then at 1: keep the first.
        figures.setdefault(key, d)
    return figures, explore, notes


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def cell(d, key="median_ns_per_op", full_n=None):
    """The value of one anchor line, with its caveats: a reduced size, or an error."""
    if d is None:
        return "-", None
    if "error" in d:
        why = reason(d["error"])
        fb = num(d.get(key))
        if fb is not None and "fallback_n" in d:
            return f"error at n={int(num(d['n'])):,} ({why}); {fmt(fb)} at n={int(num(d['fallback_n'])):,}", None
        return f"error ({why})", None
    v = num(d.get(key))
    text = fmt(v)
    if full_n and d.get("n") and num(d["n"]) and num(d["n"]) < full_n:
        text += f" (n={int(num(d['n'])):,})"
    return text, v


def reason(error):
    """A short reason for an anchor's `error=` token (spaces were written as `_`)."""
    text = error.replace("_", " ")
    if "alloc sys stack" in text or "Cannot allocate memory" in text:
        return "stack mmap failed: vm.max_map_count"
    if "dropped" in text:
        return "select! dropped messages"
    if "timeout" in text or "killed" in text:
        return "timed out"
    return text[:40]


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b is not None and b > 0 else "-"


def runtime_table(figures):
    out = [
        "| workload (ns per op) | goweave | go | gw/go | tokio | gw/tokio | may | gw/may | threads | gw/threads |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, gw_bench, anchor_bench, only in RUNTIME_ROWS:
        gw = figures.get(("goweave", gw_bench))
        gw_text, gw_v = cell(gw)
        full_n = num((figures.get(("go", anchor_bench)) or {}).get("n"))
        row = [f"{label} `{gw_bench}`", gw_text]
        for a in ANCHORS:
            if only and a not in only:
                row += ["", ""]
                continue
            text, v = cell(figures.get((a, anchor_bench)), full_n=full_n)
            row += [text, ratio(gw_v, v) if v is not None else "-"]
        out.append("| " + " | ".join(row) + " |")
    # Memory and scaling: values, not times.
    row = ["bytes per parked goroutine (RSS) `parked_1m`"]
    text, gw_v = cell(figures.get(("goweave", "parked_1m")), "bytes_per_goroutine")
    row.append(text)
    full_n = num((figures.get(("go", "parked_1m")) or {}).get("n"))
    for a in ANCHORS:
        d = figures.get((a, "parked_1m"))
        text, v = cell(d, "bytes_per_goroutine", full_n=full_n)
        row += [text, ratio(gw_v, v) if v is not None else "-"]
    out.append("| " + " | ".join(row) + " |")
    row = ["bytes per parked async task (RSS) `task_parked_1m`"]
    text, gw_v = cell(figures.get(("goweave", "task_parked_1m")), "bytes_per_goroutine")
    row.append(text)
    for a in ANCHORS:
        d = figures.get((a, "parked_1m")) if a == "tokio" else None
        text, v = cell(d, "bytes_per_goroutine")
        row += [text if d else "", ratio(gw_v, v) if d and v is not None else ""]
    out.append("| " + " | ".join(row) + " |")
    row = ["fib(20) fan-out speed-up, 1 -> 2 workers (ideal 2)"]
    gw_v = num((figures.get(("goweave", "fib20_fanout_speedup")) or {}).get("value"))
    row.append(fmt(gw_v))
    for a in ANCHORS:
        d = figures.get((a, "fib20_fanout_100k")) or {}
        row += [fmt(num(d.get("speedup_vs_1_worker"))), ""]
    out.append("| " + " | ".join(row) + " |")
    return out


def oneshot_table(figures):
    out = [
        "| workload (fresh process per run, ns per op) | goweave median | goweave worst | go median | go worst | gw median/go median | gw worst/go median | CPU ns per op: goweave / go (medians) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, bench in ONESHOT_ROWS:
        gw = figures.get((("fresh", "goweave"), bench)) or {}
        go = figures.get((("fresh", "go"), GO_ONESHOT.get(bench, bench))) or {}
        gm, gwst = num(gw.get("median_ns_per_op")), num(gw.get("worst_ns_per_op"))
        om, owst = num(go.get("median_ns_per_op")), num(go.get("worst_ns_per_op"))
        runs = gw.get("runs", "-")
        gc, oc = num(gw.get("median_cpu_ns_per_op")), num(go.get("median_cpu_ns_per_op"))
        row = [f"{label} `{bench}` ({runs} runs)", fmt(gm), fmt(gwst), fmt(om), fmt(owst), ratio(gm, om), ratio(gwst, om), f"{fmt(gc)} / {fmt(oc)}"]
        out.append("| " + " | ".join(row) + " |")
    gd = num((figures.get((("fresh", "goweave"), "timer0_1m")) or {}).get("max_delivery_ns"))
    od = num((figures.get((("fresh", "go"), "timer0_1m")) or {}).get("max_delivery_ns"))
    if gd is not None or od is not None:
        ms = lambda v: "-" if v is None else f"{v / 1e6:.2f} ms"
        out.append(f"| slowest single timer delivery over all `timer0_1m` runs | {ms(gd)} | | {ms(od)} | | | | |")
    return out


def controlled_table(figures, explore):
    out = [
        "| program (schedules per CPU-second) | goweave | shuttle | gw/shuttle | loom | gw/loom |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for prog, (g, s, r) in explore.items():
        t, ops = prog.split("x")
        chan = ops.endswith("+chan")
        ops = ops.removesuffix("+chan")
        what = f"{t} goroutines x {ops} mutex rounds" + (", then a send each on one channel" if chan else "")
        out.append(f"| {what}, random walk | {fmt(g)} | {fmt(s)} | {r:.2f} | | |")
    lg = figures.get(("loom", "explore_2x10"))
    gg = figures.get(("goweave", "explore_2x10"))
    if lg and gg:
        l, g = num(lg.get("schedules_per_sec")), num(gg.get("schedules_per_sec"))
        out.append(
            f"| 2 goroutines x 10 mutex rounds, depth-first (goweave `DfsPlain`, loom DPOR) | {fmt(g)} | | | {fmt(l)} | {gg.get('ratio_vs_loom', ratio(g, l))} |"
        )
    le = figures.get(("loom", "exhaust_2x2"))
    ge = figures.get(("goweave", "exhaust_2x2"))
    gp = figures.get(("goweave", "exhaust_2x2_plain"))
    if le and ge:
        # Older logs have only the plain search, under the DPOR row's name.
        mode = "DPOR" if ge.get("strategy") == "dpor" else "plain DFS"
        out.append(
            f"| 2 goroutines x 2 mutex rounds, whole search (goweave {mode}, loom DPOR): schedules (seconds) "
            f"| {int(num(ge['schedules'])):,} ({num(ge['secs']):.3f}) | | | "
            f"{int(num(le['schedules'])):,} ({num(le['secs']):.3f}) | |"
        )
    if gp:
        out.append(
            "| the same, goweave's plain DFS (every interleaving, no reduction) "
            f"| {int(num(gp['schedules'])):,} ({num(gp['secs']):.3f}) | | | | |"
        )
    return out


def run(cmd, log, env=None, cwd=ROOT):
    """Run `cmd`, echo and log every line; returns True if it succeeded."""
    print(f"$ {' '.join(cmd)}", file=sys.stderr)
    log.write(f"# $ {' '.join(cmd)}\n")
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.Popen(cmd, cwd=cwd, env=e, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
    for line in p.stdout:
        sys.stderr.write(line)
        log.write(line)
        log.flush()
    ok = p.wait() == 0
    if not ok:
        log.write(f"# FAILED ({p.returncode}): {' '.join(cmd)}\n")
    return ok


def missing(tool, note):
    """One line naming the command that installs `tool`; False if it is missing."""
    if shutil.which(tool):
        return False
    note(f"{tool} is not installed (install: {INSTALL[tool]}); its rows stay empty")
    return True


def cargo_executables(args, cwd, log):
    """Build with cargo (`args`, JSON messages) and return {target name: executable path}, which
    follows CARGO_TARGET_DIR or any other cargo configuration of the target directory."""
    cmd = ["cargo"] + args + ["--message-format=json-render-diagnostics"]
    log.write(f"# $ {' '.join(cmd)}\n")
    print(f"$ {' '.join(cmd)}", file=sys.stderr)
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
    exes = {}
    for line in p.stdout.splitlines():
        try:
            m = json.loads(line)
        except ValueError:
            continue
        if m.get("reason") == "compiler-artifact" and m.get("executable"):
            exes[m["target"]["name"]] = m["executable"]
    if p.returncode != 0:
        log.write(f"# FAILED ({p.returncode}): {' '.join(cmd)}\n")
    return exes


def fresh_runs(exe, bench, runs, log):
    """Run `exe bench` `runs` times, each a fresh process; log one summary line."""
    xs, cpus, delivery, raw = [], [], [], []
    for _ in range(runs):
        p = subprocess.run([exe, bench], cwd=ROOT, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, timeout=600)
        d = next((parse_kv(l) for l in p.stdout.splitlines() if parse_kv(l)), None)
        if p.returncode != 0 or d is None:
            log.write(f"bench={bench} mode=fresh error=exit_{p.returncode}\n")
            return
        xs.append(float(d["ns_per_op"]))
        raw.append((xs[-1], next(l for l in p.stdout.splitlines() if parse_kv(l))))
        cpus.append(float(d.get("cpu_ns_per_op", "nan")))
        if "max_delivery_ns" in d:
            delivery.append(float(d["max_delivery_ns"]))
    def median(v):
        v = sorted(v)
        return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2

    xs.sort()
    med = median(xs)
    extra = f" max_delivery_ns={max(delivery):.0f}" if delivery else ""
    line = (f"bench={bench} mode=fresh runs={len(xs)} median_ns_per_op={med:.1f} "
            f"worst_ns_per_op={xs[-1]:.1f} best_ns_per_op={xs[0]:.1f} median_cpu_ns_per_op={median(cpus):.1f}{extra} all={','.join(f'{x:.0f}' for x in xs)}")
    print(line, file=sys.stderr)
    log.write(line + "\n")
    # The slowest process's own line (placement, CPU per thread), to tell why it was slow.
    log.write(f"# slowest run of {bench}: {max(raw)[1]}\n")
    log.flush()


GROUPS = ("runtime", "chan", "sync", "explore", "tasks", "oneshot", "go", "anchors", "loom")


def wanted(only, note):
    """The groups `--only` names (all of them without it); an unknown name is an error."""
    if not only:
        return set(GROUPS)
    names = {n.strip() for n in only.split(",") if n.strip()}
    unknown = sorted(names - set(GROUPS))
    if unknown:
        sys.exit(f"compare.sh --only: unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
    note(f"only: {', '.join(sorted(names))}")
    return names


def measure(args):
    os.makedirs(os.path.join(ROOT, "target", "compare"), exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    path = args.log or os.path.join(ROOT, "target", "compare", f"{stamp}.log")
    reps = ["--reps", "3"] if args.quick else []
    runs = args.runs or (5 if args.quick else 20)
    with open(path, "w") as log:
        def note(s):
            log.write(f"# {s}\n")
            print(f"# {s}", file=sys.stderr)

        if missing("cargo", note):
            return path
        rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
        go = None if missing("go", note) else shutil.which("go")
        gov = subprocess.run([go, "version"], capture_output=True, text=True).stdout.split()[2] if go else "no go"
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        note(f"{stamp}, {os.cpu_count()} cpus, {rustc}, {gov}; loadavg at start {load}")
        want = wanted(args.only, note)
        for b in ("runtime", "chan", "sync", "explore", "tasks"):
            if b in want:
                run(["cargo", "bench", "--bench", b], log)
        # The one-shot rows, goweave and Go in the same minutes.
        oneshot = None
        if "oneshot" in want:
            oneshot = cargo_executables(["bench", "--bench", "oneshot", "--no-run"], ROOT, log).get("oneshot")
        if oneshot:
            for _, bench in ONESHOT_ROWS:
                fresh_runs(oneshot, bench, runs, log)
        if go and "oneshot" in want:
            only = ",".join(sorted({GO_ONESHOT.get(b, b) for _, b in ONESHOT_ROWS}))
            run([go, "run", "benches/go/main.go", "-fresh", str(runs), "-bench", only], log, env={"GO111MODULE": "off"})
        if go and "go" in want:
            run([go, "run", "benches/go/main.go"] + reps, log, env={"GO111MODULE": "off"})
        anchors = os.path.join(ROOT, "benches", "anchors")
        exes = cargo_executables(["build", "--release"], anchors, log) if "anchors" in want else {}
        for a in ("tokio", "may", "threads") if "anchors" in want else ():
            if a in exes:
                run([exes[a]] + reps, log, cwd=anchors)
            else:
                note(f"the {a} anchor did not build (see the cargo output above)")
        loom = os.path.join(ROOT, "benches", "loom", "Cargo.toml")
        # Only the rows this table shows: the anchor's DPOR programs (`-- dpor`) include ones
        # loom does not finish in hours.
        if "loom" in want:
            run(
                ["cargo", "run", "--release", "--quiet", "--manifest-path", loom, "--", "explore_", "exhaust_"],
                log,
            )
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        note(f"loadavg at end {load}")
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="source", help="print the table of this saved log; measure nothing")
    ap.add_argument("--quick", action="store_true", help="3 repetitions per anchor workload, 5 fresh runs")
    ap.add_argument("--runs", type=int, help="fresh-process runs per one-shot row (default 20)")
    ap.add_argument("--log", help="where to write the raw lines (default target/compare/<time>.log)")
    ap.add_argument(
        "--only",
        help="comma-separated groups to measure: " + ", ".join(GROUPS) + " (oneshot includes Go's fresh runs)",
    )
    args = ap.parse_args()
    path = args.source or measure(args)
    with open(path) as f:
        figures, explore, notes = parse(f)
    print(f"Raw lines: {os.path.relpath(path, ROOT)}")
    for n in notes:
        if not n.startswith("$"):
            print(f"- {n}")
    print()
    print("Work-stealing runtime, 2 workers (ns per op unless the row says otherwise; gw/x = goweave's time / x's):")
    print()
    print("\n".join(runtime_table(figures)))
    print()
    print("One shot, a fresh process per run (cold start included): median and worst of the runs:")
    print()
    print("\n".join(oneshot_table(figures)))
    print()
    print("Controlled executor (schedules per second of CPU time; gw/x = goweave's rate / x's):")
    print()
    print("\n".join(controlled_table(figures, explore)))
    sp = figures.get(("goweave", "controlled_sched_point"))
    if sp:
        print()
        print(
            f"goweave's controlled executor: {fmt(num(sp.get('median_ns_per_op')))} ns per scheduling "
            "point (switch and random decision included; `controlled_sched_point`)."
        )


if __name__ == "__main__":
    main()
