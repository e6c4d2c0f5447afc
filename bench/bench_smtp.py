#!/usr/bin/env python3
"""End-to-end benchmark of the SMTP listener (make bench): 16 concurrent
clients (bench/smtp_load.c, in C, so that the clients do not take the CPU
that the service is measured on) deliver a mixed set of real bounces to
`run-smtpserver`, the C stand-in platform (bench/standin_platform.c)
answering the notifications. A message counts when its 250 arrives, which
the listener sends only after the commit. Rows: one connection per client
carrying many messages (MAIL, RCPT and DATA pipelined), and a new
connection for every message. Prints a table, with the service's CPU time a
message split by thread (the event loop running the sessions, the commit
thread running the policy, the classifier's pool, the archive's writer, the
notifier) and the clients' own; never fails on a number.

Environment: BOUNCEDEMAILS (the program), BOUNCEDEMAILS_CORPUS (real bounces;
the project's own samples when absent), BENCH_SMTP_MESSAGES (20000),
BENCH_SMTP_CONNECT_MESSAGES (3000), BENCH_SMTP_CLIENTS (16).
"""
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import harness  # noqa: E402
from bench_service import (StandinPlatform, bounce_templates, cleanup, file_system_line, handled,  # noqa: E402
                           rss_peak_kib, settled_file_system)

RECIPIENT = b"no-reply@mydomain.de"
LOAD = os.path.join(os.path.dirname(harness.BIN), "bench", "smtp_load")


def smtp_data(raw):
    """CRLF line ends (a bare CR too, which the listener refuses as an MTA
    would have converted it), dot-stuffed, with the final dot."""
    lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"


def _stat_cpu(path):
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User plus system time the process has used so far."""
    return _stat_cpu(f"/proc/{pid}/stat")


THREADS = ("sessions", "commit", "pool", "archive", "notify")


def thread_cpu(pid):
    """CPU seconds by thread: the event loop that runs the SMTP sessions (the
    main thread), the listener's commit thread (smtp-commit: the policy, its
    half of the classifier, the store), the classifier's pool, the archive's
    writer and the notifier."""
    out = dict.fromkeys(THREADS, 0.0)
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            cpu = _stat_cpu(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            continue
        key = "sessions" if int(tid) == pid else "commit" if comm == "smtp-commit" else comm
        if key in out:
            out[key] += cpu
    return out


def make_messages(templates, count, offset):
    bodies = []
    for path in templates:
        with open(path, "rb") as f:
            bodies.append(f.read())
    return [smtp_data(bodies[i % len(bodies)].replace(b"{n}", str(offset + i).encode())) for i in range(count)]


def run(port, messages, clients, reconnect):
    """Delivers messages with bench/smtp_load's clients; returns the number
    delivered, the seconds it took and the clients' CPU seconds."""
    with tempfile.NamedTemporaryFile(prefix="bd-smtp-load-", suffix=".msgs") as f:
        for data in messages:
            f.write(b"%d\n" % len(data) + data)
        f.flush()
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        done = subprocess.run([LOAD, str(port), str(clients), "1" if reconnect else "0", RECIPIENT.decode(), f.name],
                              capture_output=True, text=True, timeout=600)
        elapsed = time.monotonic() - start
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"smtp_load: {done.stderr.strip()}")
    delivered = int(done.stdout.split()[-1])
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return delivered, elapsed, cpu


def main():
    count = int(os.environ.get("BENCH_SMTP_MESSAGES", 20000))
    connect_count = int(os.environ.get("BENCH_SMTP_CONNECT_MESSAGES", 3000))
    clients = int(os.environ.get("BENCH_SMTP_CLIENTS", 16))
    templates = bounce_templates()
    file_system = settled_file_system()
    platform = StandinPlatform()
    port = harness.free_port()
    work = harness.Workdir(platform, smtp={"port": port, "max_connections_per_client": 4 * clients})
    service = work.start(*(["--debug"] if os.environ.get("BENCH_SMTP_DEBUG") else []), "run-smtpserver", "--host", "127.0.0.1", "--port", str(port))
    rows = []
    try:
        service.wait_output("SMTP listening on")
        for label, n, reconnect, offset in (("one connection per client", count, False, 0),
                                            ("new connection per message", connect_count, True, count)):
            messages = make_messages(templates, n, offset)
            before, cpu_before = handled(work), cpu_seconds(service.proc.pid)
            threads_before = thread_cpu(service.proc.pid)
            delivered, elapsed, client_cpu = run(port, messages, clients, reconnect)
            cpu = cpu_seconds(service.proc.pid) - cpu_before
            threads_after = thread_cpu(service.proc.pid)
            split = {k: threads_after[k] - threads_before[k] for k in THREADS}
            rows.append((label, delivered, handled(work) - before, elapsed, cpu, split, client_cpu))
        peak = rss_peak_kib(service.proc.pid)
    finally:
        service.stop()
        platform.stop()

    print(f"SMTP end to end: {clients} clients, {len(templates)} distinct real bounces, 250 only after commit;"
          f" store and archive under {tempfile.gettempdir()}")
    print(file_system_line(*file_system))
    print(f"{'SMTP':<30} {'messages':>9} {'committed':>10} {'seconds':>8} {'msg/s':>9} {'service CPU ms/msg':>19}"
          f"  {'of it: sessions':>15} {'commit':>7} {'pool':>6} {'archive':>8} {'notify':>7}  {'clients ms/msg':>14}")
    for label, delivered, committed, elapsed, cpu, split, client_cpu in rows:
        print(f"{label:<30} {delivered:>9} {committed:>10} {elapsed:>8.2f} {delivered / elapsed:>9.0f}"
              f" {1000 * cpu / delivered:>19.2f}  {1000 * split['sessions'] / delivered:>15.3f}"
              f" {1000 * split['commit'] / delivered:>7.3f} {1000 * split['pool'] / delivered:>6.3f}"
              f" {1000 * split['archive'] / delivered:>8.3f} {1000 * split['notify'] / delivered:>7.3f}"
              f"  {1000 * client_cpu / delivered:>14.3f}")
    print(f"peak RSS of the service: {peak / 1024:.1f} MiB; {os.cpu_count()} CPUs,"
          f" load average {os.getloadavg()[0]:.1f} (clients and service share them)")


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
