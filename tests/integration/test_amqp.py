#!/usr/bin/env python3
"""The RabbitMQ consumer against a real broker: it consumes and notifies,
reads both vhost spellings, carries on when the broker restarts, loses
nothing when it is killed with SIGKILL again and again, and sets aside a
message that it keeps dying on."""
import hashlib
import os
import random
import re
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

import harness

DATA = os.path.join(harness.DATA, "amqp")
TEMPLATES = [os.path.join(DATA, f) for f in
             ("permanent.eml", "soft-a.eml", "soft-b.eml", "soft-c.eml", "soft-d.eml", "soft-e.eml")]
PUBLISH = os.path.join(os.path.dirname(harness.BIN), "tests", "amqp_publish_many")
TEST_SERVER = os.path.join(harness.SRC, "scripts", "test-server")


def _url():
    url = os.environ.get("AMQP_URL")
    if not url:
        raise harness.Skip("no RabbitMQ (AMQP_URL unset)")
    return url


def _queue(name):
    return f"bd-{name}-{os.getpid()}"


def _template(path, n):
    with open(path, encoding="utf-8") as f:
        return f.read().replace("{n}", str(n))


def publish(url, queue, count, templates=TEMPLATES):
    subprocess.run([PUBLISH, url, queue, str(count), *templates], check=True, timeout=120)


def queue_is_empty(url, queue):
    """amqp-get exits 2 when there is nothing to get."""
    return subprocess.run(["amqp-get", "-u", url, "-q", queue], capture_output=True).returncode == 2


def handled(work):
    try:
        return work.query("SELECT count(*) FROM message_seen")[0][0]
    except Exception:
        return 0


def pending_notifications(work):
    return work.query("SELECT count(*) FROM outbox WHERE state = 0")[0][0]


def _service(platform, url, queue, **extra):
    work = harness.Workdir(platform, amqp={"url": url, "queue": queue, **extra})
    return work, work.start("run")


def test_consumes_acknowledges_and_notifies():
    url, queue = _url(), _queue("basic")
    platform = harness.Platform()
    work, service = _service(platform, url, queue)
    try:
        service.wait_output("AMQP consuming queue")
        publish(url, queue, 3, TEMPLATES[:1])
        expected = {f"user-{n}@example.org" for n in range(3)}
        harness.wait_until(lambda: expected <= set(platform.addresses()), 30, "three suspensions")
        assert "Permanent: user-0@example.org" in service.output()
        service.stop()
        assert queue_is_empty(url, queue), "a handled message was left unacknowledged"
    finally:
        service.stop()
        platform.stop()


def test_vhost_is_percent_decoded():
    url = _url()
    base, vhost = url.rsplit("/", 1)
    assert vhost == "bouncedemails", url
    for spelling, decoded in (("bouncedemails", "bouncedemails"), ("%2fbouncedemails", "/bouncedemails")):
        work, service = _service(None, f"{base}/{spelling}", _queue("vhost"))
        try:
            service.wait_output(f"vhost '{decoded}'")
        finally:
            service.stop()


def test_broker_restart_mid_run():
    url, queue = _url(), _queue("restart")
    if not os.environ.get("AMQP_RESTARTABLE"):
        raise harness.Skip("the broker was not started by scripts/test-server")
    platform = harness.Platform()
    work, service = _service(platform, url, queue)
    try:
        service.wait_output("AMQP consuming queue")
        publish(url, queue, 300)
        harness.wait_until(lambda: handled(work) >= 100, 60, "the first messages")
        subprocess.run([TEST_SERVER, "rabbitmq", "restart"], check=True, timeout=180)
        publish(url, queue, 600)  # numbers 0..599: the first 300 are duplicates
        harness.wait_until(lambda: handled(work) == 600, 120, "all 600 distinct messages")
        assert service.proc.poll() is None, "the consumer exited when the broker restarted"
        out = service.output()
        assert "AMQP connection lost" in out or "AMQP broker closed" in out, out[-2000:]
        assert out.count("AMQP consuming queue") >= 2
    finally:
        service.stop()
        platform.stop()


def _run_to_completion(work, url, queue, total, kills):
    """Runs the service until every message is handled and notified, killing
    it with SIGKILL after random numbers of handled messages."""
    rng = random.Random(20261127)
    targets = sorted(rng.sample(range(1, total), kills))
    service = work.start("run")
    try:
        for target in targets:
            harness.wait_until(lambda: handled(work) >= target, 120, f"{target} handled messages")
            service.kill()
            service = work.start("run")
        harness.wait_until(lambda: handled(work) == total, 180, f"all {total} messages handled")
        harness.wait_until(lambda: pending_notifications(work) == 0, 120, "the outbox to drain")
        service.stop()
        assert queue_is_empty(url, queue)
    finally:
        service.stop()


def test_crash_safety_under_sigkill():
    url = _url()
    total = 2000
    results = []
    for kills in (0, 5):
        queue = _queue(f"crash{kills}")
        platform = harness.Platform()
        work = harness.Workdir(platform, amqp={"url": url, "queue": queue})
        try:
            publish(url, queue, total)
            _run_to_completion(work, url, queue, total, kills)
            counters = sorted(work.query("SELECT address, domain, count FROM soft_bounce"))
            suspended = set(platform.addresses())
            results.append((counters, suspended))
        finally:
            platform.stop()
    (ref_counters, ref_suspended), (counters, suspended) = results
    assert counters == ref_counters, (counters, ref_counters)
    expected = {f"user-{n}@example.org" for n in range(0, total, len(TEMPLATES))}
    assert expected <= ref_suspended
    assert suspended == ref_suspended, ref_suspended ^ suspended


def _drain_seconds(platform, count, label):
    """Seconds the consumer takes to handle count permanent bounces (each a
    notification) with this platform."""
    url, queue = _url(), _queue(label)
    work = harness.Workdir(platform, amqp={"url": url, "queue": queue})
    publish(url, queue, count, TEMPLATES[:1])
    service = work.start("run")
    try:
        start = time.monotonic()
        harness.wait_until(lambda: handled(work) >= count, 300, f"{count} messages", interval=0.02)
        return time.monotonic() - start
    finally:
        service.stop()


def test_slow_platform_does_not_slow_ingest():
    """The notifier waits on a platform that answers in 200 ms, ingest does
    not: the queue drains about as fast as with a platform that answers at
    once (a ratio of two drains in one run, whatever the machine's load)."""
    platform = harness.Platform()
    try:
        count = 3000
        fast = _drain_seconds(platform, count, "fast")
        platform.mode(mode="slow", delay=0.2)
        slow = _drain_seconds(platform, count, "slow")
        assert slow < 2 * fast + 0.5, f"{count} messages: {fast:.2f} s, {slow:.2f} s with a slow platform"
    finally:
        platform.stop()


def test_amqps_verifies_the_broker():
    """amqps:// consumes over TLS when amqp.tls_ca_file vouches for the broker,
    and refuses a broker that the configured CAs do not."""
    url, tls_url, ca = _url(), os.environ.get("AMQPS_URL"), os.environ.get("AMQPS_CA")
    if not tls_url or not ca:
        raise harness.Skip("the broker has no TLS listener (AMQPS_URL unset)")
    queue = _queue("tls")
    platform = harness.Platform()
    work, service = _service(platform, tls_url, queue, tls_ca_file=ca)
    try:
        service.wait_output("AMQP consuming queue")
        publish(url, queue, 1, TEMPLATES[:1])
        harness.wait_until(lambda: "user-0@example.org" in platform.addresses(), 30, "a suspension over TLS")
    finally:
        service.stop()
        platform.stop()
    system_cas = "/etc/ssl/certs/ca-certificates.crt"
    if not os.path.exists(system_cas):
        return
    work, service = _service(None, tls_url, _queue("tls-untrusted"), tls_ca_file=system_cas)
    try:
        service.wait_output("reconnecting in")
        assert "AMQP consuming queue" not in service.output()
    finally:
        service.stop()


def test_non_durable_queue_of_the_original_is_consumed():
    """The original declared its queue non-durable: our durable declare gets
    406, and the queue is consumed as it is, with one warning on migrating."""
    url, queue = _url(), _queue("nondurable")
    subprocess.run(["amqp-declare-queue", "-u", url, "-q", queue], check=True, capture_output=True, timeout=30)
    for n in range(5):
        subprocess.run(["amqp-publish", "-u", url, "-r", queue, "-b", _template(TEMPLATES[0], n)],
                       check=True, timeout=30)
    platform = harness.Platform()
    port = harness.free_port()
    work = harness.Workdir(platform, amqp={"url": url, "queue": queue}, metrics={"listen": f"127.0.0.1:{port}"})
    service = work.start("run")
    try:
        expected = {f"user-{n}@example.org" for n in range(5)}
        harness.wait_until(lambda: expected <= set(platform.addresses()), 30, "five suspensions")
        harness.wait_until(lambda: queue_is_empty(url, queue), 10, "the queue to be drained")
        out = service.output()
        assert out.count("is not durable") == 1, out
        assert "406" in out and "delete_queue" in out, out
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            assert resp.status == 200
    finally:
        service.stop()
        platform.stop()


def _http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_a_consumer_that_cannot_consume_says_so_every_minute():
    """No broker at all: /readyz fails from the start, with the reason once
    the first attempt has failed; /healthz does not; and the log says every
    minute that nothing is consumed (slow: 60 s)."""
    broker, port = harness.free_port(), harness.free_port()
    work = harness.Workdir(None, amqp={"url": f"amqp://guest:guest@127.0.0.1:{broker}/bouncedemails"},
                           metrics={"listen": f"127.0.0.1:{port}"})
    service = work.start("run")
    try:
        harness.wait_for_port(port)
        answers = []

        def refused():
            answers.append(_http_status(f"http://127.0.0.1:{port}/readyz"))
            return answers[-1][1].startswith(f"amqp: AMQP connection to 127.0.0.1:{broker} failed")

        # Until the consumer's first attempt has failed it says "not connected yet".
        harness.wait_until(refused, 10, "/readyz to give the connection's failure", interval=0.05)
        assert all(status == 503 for status, _body in answers), answers
        assert _http_status(f"http://127.0.0.1:{port}/healthz")[0] == 200
        service.wait_output("AMQP: not consuming queue bouncedemails for", timeout=100)
        assert service.output().count("not consuming queue") == 1
    finally:
        service.stop()


def test_oversize_message_is_quarantined_by_reference():
    """A message over amqp.max_message_size is not handled: its header block
    and its size go to the quarantine, not its body; the next one is handled."""
    url, queue = _url(), _queue("oversize")
    text = _template(TEMPLATES[0], 1)
    head, body = text.split("\n\n", 1)
    big = head + "\n\n" + body + "\n" + ("x" * 76 + "\n") * 2000
    platform = harness.Platform()
    work = harness.Workdir(platform, amqp={"url": url, "queue": queue, "max_message_size": 65536})
    service = work.start("run")
    try:
        service.wait_output("AMQP consuming queue")
        subprocess.run(["amqp-publish", "-u", url, "-r", queue], input=big.encode(), check=True, timeout=30)
        publish(url, queue, 1, TEMPLATES[:1])
        harness.wait_until(lambda: "user-0@example.org" in platform.addresses(), 30, "the next message handled")
        harness.wait_until(lambda: work.query("SELECT count(*) FROM quarantine")[0][0] == 1, 10, "a quarantined reference")
        raw, reason = work.query("SELECT raw, reason FROM quarantine")[0]
        raw = bytes(raw).decode()
        digest = hashlib.sha256(big.encode()).hexdigest()
        note = f"X-Bouncedemails-Quarantine: truncated; {len(big.encode())} bytes, sha256={digest}; only the header is kept\r\n"
        assert raw.rstrip() == note + head.rstrip(), raw[:500]
        assert f"too large: {len(big.encode())} bytes" in reason and "65536" in reason, reason
        assert "user-1@example.org" not in platform.addresses()
        assert queue_is_empty(url, queue)
    finally:
        service.stop()
        platform.stop()


def test_a_refusal_in_a_batch_costs_only_that_message():
    """The store refuses one message of a batch (a constraint here): the
    batch's transaction is rolled back and the batch handled again one
    message at a time. The refused message goes to the quarantine, every
    other one is suspended and POSTed once, and all are acknowledged:
    nothing is requeued or counted twice. A batch of amqp.batch (250)
    messages, the refused one late in it, so that the first pass's lines
    are more than a small log buffer holds."""
    url, queue = _url(), _queue("refusal")
    total, refused = 250, 200
    platform = harness.Platform()
    work = harness.Workdir(platform, amqp={"url": url, "queue": queue, "batch": total})
    assert work.run("stats").returncode == 0  # creates the store
    con = sqlite3.connect(work.db, timeout=10)
    con.execute(f"CREATE TRIGGER refused BEFORE INSERT ON outbox WHEN NEW.address = 'user-{refused}@example.org'"
                " BEGIN SELECT RAISE(ABORT, 'refused in the test'); END")
    con.commit()
    con.close()
    publish(url, queue, total, TEMPLATES[:1])  # waiting before the consumer starts: one batch
    service = work.start("run")
    try:
        expected = sorted(f"user-{n}@example.org" for n in range(total) if n != refused)
        harness.wait_until(lambda: len(platform.addresses()) >= total - 1, 60, "the suspensions")
        harness.wait_until(lambda: work.query("SELECT count(*) FROM quarantine")[0][0] == 1, 10, "the refused one")
        out = service.output()
        assert "each is handled again on its own" in out, "the batch was not retried"
        assert "describe nothing committed" not in out, "the first pass's lines went out"
        # What the rollback undid was not said: each suspension is logged
        # once, and the refused message's lines end with its quarantine.
        for n in range(total):
            if n != refused:
                assert out.count(f"Permanent: user-{n}@example.org") == 1, n
        assert "Quarantine: refused by the store" in out
        reason = work.query("SELECT reason FROM quarantine")[0][0]
        assert "refused by the store" in reason and "refused in the test" in reason, reason
        assert handled(work) == total
        assert work.query("SELECT count(*) FROM event")[0][0] == total - 1
        service.stop()
        assert sorted(platform.addresses()) == expected
        assert queue_is_empty(url, queue), "a message was left unacknowledged or requeued"
    finally:
        service.stop()
        platform.stop()


def _batch_sizes(service):
    """The size of every batch the consumer committed (--debug lines)."""
    return [int(n) for n in re.findall(r"AMQP: committed a batch of (\d+)", service.output())]


def test_a_backlog_is_committed_in_batches_of_amqp_batch():
    """With the default amqp.batch (250) and prefetch (500), a backlog is
    committed in transactions of at most 250 messages, each message in
    exactly one, and batches grow past the old default of 100 when the
    messages are waiting: larger batches are what write fewer pages a
    message (docs/performance-history.md, eighth round)."""
    url, queue = _url(), _queue("batches")
    platform = harness.Platform()
    work = harness.Workdir(platform, amqp={"url": url, "queue": queue})
    publish(url, queue, 600)
    service = work.start("--debug", "run")
    try:
        harness.wait_until(lambda: handled(work) == 600, 60, "the backlog handled")
        harness.wait_until(lambda: queue_is_empty(url, queue), 10, "the backlog acknowledged")
        sizes = _batch_sizes(service)
        assert sum(sizes) == 600, sizes
        assert max(sizes) <= 250, sizes
        assert max(sizes) > 100, sizes
    finally:
        service.stop()
        platform.stop()


def test_a_batch_of_large_messages_ends_at_its_byte_bound():
    """amqp.batch counts messages; a batch also stops taking them once it
    holds 16 MiB, so that a queue of large bounces is not taken 250 at a
    time into memory. Forty messages of about 1 MiB each: batches of at most
    16, every message committed once."""
    url, queue = _url(), _queue("large-batches")
    platform = harness.Platform()
    work = harness.Workdir(platform, amqp={"url": url, "queue": queue})
    with open(TEMPLATES[1], encoding="utf-8") as f:
        large = f.read() + "\n" + ("z" * 1023 + "\n") * 1024
    path = os.path.join(work.dir, "large.eml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(large)
    publish(url, queue, 40, [path])
    service = work.start("--debug", "run")
    try:
        harness.wait_until(lambda: handled(work) == 40, 60, "the large messages handled")
        sizes = _batch_sizes(service)
        assert sum(sizes) == 40, sizes
        assert max(sizes) <= 16, sizes
    finally:
        service.stop()
        platform.stop()


def _peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])


def test_oversize_messages_with_one_header_are_two():
    """Two different messages over amqp.max_message_size whose header blocks
    are the same: what is kept of each carries its own size and SHA-256, so
    the second is not taken for a duplicate of the first and dropped."""
    url, queue = _url(), _queue("oversize-twins")
    head = _template(TEMPLATES[0], 3).split("\n\n", 1)[0]
    platform = harness.Platform()
    work = harness.Workdir(platform, amqp={"url": url, "queue": queue, "max_message_size": 65536})
    service = work.start("run")
    try:
        service.wait_output("AMQP consuming queue")
        for filler in ("alice\n", "bob\n"):
            body = (head + "\n\n" + filler * 30000).encode()
            subprocess.run(["amqp-publish", "-u", url, "-r", queue], input=body, check=True, timeout=30)
        harness.wait_until(lambda: work.query("SELECT count(*) FROM quarantine")[0][0] == 2, 30, "two references")
        harness.wait_until(lambda: queue_is_empty(url, queue), 30, "both acknowledged")
        assert "Duplicate" not in service.output()
        assert work.query("SELECT count(*) FROM message_seen")[0][0] == 2
    finally:
        service.stop()
        platform.stop()


def test_oversize_messages_are_never_held_whole():
    """Two 40 MiB messages over amqp.max_message_size: the consumer reads
    past their bodies, so its peak memory stays far below one of them."""
    url, queue = _url(), _queue("oversize-memory")
    head = _template(TEMPLATES[0], 2).split("\n\n", 1)[0]
    big = (head + "\n\n" + ("y" * 1023 + "\n") * (40 * 1024)).encode()
    platform = harness.Platform()
    work = harness.Workdir(platform, amqp={"url": url, "queue": queue, "max_message_size": "1MiB"})
    service = work.start("run")
    try:
        service.wait_output("AMQP consuming queue")
        baseline = _peak_rss_kib(service.proc.pid)
        for _ in range(2):
            subprocess.run(["amqp-publish", "-u", url, "-r", queue], input=big, check=True, timeout=60)
        harness.wait_until(lambda: work.query("SELECT count(*) FROM quarantine")[0][0] == 1, 60,
                           "the reference quarantined (the second is the same message: a duplicate)")
        harness.wait_until(lambda: queue_is_empty(url, queue), 30, "both acknowledged")
        grown = _peak_rss_kib(service.proc.pid) - baseline
        print(f"peak memory grew by {grown} KiB for two {len(big) // 1024} KiB messages")
        assert grown < len(big) // 1024 // 4, f"peak memory grew by {grown} KiB for {len(big) // 1024} KiB messages"
    finally:
        service.stop()
        platform.stop()


def _unacked(port):
    """The deliveries the consumer holds, from its /metrics (-1 while it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except (urllib.error.URLError, OSError):
        return -1
    match = re.search(r"^bouncedemails_amqp_unacked_messages (\d+)$", text, re.M)
    return int(match.group(1)) if match else -1


class _HeldStore:
    """A write lock on the store, held by the test: the consumer's commit
    waits for it (up to its 10 s busy timeout) with the message in hand."""

    def __init__(self, work):
        self.con = sqlite3.connect(work.db, isolation_level=None, timeout=10)
        self.con.execute("BEGIN IMMEDIATE")

    def release(self):
        if self.con:
            self.con.rollback()
            self.con.close()
            self.con = None


def _die_with_the_message_in_hand(work, port, attempts=None):
    """Starts the consumer and kills it (SIGKILL) while its commit waits for
    the store, once it holds the message and, when attempts is given, once
    its mark counts that many attempts at it alone."""
    service = work.start("run")
    try:
        harness.wait_until(lambda: _unacked(port) == 1 and
                           (attempts is None or list(work.crash_marks().values()) == [str(attempts)]), 9,
                           "the message in hand" + (f", attempt {attempts} alone" if attempts else ""))
    finally:
        service.kill()


def _one_message_service(name):
    url, queue = _url(), _queue(name)
    platform = harness.Platform()
    port = harness.free_port()
    work = harness.Workdir(platform, amqp={"url": url, "queue": queue}, metrics={"listen": f"127.0.0.1:{port}"})
    assert work.run("stats").returncode == 0  # creates the store
    publish(url, queue, 1, TEMPLATES[:1])
    return url, queue, platform, port, work


def test_a_message_redelivered_after_deaths_in_its_batch_and_alone_is_handled():
    """The consumer dies with a batch in hand, then once more while handling
    its message alone: the message is handled at its next delivery, as
    usual, and leaves no mark."""
    url, queue, platform, port, work = _one_message_service("redelivered")
    store = _HeldStore(work)
    try:
        _die_with_the_message_in_hand(work, port)
        assert work.crash_marks() == {}, "a message in a batch was marked"
        _die_with_the_message_in_hand(work, port, attempts=1)
        store.release()
        service = work.start("run")
        try:
            harness.wait_until(lambda: "user-0@example.org" in platform.addresses(), 30, "the suspension")
            assert handled(work) == 1
            assert work.query("SELECT count(*) FROM quarantine")[0][0] == 0
            assert "trying it once more" in service.output()
            service.stop()
            assert work.crash_marks() == {}, work.crash_marks()
            assert queue_is_empty(url, queue)
        finally:
            service.stop()
    finally:
        store.release()
        platform.stop()


def test_a_message_the_consumer_died_on_twice_alone_is_quarantined_unread():
    """The consumer dies three times with the message in hand, the last two
    handling it alone: at its next delivery it is quarantined unread, with
    its reason, and acknowledged. `replay` leaves it alone (it might kill
    the command too); `replay --id` takes it back."""
    url, queue, platform, port, work = _one_message_service("poison")
    store = _HeldStore(work)
    try:
        _die_with_the_message_in_hand(work, port)
        for attempts in (1, 2):
            _die_with_the_message_in_hand(work, port, attempts)
        store.release()
        service = work.start("run")
        try:
            harness.wait_until(lambda: work.query("SELECT count(*) FROM quarantine")[0][0] == 1, 30,
                               "the message quarantined")
            qid, reason = work.query("SELECT id, reason FROM quarantine")[0]
            assert "the process stopped while handling it" in reason, reason
            assert "quarantined unread" in service.output()
            assert work.query("SELECT count(*) FROM event")[0][0] == 0
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                assert "\nbouncedemails_amqp_set_aside_total 1\n" in resp.read().decode()
            service.stop()
            assert work.crash_marks() == {}, work.crash_marks()
            assert queue_is_empty(url, queue), "the quarantined message was not acknowledged"
        finally:
            service.stop()
        assert platform.addresses() == []
        skipped = work.run("replay")
        assert skipped.returncode == 0 and "1 skipped" in skipped.stdout.decode(), skipped.stdout
        assert work.query("SELECT count(*) FROM quarantine")[0][0] == 1
        assert work.run("replay", "--id", str(qid)).returncode == 0
        assert "user-0@example.org" in platform.addresses()
    finally:
        store.release()
        platform.stop()


if __name__ == "__main__":
    harness.main(globals())
