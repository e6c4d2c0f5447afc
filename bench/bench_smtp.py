#!/usr/bin/env python3
"""End-to-end benchmark of the SMTP listener (make bench): 16 concurrent
clients deliver a mixed set of real bounces to `run-smtpserver`, the
C stand-in platform (bench/standin_platform.c) answering the notifications. A message counts when its
250 arrives, which the listener sends only after the commit. Rows: one
connection per client carrying many messages (MAIL, RCPT and DATA
pipelined), and a new connection for every message. Prints a table, with the
service's CPU time a message split by thread (the event loop running the
sessions, the commit thread running the policy, the classifier's pool, the
archive's writer, the notifier); never fails on a number.

Environment: BOUNCEDEMAILS (the program), BOUNCEDEMAILS_CORPUS (real bounces;
the project's own samples when absent), BENCH_SMTP_MESSAGES (20000),
BENCH_SMTP_CONNECT_MESSAGES (3000), BENCH_SMTP_CLIENTS (16).
"""
import multiprocessing
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import harness  # noqa: E402
from bench_service import StandinPlatform, bounce_templates, cleanup, handled, rss_peak_kib  # noqa: E402

RECIPIENT = b"no-reply@mydomain.de"


def smtp_data(raw):
    """CRLF line ends (a bare CR too, which the listener refuses as an MTA
    would have converted it), dot-stuffed, with the final dot."""
    lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        # Like a real MTA's client: no Nagle delay on the small last segment.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.expect(b"220")
        self.sock.sendall(b"EHLO bench.example\r\n")
        self.expect(b"250")

    def expect(self, code):
        while True:
            line = self.file.readline()
            if not line.startswith(code):
                raise RuntimeError(f"expected {code!r}, got {line!r}")
            if line[3:4] != b"-":
                return

    def deliver(self, data):
        self.sock.sendall(b"MAIL FROM:<>\r\nRCPT TO:<" + RECIPIENT + b">\r\nDATA\r\n")
        self.expect(b"250")
        self.expect(b"250")
        self.expect(b"354")
        self.sock.sendall(data)
        self.expect(b"250")

    def close(self):
        self.sock.sendall(b"QUIT\r\n")
        self.expect(b"221")
        self.file.close()
        self.sock.close()


def client_worker(args):
    port, messages, reconnect = args
    client = None
    for data in messages:
        if client is None:
            client = Client(port)
        client.deliver(data)
        if reconnect:
            client.close()
            client = None
    if client:
        client.close()
    return len(messages)


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
    shares = [(port, messages[i::clients], reconnect) for i in range(clients)]
    with multiprocessing.Pool(clients) as pool:
        start = time.monotonic()
        delivered = sum(pool.map(client_worker, shares))
        return delivered, time.monotonic() - start


def main():
    count = int(os.environ.get("BENCH_SMTP_MESSAGES", 20000))
    connect_count = int(os.environ.get("BENCH_SMTP_CONNECT_MESSAGES", 3000))
    clients = int(os.environ.get("BENCH_SMTP_CLIENTS", 16))
    templates = bounce_templates()
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
            delivered, elapsed = run(port, messages, clients, reconnect)
            cpu = cpu_seconds(service.proc.pid) - cpu_before
            threads_after = thread_cpu(service.proc.pid)
            split = {k: threads_after[k] - threads_before[k] for k in THREADS}
            rows.append((label, delivered, handled(work) - before, elapsed, cpu, split))
        peak = rss_peak_kib(service.proc.pid)
    finally:
        service.stop()
        platform.stop()

    print(f"SMTP end to end: {clients} clients, {len(templates)} distinct real bounces, 250 only after commit")
    print(f"{'SMTP':<30} {'messages':>9} {'committed':>10} {'seconds':>8} {'msg/s':>9} {'service CPU ms/msg':>19}"
          f"  {'of it: sessions':>15} {'commit':>7} {'pool':>6} {'archive':>8} {'notify':>7}")
    for label, delivered, committed, elapsed, cpu, split in rows:
        print(f"{label:<30} {delivered:>9} {committed:>10} {elapsed:>8.2f} {delivered / elapsed:>9.0f}"
              f" {1000 * cpu / delivered:>19.2f}  {1000 * split['sessions'] / delivered:>15.3f}"
              f" {1000 * split['commit'] / delivered:>7.3f} {1000 * split['pool'] / delivered:>6.3f}"
              f" {1000 * split['archive'] / delivered:>8.3f} {1000 * split['notify'] / delivered:>7.3f}")
    print(f"peak RSS of the service: {peak / 1024:.1f} MiB; {os.cpu_count()} CPUs,"
          f" load average {os.getloadavg()[0]:.1f} (clients and service share them)")


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
