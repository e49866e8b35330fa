"""A small AWS Lambda Runtime API emulator, for `bench/run.py` in a clone (standard library only).

It serves the Runtime API on loopback, spawns one function process (any executable that speaks
it, here our release binaries) with the environment Lambda gives it, hands it one event at a time
and measures it:

    fn = LambdaEmulator(["target/release/automation-events"], "automation-events",
                        env={...}, timeout_s=60, memory_mb=128, cwd="target/release",
                        log_path="target/bench/logs/x.log")
    fn.start()                   # spawn, return once it polls /next; fn.init_s = spawn -> that poll
    inv = fn.invoke(event)       # inv.ok, inv.status, inv.result, inv.error, inv.duration
    fn.cpu_seconds()             # user + system CPU time of the process (and descendants) so far
    fn.sample_rss()              # peak RSS (VmHWM, KiB) seen so far
    fn.tail()                    # the end of what the function wrote
    fn.stop()

- init: perf_counter() from spawn to the process's first GET /next (one entry in `inits` per
  process; `init_s` is the first).
- duration: from the moment the event is handed over (the /next answer is written) to the moment
  the function's POST /response (or /error) has been read: what Lambda bills.
- CPU: the process's CPU-time clock (clock_getcpuclockid(3), nanoseconds, exited threads
  included), /proc/<pid>/stat utime + stime where that clock cannot be read.
- peak RSS: VmHWM from /proc/<pid>/status, summed over the process and its descendants, kept as a
  high-water mark.

Routes: GET /2018-06-01/runtime/invocation/next; POST .../invocation/{id}/response,
.../invocation/{id}/error and .../init/error. The /next answer carries Lambda-Runtime-Aws-Request-Id,
Lambda-Runtime-Deadline-Ms (absolute, ms since the epoch), Lambda-Runtime-Invoked-Function-Arn and
Lambda-Runtime-Trace-Id. As in Lambda, an invocation that runs past its timeout gets the process
killed, and a process that has exited is started again by the next invoke() (a cold start).
"""
import ctypes
import ctypes.util
import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"
ACCOUNT_ID = "000000000000"
KEEP_OUTPUT = 64 * 1024  # bytes of function output kept in memory for tail()


class Invocation:
    """One event and what became of it. status: pending | ok | error | timeout | crash."""

    def __init__(self, event):
        self.request_id = str(uuid.uuid4())
        self.event = event
        self.status = "pending"
        self.result = None  # the response body, parsed as JSON when it is JSON
        self.error = None  # {"errorType", "errorMessage", ...} for anything but ok
        self.delivered = None  # perf_counter() when the event was handed over
        self.finished = None  # perf_counter() when the answer had been read
        self.done = threading.Event()

    @property
    def ok(self):
        return self.status == "ok"

    @property
    def duration(self):
        """Seconds from delivery to answer, or None if it never got both."""
        if self.delivered is None or self.finished is None:
            return None
        return self.finished - self.delivered

    def __iter__(self):  # result, duration = fn.invoke(event)
        return iter((self.result, self.duration))

    def settle(self, status, result=None, error=None, at=None):
        """First settlement wins (a late answer after a timeout is ignored)."""
        if self.done.is_set():
            return False
        self.finished = time.perf_counter() if at is None else at
        self.status, self.result, self.error = status, result, error
        self.done.set()
        return True


def _parse(body):
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


class _Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the runtime client keeps its connection open

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def _body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if not size:
                    while self.rfile.readline() not in (b"", b"\r\n", b"\n"):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body, headers=()):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        # Status line, headers and body in one write: in two, the client wakes up twice and
        # the second segment can wait on the first one's delayed ACK.
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()

    def do_GET(self):
        emulator = self.server.emulator
        if self.path != f"{PREFIX}/invocation/next":
            return self._send(404, {"errorType": "NotFound", "errorMessage": self.path})
        inv = emulator._take_next()
        if inv is None:
            return self._send(500, {"errorType": "Runtime.Shutdown", "errorMessage": "the emulator is stopping"})
        body = json.dumps(inv.event).encode()
        now = time.time()
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", inv.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(int((now + emulator.timeout_s) * 1000))),
            ("Lambda-Runtime-Invoked-Function-Arn", emulator.function_arn),
            ("Lambda-Runtime-Trace-Id",
             f"Root=1-{int(now):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"),
        ]
        inv.delivered = time.perf_counter()
        self._send(200, body, headers)

    def do_POST(self):
        emulator = self.server.emulator
        body = self._body()
        answered = time.perf_counter()
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        route = self.path[len(PREFIX):].strip("/").split("/") if self.path.startswith(PREFIX) else []
        if route == ["init", "error"]:
            emulator.init_errors.append({"errorType": error_type, "body": _parse(body)})
            return self._send(202, {"status": "OK"})
        if len(route) == 3 and route[0] == "invocation" and route[2] in ("response", "error"):
            if emulator._answer(route[1], route[2], body, error_type, answered):
                return self._send(202, {"status": "OK"})
            return self._send(400, {"errorType": "InvalidRequestID", "errorMessage": f"not in flight: {route[1]}"})
        self._send(404, {"errorType": "NotFound", "errorMessage": self.path})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a function process killed mid-request is expected, not worth a trace


def _cpu_clock_reader():
    """clock_getcpuclockid(3) from libc, or None where it cannot be had."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        getcpuclockid = libc.clock_getcpuclockid
    except (OSError, AttributeError):
        return None
    getcpuclockid.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_int)]

    def read(pid):
        clock = ctypes.c_int()
        if getcpuclockid(pid, ctypes.byref(clock)) != 0:
            raise OSError("clock_getcpuclockid failed")
        return time.clock_gettime(clock.value)
    return read


_CPU_CLOCK = _cpu_clock_reader()
_TICK = os.sysconf("SC_CLK_TCK")


def _stat_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # the name may hold spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _process_tree(pid):
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


class LambdaEmulator:
    """Runs `cmd` as the Lambda function `name`; invoke(event) -> Invocation."""

    def __init__(self, cmd, name, env=None, timeout_s=10.0, init_timeout_s=30.0, memory_mb=128,
                 region="us-east-1", cwd=None, log_path=None):
        self.cmd = [cmd] if isinstance(cmd, str) else list(cmd)
        self.name, self.env, self.cwd = name, dict(env or {}), cwd
        self.timeout_s, self.init_timeout_s = timeout_s, init_timeout_s
        self.memory_mb, self.region = memory_mb, region
        self.function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"
        self.inits, self.init_errors, self.invocations = [], [], []
        self.peak_rss_kb = 0
        self.proc = None
        self._log = open(log_path, "wb") if log_path else None
        self._output = bytearray()
        self._output_lock = threading.Lock()
        self._cond = threading.Condition()
        self._pending = None  # the Invocation waiting for a /next
        self._in_flight = None  # the one handed over, waiting for its answer
        self._generation = 0  # one per process spawned
        self._polled = threading.Event()  # the current process has polled /next (or exited)
        self._spawned_at = None
        self._stopping = False
        self._hwm = {}
        self._server = _Server(("127.0.0.1", 0), _Api)
        self._server.emulator = self
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()

    # ---- the process -------------------------------------------------------------------------
    @property
    def init_s(self):
        return self.inits[0] if self.inits else None

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def environment(self):
        """What Lambda sets for a custom runtime, then the function's own variables."""
        root = self.cwd or os.getcwd()
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8", "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": root, "LAMBDA_RUNTIME_DIR": root, "_HANDLER": "bootstrap",
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self._server.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true", "NO_PROXY": "127.0.0.1,localhost",
        }
        env.update({k: str(v) for k, v in self.env.items() if v is not None})
        return env

    def start(self):
        """Spawn the function; return once it has polled /next. Raises RuntimeError if it does not."""
        with self._cond:
            self._generation += 1
            self._polled.clear()
            self._hwm = {}
            self._spawned_at = time.perf_counter()
            self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.environment(),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        proc = self.proc
        threading.Thread(target=self._copy_output, args=(proc.stdout,), daemon=True).start()
        threading.Thread(target=self._wait_exit, args=(proc,), daemon=True).start()
        if not self._polled.wait(self.init_timeout_s):
            self._kill()
            raise RuntimeError(f"{self.name}: no /next poll within {self.init_timeout_s} s\n{self.tail()}")
        if not self.alive:
            raise RuntimeError(f"{self.name}: exited ({proc.returncode}) during init "
                               f"{self.init_errors[-1:] or ''}\n{self.tail()}")
        self.sample_rss()
        return self

    def stop(self):
        if self._stopping:
            return
        self.sample_rss()
        self._kill()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        if self._log:
            with self._output_lock:
                self._log.close()

    def _kill(self):
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, 2), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(grace)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue

    def _copy_output(self, stream):
        for line in iter(stream.readline, b""):
            with self._output_lock:
                self._output += line
                if len(self._output) > 2 * KEEP_OUTPUT:
                    del self._output[:-KEEP_OUTPUT]
                if self._log and not self._log.closed:
                    self._log.write(line)
                    self._log.flush()

    def _wait_exit(self, proc):
        code = proc.wait()
        with self._cond:
            if proc is not self.proc:
                return  # an earlier process, already replaced
            self._polled.set()  # a start() waiting for this process's poll waits no longer
            lost = [inv for inv in (self._in_flight, self._pending) if inv is not None]
            self._in_flight = self._pending = None
            self._cond.notify_all()
        for inv in lost:
            inv.settle("crash", error={"errorType": "Runtime.ExitError",
                                       "errorMessage": f"the function process exited with code {code}"})

    def tail(self, n=2000):
        with self._output_lock:
            return bytes(self._output[-n:]).decode("utf-8", "replace")

    # ---- invocations ---------------------------------------------------------------------------
    def invoke(self, event, timeout_s=None):
        """Hand `event` to the function and wait for its answer (or the timeout)."""
        if not self.alive and not self._stopping:
            self.start()  # a cold start, as after a crash or a timeout
        timeout = timeout_s or self.timeout_s
        inv = Invocation(event)
        self.invocations.append(inv)
        with self._cond:
            self._pending = inv
            self._cond.notify_all()
        if not inv.done.wait(timeout):
            inv.settle("timeout", error={"errorType": "Sandbox.Timedout",
                                         "errorMessage": f"Task timed out after {timeout:.2f} seconds"})
            with self._cond:
                if self._pending is inv:
                    self._pending = None
                if self._in_flight is inv:
                    self._in_flight = None
            self._kill()
        self.sample_rss()
        return inv

    def _take_next(self):
        """For GET /next: the next invocation, or None if the emulator stops or the process is replaced."""
        with self._cond:
            generation = self._generation
            if not self._polled.is_set():
                self.inits.append(time.perf_counter() - self._spawned_at)
                self._polled.set()
            while not self._stopping and generation == self._generation:
                inv = self._pending
                if inv is not None and not inv.done.is_set():
                    self._pending, self._in_flight = None, inv
                    return inv
                self._cond.wait(0.5)
            return None

    def _answer(self, request_id, kind, body, error_type, at):
        with self._cond:
            inv = self._in_flight
            if inv is None or inv.request_id != request_id:
                return False
            self._in_flight = None
        parsed = _parse(body)
        if kind == "response":
            inv.settle("ok", result=parsed, at=at)
        else:
            error = dict(parsed) if isinstance(parsed, dict) else {"errorMessage": parsed}
            error.setdefault("errorType", error_type or "Unhandled")
            inv.settle("error", error=error, at=at)
        return True

    # ---- measurements --------------------------------------------------------------------------
    def cpu_seconds(self):
        """User + system CPU seconds of the function process and its descendants so far; None once it exited."""
        if not self.alive:
            return None
        total = 0.0
        for pid in _process_tree(self.proc.pid):
            try:
                if _CPU_CLOCK is None:
                    raise OSError("no CPU-time clock")
                total += _CPU_CLOCK(pid)
            except OSError:
                try:
                    total += _stat_cpu(pid)
                except (OSError, ValueError, IndexError):
                    pass  # gone meanwhile
        return total

    def sample_rss(self):
        """Peak RSS (VmHWM, KiB) of the function process and its descendants, as a high-water mark."""
        if self.alive:
            for pid in _process_tree(self.proc.pid):
                try:
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                self._hwm[pid] = max(self._hwm.get(pid, 0), int(line.split()[1]))
                                break
                except (OSError, ValueError):
                    pass
            self.peak_rss_kb = max(self.peak_rss_kb, sum(self._hwm.values()))
        return self.peak_rss_kb
