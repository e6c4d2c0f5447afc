#!/usr/bin/env python3
"""End-to-end benchmarks of the service (make bench): the queue path, stdin
invocations and memory under a backlog, with a mixed set of real bounces and
the stand-in platform answering with keep-alive. Prints tables; never fails
on a number.

Environment: BOUNCEDEMAILS (the program), BOUNCEDEMAILS_CORPUS (real bounces;
the project's own samples when absent), AMQP_URL (a broker; the queue rows
are skipped without one), BENCH_QUEUE_MESSAGES (20000), BENCH_BACKLOG (100000),
BENCH_STDIN (300).
"""
import glob
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import harness  # noqa: E402

PUBLISH = os.path.join(os.path.dirname(harness.BIN), "tests", "amqp_publish_many")


def bounce_templates(limit=200):
    """Real bounces, each made distinct per copy ({n}) and addressed to the
    configured platform, so that every copy is handled, not deduplicated."""
    corpus = harness.CORPUS and os.path.join(harness.CORPUS, "sisimai", "maildir")
    paths = sorted(glob.glob(os.path.join(corpus, "*.eml")))[:limit] if corpus else []
    paths = paths or sorted(glob.glob(os.path.join(harness.DATA, "amqp", "*.eml")))
    out = tempfile.mkdtemp(prefix="bd-bench-")
    templates = []
    for i, path in enumerate(paths):
        with open(path, "rb") as f:
            body = f.read().replace(b"{n}", b"")
        target = os.path.join(out, f"{i:04d}.eml")
        with open(target, "wb") as f:
            f.write(b"X-Original-To: no-reply@mydomain.de\nX-Bench-Copy: {n}\n" + body)
        templates.append(target)
    return templates


def rss_peak_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User plus system CPU time of a running process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def handled(work):
    try:
        return work.query("SELECT count(*) FROM message_seen")[0][0]
    except Exception:
        return 0


def bench_queue(url, templates, count, label):
    platform = harness.Platform()
    queue = f"bd-bench-{label}-{os.getpid()}"
    work = harness.Workdir(platform, amqp={"url": url, "queue": queue})
    subprocess.run([PUBLISH, url, queue, str(count), *templates], check=True)
    service = work.start("run")
    start = time.monotonic()
    harness.wait_until(lambda: handled(work) >= count, 900, f"{count} messages", interval=0.05)
    elapsed = time.monotonic() - start
    peak = rss_peak_kib(service.proc.pid)
    cpu = cpu_seconds(service.proc.pid)
    service.stop()
    platform.stop()
    return elapsed, peak, cpu


def bench_stdin(templates, count):
    platform = harness.Platform()
    work = harness.Workdir(platform)
    bodies = []
    for i in range(count):
        with open(templates[i % len(templates)], "rb") as f:
            bodies.append(f.read().replace(b"{n}", str(i).encode()))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    for body in bodies:
        subprocess.run(work.args("stdin"), input=body, stdout=subprocess.DEVNULL, check=False)
    elapsed = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    platform.stop()
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu


def main():
    templates = bounce_templates()
    rows = []
    url = os.environ.get("AMQP_URL")
    n_queue = int(os.environ.get("BENCH_QUEUE_MESSAGES", 20000))
    n_backlog = int(os.environ.get("BENCH_BACKLOG", 100000))
    n_stdin = int(os.environ.get("BENCH_STDIN", 300))
    if url:
        elapsed, peak, cpu = bench_queue(url, templates, n_queue, "queue")
        rows.append(("queue -> committed verdicts", n_queue, elapsed, cpu, peak))
        if n_backlog:
            elapsed, peak, cpu = bench_queue(url, templates, n_backlog, "backlog")
            rows.append((f"queue, {n_backlog} backlog", n_backlog, elapsed, cpu, peak))
    else:
        print("no AMQP_URL: queue rows skipped")
    if n_stdin:
        elapsed, cpu = bench_stdin(templates, n_stdin)
        rows.append(("stdin invocations", n_stdin, elapsed, cpu, None))

    print(f"service end to end ({len(templates)} distinct real bounces, stand-in platform)")
    print("(CPU ms/msg: the service's own CPU time, or the stdin processes'; the")
    print(" msg/s a CPU of its own would give is 1000 / that, whatever the load)")
    print(f"{'path':<32} {'messages':>9} {'seconds':>8} {'msg/s':>9} {'CPU ms/msg':>11} {'msg/CPU-s':>10}"
          f" {'peak RSS MiB':>13}")
    for name, n, elapsed, cpu, peak in rows:
        rss = f"{peak / 1024:.1f}" if peak else "-"
        per = cpu * 1000 / n
        print(f"{name:<32} {n:>9} {elapsed:>8.2f} {n / elapsed:>9.0f} {per:>11.3f} {n / cpu if cpu else 0:>10.0f}"
              f" {rss:>13}")


if __name__ == "__main__":
    main()
