#!/usr/bin/env python3
"""The benchmark: our release binaries and the Python peer, side by side, in one run.

    python3 bench/run.py            # from the repository root (or anywhere)

The side-by-side comparison needs the team's shared folder: ../shared beside the repository, or
the folder BENCH_SHARED names (BENCH_SHARED wins), with bench/runtime_emulator.py and
peer-python/. Without it (a clone) the run measures ours only, under bench/emulator.py (the
project's own Runtime API emulator, measuring the same way), and prints our figures alone.

It builds (unless --no-build), under `nice -n 10`:

    cargo build --release --bin automation-events --bin slack-interactions
    cargo build --release -p approvals-stand-ins --example bench-server

with the shared folder, sets up the peer's venv in bench/.peer-venv (pip install -r
../shared/peer-python/requirements.txt, needs PyPI) unless PEER_VENV names one, starts the SSM, DynamoDB and Slack stand-ins
(target/release/examples/bench-server) and runs, for ours then the peer, each function process
under ../shared/bench/runtime_emulator.py (LambdaEmulator), the same way for both:

- events: 5 cold starts (a fresh process each, one Waiting step event each), then one process
  with one untimed first event and 200 warm ones. Each event is a new execution waiting at its
  approval, so each invocation posts a prompt (the happy path).
- interactions: the same for Approve clicks by alice (an approver), each on a prompt the same
  implementation's events function posted (the two draw different buttons), signed just before
  it is sent.

Every invocation must succeed: status ok; for clicks a 200 with the signal accepted by SSM and the
prompt replaced; for events exactly one prompt per execution. Anything else stops the run.

Figures: init = spawn -> first /next poll; first invocation = its billed duration (delivery ->
answer); warm p50 / p99 (nearest rank) of the billed durations; CPU = user+system time of the
function process (and its descendants) over the warm loop / count (LambdaEmulator.cpu_seconds);
peak RSS = VmHWM of the warm process. Cold figures are medians of 5 processes.

Options: --warm N (default 200), --cold N (default 5), --no-build, --json PATH (raw figures,
default target/bench/results.json), --only ours|peer. Logs of every function process: target/bench/logs/.
"""
import argparse
import datetime
import http.client
import io
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ["BENCH_SHARED"]) if os.environ.get("BENCH_SHARED") else ROOT.parent / "shared"
PEER = SHARED / "peer-python"
SIDE_BY_SIDE = (SHARED / "bench" / "runtime_emulator.py").is_file() and PEER.is_dir()
if SIDE_BY_SIDE:  # both sides under the team's emulator
    sys.path.insert(0, str(SHARED / "bench"))
    from runtime_emulator import LambdaEmulator  # noqa: E402
    EMULATOR = str(SHARED / "bench" / "runtime_emulator.py")
else:  # a clone: ours only, under the project's emulator
    sys.dont_write_bytecode = True  # no bench/__pycache__ in the work tree
    sys.path.insert(0, str(ROOT / "bench"))
    from emulator import LambdaEmulator  # noqa: E402
    EMULATOR = "bench/emulator.py"
NO_PEER = (f"bench: the side-by-side comparison with the Python peer needs the team's shared folder "
           f"(`../shared` beside the repository, or BENCH_SHARED=/path/to/shared, holding "
           f"bench/runtime_emulator.py and peer-python/), not found at {SHARED}: measuring ours only, "
           f"under bench/emulator.py.")

OUT = ROOT / "target" / "bench"
CHANNEL = "C0APPROVALS"
APPROVER = "U0ALICE"
FUNCTIONS = {  # as template.yaml deploys them
    "events": {"name": "automation-events", "memory_mb": 128, "timeout_s": 60},
    "interactions": {"name": "slack-interactions", "memory_mb": 256, "timeout_s": 5},
}
IMPLS = {
    "ours": {
        "events": [str(ROOT / "target/release/automation-events")],
        "interactions": [str(ROOT / "target/release/slack-interactions")],
        "cwd": ROOT / "target/release",
        "approve": "ssm_approve",  # src/domain/inbound/mod.rs APPROVE_ACTION_ID
    },
    "peer": {
        "events": [str(PEER / "events/bootstrap")],
        "interactions": [str(PEER / "interactions/bootstrap")],
        "cwd": PEER,
        "approve": "automation_approve",  # peer-python/common.py APPROVE
    },
}
if not SIDE_BY_SIDE:
    del IMPLS["peer"]


def fail(message):
    raise SystemExit(f"bench: FAILED: {message}")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- set-up -----------------------------------------------------------------------------------
def build():
    for args in (["--bin", "automation-events", "--bin", "slack-interactions"],
                 ["-p", "approvals-stand-ins", "--example", "bench-server"]):
        command = ["nice", "-n", "10", "cargo", "build", "--release", *args]
        log(" ".join(command))
        if subprocess.run(command, cwd=ROOT).returncode != 0:
            fail(f"{' '.join(command)} failed")


def peer_venv():
    if os.environ.get("PEER_VENV"):
        return Path(os.environ["PEER_VENV"])
    venv = ROOT / "bench" / ".peer-venv"
    if not (venv / "bin" / "python").exists():
        log(f"creating the peer's venv in {venv} (pip install -r {PEER / 'requirements.txt'})")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = venv / ".installed"
    if not done.exists():
        subprocess.run([str(venv / "bin/pip"), "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(PEER / "requirements.txt")], check=True)
        done.touch()
    return venv


class Control:
    """The bench server (stand-ins) and its control API."""

    def __init__(self):
        binary = ROOT / "target/release/examples/bench-server"
        if not binary.exists():
            fail(f"{binary} is missing: cargo build --release -p approvals-stand-ins --example bench-server")
        self.proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline()
        if not line:
            fail("the bench server did not start")
        self.info = json.loads(line)
        url = urlsplit(self.info["control"])
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if data else {}
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        answer = json.loads(response.read() or b"null")
        if response.status != 200:
            fail(f"control {method} {path}: {answer}")
        return answer

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# Added to ours' environment (--metrics-cost turns the metrics on and off through it).
OURS_EXTRA_ENV = {}


def environment(control, kind, venv):
    """Configuration through the environment only, the same for both implementations."""
    info = control.info
    env = dict(OURS_EXTRA_ENV) if venv is None else {}
    env.update({
        "APPROVALS_TABLE": info["table"], "SLACK_API_URL": info["slack_api"],
        "SLACK_BOT_TOKEN": info["bot_token"],
        "AWS_ENDPOINT_URL_SSM": info["ssm"], "AWS_ENDPOINT_URL_DYNAMODB": info["dynamodb"],
        "AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "bench-secret-key",
        "AWS_REGION": "us-east-1",
    })
    if venv is not None:
        env["PEER_VENV"] = str(venv)
    if kind == "events":
        env["SLACK_CHANNEL"] = CHANNEL
    else:
        env.update({"SLACK_SIGNING_SECRET": info["signing_secret"], "SLACK_APPROVERS": APPROVER,
                    "SLACK_TEAM_ID": "T0LOCAL"})
    return env


# ---- measuring ----------------------------------------------------------------------------------
def emulator(impl, kind, env, tag):
    spec = FUNCTIONS[kind]
    (OUT / "logs").mkdir(parents=True, exist_ok=True)
    return LambdaEmulator(IMPLS[impl][kind], spec["name"], env=env, timeout_s=spec["timeout_s"],
                          memory_mb=spec["memory_mb"], cwd=str(IMPLS[impl]["cwd"]),
                          log_path=str(OUT / "logs" / f"{impl}-{kind}-{tag}.log"))


def checked(fn, inv, kind, what):
    if not inv.ok:
        fail(f"{fn.name} ({what}): {inv.status} {inv.error}\n--- function output ---\n{fn.tail()}")
    if kind == "interactions":
        code = inv.result.get("statusCode") if isinstance(inv.result, dict) else None
        if code != 200:
            fail(f"{fn.name} ({what}): statusCode {code}: {inv.result}\n--- function output ---\n{fn.tail()}")
    return inv


def run_function(impl, kind, env, payloads, cold, warm):
    """payloads(): the next event, made just before it is sent. Returns the figures."""
    inits, firsts, cold_rss = [], [], []
    for n in range(cold):
        fn = emulator(impl, kind, env, f"cold{n}")
        try:
            fn.start()
            inv = checked(fn, fn.invoke(payloads()), kind, f"cold start {n}")
            inits.append(fn.init_s)
            firsts.append(inv.duration)
            cold_rss.append(fn.sample_rss())
        finally:
            fn.stop()
    fn = emulator(impl, kind, env, "warm")
    try:
        fn.start()
        checked(fn, fn.invoke(payloads()), kind, "first invocation of the warm process")
        durations = []
        cpu_before, wall_before = fn.cpu_seconds(), time.perf_counter()
        for n in range(warm):
            inv = checked(fn, fn.invoke(payloads()), kind, f"warm invocation {n}")
            durations.append(inv.duration)
        cpu_after, wall = fn.cpu_seconds(), time.perf_counter() - wall_before
        if cpu_before is None or cpu_after is None:
            fail(f"{fn.name}: the process died during the warm loop\n{fn.tail()}")
        peak_rss = fn.sample_rss()
        restarts = len(fn.inits) - 1
        if restarts:
            fail(f"{fn.name}: the warm process was restarted {restarts} times")
    finally:
        fn.stop()
    return {
        "init_ms": [s * 1000 for s in inits], "first_ms": [s * 1000 for s in firsts],
        "cold_peak_rss_kb": cold_rss, "warm_ms": [s * 1000 for s in durations],
        "cpu_ms_per_invocation": (cpu_after - cpu_before) * 1000 / warm,
        "warm_loop_wall_s": wall, "peak_rss_kb": peak_rss,
    }


def calls_delta(before, after):
    out = {}
    for service, counts in after.items():
        for name, n in counts.items():
            d = n - before.get(service, {}).get(name, 0)
            if d:
                out[f"{service}:{name}"] = d
    return out


def bench_impl(control, impl, venv, cold, warm):
    results = {}
    total = cold + 1 + warm
    # automation-events: each event is the Waiting step event of a fresh execution.
    executions = control.call("POST", "/control/start", {"count": total})["executions"]
    ids = [e["execution_id"] for e in executions]
    queue = iter(executions)
    calls0 = control.call("GET", "/control/calls")
    log(f"{impl} automation-events: {cold} cold starts, then {warm} warm events")
    results["events"] = run_function(impl, "events", environment(control, "events", venv),
                                     lambda: next(queue)["event"], cold, warm)
    results["events"]["calls"] = calls_delta(calls0, control.call("GET", "/control/calls"))
    prompts = control.call("POST", "/control/prompts", {"execution_ids": ids})["prompts"]
    wrong = {i: len(p) for i, p in prompts.items() if len(p) != 1}
    if wrong:
        fail(f"{impl} automation-events: {len(wrong)} executions without exactly one prompt: "
             f"{list(wrong.items())[:5]}")
    log(f"{impl} automation-events: {total} events, {total} prompts posted, one each")

    # slack-interactions: alice approves each of those prompts, one click each.
    targets = iter(ids)

    def click():
        prompt = prompts[next(targets)][0]
        return control.call("POST", "/control/click", {
            "channel": prompt["channel"], "ts": prompt["ts"], "user": APPROVER,
            "action_id": IMPLS[impl]["approve"]})["event"]

    calls0 = control.call("GET", "/control/calls")
    log(f"{impl} slack-interactions: {cold} cold starts, then {warm} warm Approve clicks")
    results["interactions"] = run_function(impl, "interactions", environment(control, "interactions", venv),
                                           click, cold, warm)
    results["interactions"]["calls"] = calls_delta(calls0, control.call("GET", "/control/calls"))
    status = control.call("POST", "/control/status", {"execution_ids": ids})
    bad = {i: s for i, s in status.items()
           if (s["signals_accepted"], s["signals_refused"], s["approval_step"]) != (1, 0, "Success")}
    if bad:
        fail(f"{impl} slack-interactions: {len(bad)} clicks not signalled exactly once: {list(bad.items())[:3]}")
    after = control.call("POST", "/control/prompts", {"execution_ids": ids})["prompts"]
    stale = [i for i in ids if after[i][0]["updates"] < 1]
    if stale:
        fail(f"{impl} slack-interactions: {len(stale)} prompts not replaced after the click")
    log(f"{impl} slack-interactions: {total} clicks, {total} Approve signals accepted, {total} prompts replaced")
    return results


# ---- reporting ---------------------------------------------------------------------------------
def nearest_rank(values, q):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def zipped_mb(paths):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for path, name in paths:
            z.write(path, name)
    return len(buf.getvalue()) / 1e6


def artifact_sizes(venv):
    """Ours: .aws-sam/build/<Function>/bootstrap zipped as .ci/run does. The peer (when venv is
    given): its handler, common.py and the packages it imports that the managed Python runtime does
    not ship (slack_sdk; slack_bolt too for interactions)."""
    sizes = {}
    for kind, function in (("events", "AutomationEventsFunction"), ("interactions", "SlackInteractionsFunction")):
        path = ROOT / ".aws-sam" / "build" / function / "bootstrap"
        sizes[("ours", kind)] = zipped_mb([(path, "bootstrap")]) if path.exists() else None
        if venv is None:
            continue
        site = next((venv / "lib").glob("python3*/site-packages"), None)
        files = [(PEER / kind / "handler.py", "handler.py"), (PEER / "common.py", "common.py")]
        for package in ("slack_sdk",) if kind == "events" else ("slack_bolt", "slack_sdk"):
            for f in sorted((site / package).rglob("*")) if site else []:
                if f.is_file() and "__pycache__" not in f.parts:
                    files.append((f, str(f.relative_to(site))))
        sizes[("peer", kind)] = zipped_mb(files)
    return sizes


def figures(r):
    return {
        "init": statistics.median(r["init_ms"]),
        "first": statistics.median(r["first_ms"]),
        "cold": statistics.median(i + f for i, f in zip(r["init_ms"], r["first_ms"])),
        "p50": nearest_rank(r["warm_ms"], 0.50),
        "p99": nearest_rank(r["warm_ms"], 0.99),
        "cpu": r["cpu_ms_per_invocation"],
        "rss": r["peak_rss_kb"] / 1024,
    }


def fmt(value, unit):
    if value is None:
        return "run sam build"
    if unit == "ms" and value < 10:
        return f"{value:.2f} ms"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
    return f"{value:.1f} MB" if unit == "MB" else f"{value:.2f} MB"


def ratio(peer, ours):
    if peer is None or ours is None or ours == 0:
        return "–"
    return f"{peer / ours:.1f}×" if peer / ours < 100 else f"{peer / ours:.0f}×"


def table(results, sizes, cold, warm):
    rows = [
        ("init (spawn → first `/next`), median of %d" % cold, "init", "ms"),
        ("first invocation, median of %d cold starts" % cold, "first", "ms"),
        ("cold start: init + first invocation, median of %d" % cold, "cold", "ms"),
        ("warm p50 (%d invocations)" % warm, "p50", "ms"),
        ("warm p99 (%d invocations)" % warm, "p99", "ms"),
        ("CPU time per warm invocation", "cpu", "ms"),
        ("peak RSS (VmHWM)", "rss", "MB"),
        ("deployment package, zipped ¹", "zip", "MBz"),
    ]
    fig = {(i, k): figures(results[i][k]) for i in results for k in results[i]}
    for (i, k), size in sizes.items():
        fig[(i, k)]["zip"] = size
    lines = ["| | `automation-events` | peer | peer / ours | `slack-interactions` | peer | peer / ours |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, key, unit in rows:
        cells = [label]
        for kind in ("events", "interactions"):
            ours, peer = fig[("ours", kind)][key], fig[("peer", kind)][key]
            cells += [fmt(ours, unit), "–" if peer is None else fmt(peer, unit), ratio(peer, ours)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_ours(results, sizes, cold, warm):
    """Our figures alone (no peer in this run); the zipped package only once `sam build` has run."""
    rows = [
        ("init (spawn → first `/next`), median of %d" % cold, "init", "ms"),
        ("first invocation, median of %d cold starts" % cold, "first", "ms"),
        ("cold start: init + first invocation, median of %d" % cold, "cold", "ms"),
        ("warm p50 (%d invocations)" % warm, "p50", "ms"),
        ("warm p99 (%d invocations)" % warm, "p99", "ms"),
        ("CPU time per warm invocation", "cpu", "ms"),
        ("peak RSS (VmHWM)", "rss", "MB"),
    ]
    fig = {k: figures(results["ours"][k]) for k in FUNCTIONS}
    if all(sizes[("ours", k)] is not None for k in FUNCTIONS):
        rows.append(("deployment package, zipped ¹", "zip", "MBz"))
        for k in FUNCTIONS:
            fig[k]["zip"] = sizes[("ours", k)]
    lines = ["| | `automation-events` | `slack-interactions` |", "|---|---:|---:|"]
    for label, key, unit in rows:
        lines.append("| " + " | ".join([label] + [fmt(fig[k][key], unit) for k in FUNCTIONS]) + " |")
    return "\n".join(lines)


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--json", default=str(OUT / "results.json"))
    parser.add_argument("--only", choices=["ours", "peer"],
                        help="run one implementation and print its figures (for tuning; the table "
                             "needs both, in one run)")
    parser.add_argument("--metrics-cost", type=int, metavar="ROUNDS",
                        help="what the metrics cost: ours with METRICS_NAMESPACE unset and set, "
                             "alternating, ROUNDS times each, in one run; prints CPU per warm "
                             "invocation of each and the ratio")
    args = parser.parse_args()
    if args.warm < 1 or args.cold < 1:
        fail("--warm and --cold must be at least 1")
    if args.metrics_cost is not None:
        if not args.no_build:
            build()
        return metrics_cost(args)
    if not SIDE_BY_SIDE:
        if args.only == "peer":
            fail(f"--only peer needs the team's shared folder (`../shared` beside the repository, or "
                 f"BENCH_SHARED=/path/to/shared, holding bench/runtime_emulator.py and peer-python/); "
                 f"not found at {SHARED}")
        if args.only:
            log(f"ours under {EMULATOR} (no shared folder at {SHARED})")
        else:
            print(NO_PEER, flush=True)
    if not args.no_build:
        build()
    for impl in IMPLS:
        for kind in FUNCTIONS:
            if not Path(IMPLS[impl][kind][0]).exists():
                fail(f"{IMPLS[impl][kind][0]} is missing")
    venv = peer_venv() if "peer" in IMPLS and args.only != "ours" else None
    if args.only:
        control = Control()
        try:
            result = bench_impl(control, args.only, venv, args.cold, args.warm)
        finally:
            control.stop()
        for kind, r in result.items():
            r.pop("calls", None)
            print(f"{args.only} {kind}: " + json.dumps({k: round(v, 3) for k, v in figures(r).items() if v is not None}))
        return
    load = os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    control = Control()
    try:
        results = {impl: bench_impl(control, impl, venv, args.cold, args.warm) for impl in IMPLS}
    finally:
        control.stop()
    sizes = artifact_sizes(venv)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({
        "date": started.isoformat(), "cpu": cpu_model(), "cores": os.cpu_count(), "loadavg_at_start": load,
        "emulator": EMULATOR, "results": results, "zipped_mb": {f"{i}/{k}": v for (i, k), v in sizes.items()},
    }, indent=1))

    if SIDE_BY_SIDE:
        report_side_by_side(args, started, load, venv, results, sizes)
    else:
        report_ours(args, started, load, results, sizes)
    print(f"\nCalls the stand-ins served, per function, over all its {args.cold + 1 + args.warm} "
          "invocations (cold starts included):", file=sys.stderr)
    for impl in results:
        for kind in results[impl]:
            calls = results[impl][kind]["calls"]
            print(f"  {impl} {kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())), file=sys.stderr)
    print(f"\nRaw figures: {args.json}", file=sys.stderr)


def metrics_cost(args):
    """Ours with metrics off, then on, alternating: CPU time per warm invocation of each."""
    cpu = {"off": {k: [] for k in FUNCTIONS}, "on": {k: [] for k in FUNCTIONS}}
    control = Control()
    try:
        for round_ in range(args.metrics_cost):
            for mode in ("off", "on"):
                OURS_EXTRA_ENV.clear()
                if mode == "on":
                    OURS_EXTRA_ENV["METRICS_NAMESPACE"] = "SsmSlackApprovals/bench"
                log(f"round {round_ + 1}: metrics {mode}")
                result = bench_impl(control, "ours", None, args.cold, args.warm)
                for kind, r in result.items():
                    cpu[mode][kind].append(r["cpu_ms_per_invocation"])
    finally:
        control.stop()
    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"What the metrics cost, {started:%Y-%m-%d %H:%M} UTC on {cpu_model()}, {os.cpu_count()} "
          f"cores: ours, METRICS_NAMESPACE unset (off) and set (on), {args.metrics_cost} rounds of "
          f"{args.warm} warm invocations each, alternating, in one run.\n")
    print("| CPU per warm invocation (median of rounds) | off | on | on / off |")
    print("|---|---:|---:|---:|")
    for kind in FUNCTIONS:
        off, on = statistics.median(cpu["off"][kind]), statistics.median(cpu["on"][kind])
        print(f"| `{FUNCTIONS[kind]['name']}` | {off:.3f} ms | {on:.3f} ms | {on / off:.3f} |")
    print("\nEach round: " + "; ".join(
        f"{kind} off {', '.join(f'{v:.3f}' for v in cpu['off'][kind])}, on {', '.join(f'{v:.3f}' for v in cpu['on'][kind])}"
        for kind in FUNCTIONS))


def report_side_by_side(args, started, load, venv, results, sizes):
    print(f"Benchmark of {started:%Y-%m-%d %H:%M} UTC on {cpu_model()}, {os.cpu_count()} cores "
          f"(load average at start {load[0]:.2f}), Linux {platform.release()}, x86_64 release builds; "
          f"the peer: Python {platform.python_version()} venv "
          f"({subprocess.run([str(venv / 'bin/python'), '-V'], capture_output=True, text=True).stdout.strip()}).\n")
    print(table(results, sizes, args.cold, args.warm))
    print()
    print("Each function runs under `../shared/bench/runtime_emulator.py` against the same local SSM, "
          "DynamoDB and Slack stand-ins; events post a prompt for a waiting approval, clicks approve "
          "one (signal accepted by SSM, prompt replaced). Latencies are billed durations (delivery → "
          "answer); p99 is nearest rank. CPU is the function process's user + system time over the warm "
          "loop, divided by its count.")
    ours_note = ("ours: `.aws-sam/build/*/bootstrap` (arm64, as `sam build` leaves it), deflate level 9"
                 if all(sizes[("ours", k)] is not None for k in FUNCTIONS)
                 else "ours: run `sam build` first")
    print(f"\n¹ {ours_note}; the peer: its handler, `common.py` and the packages it imports that the "
          "managed Python runtime does not ship (`slack_sdk`, and `slack_bolt` for interactions), "
          "deflate level 9.")


def report_ours(args, started, load, results, sizes):
    print(f"\nBenchmark of {started:%Y-%m-%d %H:%M} UTC on {cpu_model()}, {os.cpu_count()} cores "
          f"(load average at start {load[0]:.2f}), Linux {platform.release()}, x86_64 release builds; "
          f"ours only (no Python peer in this run).\n")
    print(table_ours(results, sizes, args.cold, args.warm))
    print()
    print("Each function runs under `bench/emulator.py` against local SSM, DynamoDB and Slack "
          "stand-ins; events post a prompt for a waiting approval, clicks approve one (signal accepted "
          "by SSM, prompt replaced). Latencies are billed durations (delivery → answer); p99 is nearest "
          "rank. CPU is the function process's user + system time over the warm loop, divided by its count.")
    if all(sizes[("ours", k)] is not None for k in FUNCTIONS):
        print("\n¹ `.aws-sam/build/*/bootstrap` (arm64, as `sam build` leaves it), deflate level 9.")
    else:
        print("\nThe zipped deployment package is left out: run `sam build` first to add it.")


if __name__ == "__main__":
    main()
