#!/usr/bin/env python3
"""The systemd unit and the daemon's side of it: the unit that `meson install`
installs is rated 2.5 or lower ("OK") by `systemd-analyze security
--offline=true`, carries the directives the README promises, and the daemon
started with a watchdog (WATCHDOG_USEC, as systemd sets it for WatchdogSec)
says READY=1 and then WATCHDOG=1 again and again on NOTIFY_SOCKET.
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import harness
from harness import Workdir, free_port, wait_until

THRESHOLD = 2.5
BUILD = os.path.dirname(harness.BIN)


def installed_unit():
    """Installs the build into a scratch root and returns the unit's path."""
    if not shutil.which("systemd-analyze"):
        raise harness.Skip("systemd-analyze is not installed")
    dest = tempfile.mkdtemp(prefix="bd-install-")
    harness._workdirs.append(dest)
    proc = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--destdir", dest],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for root, _dirs, files in os.walk(dest):
        if "bouncedemails.service" in files and root.endswith("systemd/system"):
            return os.path.join(root, "bouncedemails.service")
    raise AssertionError(f"meson install put no bouncedemails.service under {dest}")


def test_unit_rated_ok():
    unit = installed_unit()
    proc = subprocess.run(["systemd-analyze", "security", "--offline=true", unit],
                          capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout + proc.stderr)
    assert m, proc.stdout + proc.stderr
    level = float(m.group(1))
    assert level <= THRESHOLD, f"exposure {level} > {THRESHOLD}:\n{proc.stdout}"
    threshold = subprocess.run(["systemd-analyze", "security", "--offline=true",
                                f"--threshold={int(THRESHOLD * 10)}", unit], capture_output=True, timeout=60)
    assert threshold.returncode == 0, threshold.stdout.decode()


def test_unit_directives():
    with open(installed_unit()) as f:
        text = f.read()
    for directive in ("CapabilityBoundingSet=\n", "SystemCallFilter=@system-service", "ProtectClock=yes",
                      "ProtectKernelLogs=yes", "ProtectHostname=yes", "RestrictSUIDSGID=yes",
                      "RestrictRealtime=yes", "ProtectProc=invisible", "ProcSubset=pid", "UMask=0027",
                      "WatchdogSec="):
        assert directive in text, f"{directive!r} missing from the unit"
    assert "BOUNCEDEMAILS_AMQP_URL" not in text, "the unit names a variable the README does not"
    assert "BOUNCEDEMAILS_AMQP_PASSWORD" in text


def test_watchdog_from_event_loop():
    work = Workdir(smtp={"enabled": True, "port": free_port()})
    path = os.path.join(work.dir, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    env = harness.environment({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": None})
    log = open(os.path.join(work.dir, "service.log"), "wb")
    proc = subprocess.Popen(work.args("run"), stdout=log, stderr=subprocess.STDOUT, env=env)
    got = []

    def pings():
        try:
            got.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
        return sum("WATCHDOG=1" in g for g in got) >= 3 or proc.poll() is not None

    try:
        wait_until(pings, 15, "three WATCHDOG=1 notifications")
        assert proc.poll() is None, f"the daemon exited ({proc.returncode})"
        assert any("READY=1" in g for g in got), got
        assert sum("WATCHDOG=1" in g for g in got) >= 3, got
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
        sock.close()


def test_libsystemd_is_loaded_only_under_systemd():
    """The daemon maps libsystemd only when NOTIFY_SOCKET is set, and stops
    at start-up (exit 70) when it is set and libsystemd cannot be loaded,
    rather than leave systemd waiting for a READY=1 that never comes."""
    work = Workdir(smtp={"enabled": True, "port": free_port()})
    broken = harness.unloadable_library(work, "libsystemd.so.0")
    service = work.start("run", env={"LD_DEBUG": "files", "LD_LIBRARY_PATH": broken})
    try:
        service.wait_output("started")
        assert "libsystemd" not in service.output(), service.output()
    finally:
        service.stop()
    proc = work.run("run", env={"NOTIFY_SOCKET": os.path.join(work.dir, "nobody.sock"), "LD_LIBRARY_PATH": broken},
                    timeout=30)
    out = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode == 70, (proc.returncode, out)
    assert "NOTIFY_SOCKET is set, but cannot load libsystemd.so.0" in out, out


if __name__ == "__main__":
    harness.main(globals())
