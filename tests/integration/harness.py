"""Shared pieces of the integration tests: free ports, waiting on conditions,
the stand-in platform, config files, running the program, and a tiny runner.

Each test module defines functions named test_* and ends with
    if __name__ == "__main__": harness.main(globals())
Python's standard library only.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

SRC = os.environ.get("BOUNCEDEMAILS_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("BOUNCEDEMAILS") or os.path.join(SRC, "build", "bouncedemails")
CORPUS = os.environ.get("BOUNCEDEMAILS_CORPUS")
# The PostgreSQL backend is a module of the build tree, next to the program's store.
os.environ.setdefault("BOUNCEDEMAILS_MODULE_DIR", os.path.join(os.path.dirname(BIN), "src", "modules"))
DATA = os.path.join(SRC, "tests", "data")

# Every Workdir's folder; main() removes them when no test failed, and keeps
# them (for their logs and databases) when one did.
_workdirs = []


class Skip(Exception):
    """Raise to skip a test, with the reason."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout=10.0, what="condition", interval=0.02):
    """Polls condition() until it returns a true value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_for_port(port, timeout=10.0):
    def accepting():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False
    wait_until(accepting, timeout, f"127.0.0.1:{port} to accept connections")


class Platform:
    """The stand-in platform (tests/platform.py) on a free port."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.proc = None
        self.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(SRC, "tests", "platform.py"),
                                      "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def _call(self, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def received(self):
        return self._call("/_received")

    def addresses(self):
        return [r["address"] for r in self.received()]

    def mode(self, **kw):
        return self._call("/_mode", kw)

    def held(self):
        return self._call("/_held")["held"]

    def reset(self):
        return self._call("/_reset", {})


def _yaml(value, indent=0):
    pad = "  " * indent
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{k}:")
                lines.append(_yaml(v, indent + 1))
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
        return "\n".join(lines)
    if isinstance(value, list):
        return "\n".join(f"{pad}- {_scalar(v)}" for v in value)
    return pad + _scalar(value)


def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (dict, list)):
        return "{}" if isinstance(v, dict) else "[]"
    return json.dumps(str(v))


def merge(base, extra):
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base


class Workdir:
    """A temporary folder with a config for one test: var/ data under it."""

    def __init__(self, platform=None, env="test", **sections):
        self.dir = tempfile.mkdtemp(prefix="bd-test-")
        _workdirs.append(self.dir)
        self.env = env
        self.db = os.path.join(self.dir, "var", "bouncedemails.db")
        self.archive = os.path.join(self.dir, "var", "permanent")
        base_url = (platform.url if platform else "http://127.0.0.1:9") + "/emails/{address}/suspend"
        cfg = {
            "handler": {
                "dbfile": self.db,
                "permanent_bounced_emails_path": self.archive,
                "temporary_threshold": 3,
                "domains": {"mydomain.de": {"base_url": base_url}},
            },
            "notify": {"connect_timeout": 2, "timeout": 5, "retry_initial": 1, "retry_max": 2},
            # Off unless a test asks: daemons run side by side in the tests.
            "metrics": {"listen": ""},
        }
        merge(cfg, sections)
        self.config = os.path.join(self.dir, "config.yml")
        with open(self.config, "w") as f:
            f.write(_yaml({env: cfg}) + "\n")

    def args(self, *args):
        return [BIN, "--config", self.config, "--env", self.env, *args]

    def run(self, *args, input=None, timeout=30, env=None):
        """Runs one command to completion; returns the CompletedProcess."""
        return subprocess.run(self.args(*args), input=input, capture_output=True, timeout=timeout,
                              env=environment(env))

    def start(self, *args, env=None):
        """Starts a long-running command (run, run-smtpserver), with env
        added to the environment (see environment())."""
        return Service(self, args or ("run",), env)

    def crash_marks(self):
        """The crash guard's marks: {file name: the attempts it counts}."""
        folder = os.path.join(self.archive, ".in-hand")
        marks = {}
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            with open(os.path.join(folder, name)) as f:
                marks[name] = f.read().strip()
        return marks

    def query(self, sql, params=()):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()


def environment(changes):
    """The tests' environment with changes made, a variable given None
    removed. NOTIFY_SOCKET is removed unless changes set it: a CI job that
    systemd started has one, and the daemons a test starts must neither
    talk to that systemd nor load libsystemd because of it."""
    merged = {**os.environ, "NOTIFY_SOCKET": None, **(changes or {})}
    return {name: value for name, value in merged.items() if value is not None}


class Service:
    """A long-running bouncedemails process; its output goes to a log file."""

    def __init__(self, work, args, env=None):
        self.log_path = os.path.join(work.dir, f"service-{time.monotonic_ns()}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(work.args(*args), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=environment(env))

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_output(self, text, timeout=10.0):
        wait_until(lambda: text in self.output() or self.proc.poll() is not None, timeout, repr(text))
        assert text in self.output(), f"service exited ({self.proc.returncode}) before {text!r}:\n{self.output()}"

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        self.log.close()
        return self.proc.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)


def unloadable_library(work, soname):
    """A folder, for LD_LIBRARY_PATH, holding an empty file named soname:
    the dynamic loader finds it before the real library and cannot load it."""
    folder = os.path.join(work.dir, "unloadable-lib")
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, soname), "wb").close()
    return folder


def sample(*parts):
    with open(os.path.join(DATA, *parts), "rb") as f:
        return f.read()


def main(namespace):
    """Runs every test_* function in namespace; exit 0, 1, or 77 when all skipped."""
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    only = sys.argv[1:]
    passed = failed = skipped = 0
    for name, fn in tests:
        if only and name not in only:
            continue
        start = time.monotonic()
        try:
            fn()
        except Skip as e:
            skipped += 1
            print(f"SKIP {name}: {e}", flush=True)
            continue
        except Exception:
            failed += 1
            print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
            continue
        passed += 1
        print(f"ok   {name} ({time.monotonic() - start:.2f}s)", flush=True)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    if failed:
        print("kept for inspection: " + " ".join(_workdirs), flush=True)
    else:
        for d in _workdirs:
            shutil.rmtree(d, ignore_errors=True)
    sys.exit(1 if failed else (77 if skipped and not passed else 0))
