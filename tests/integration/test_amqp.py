#!/usr/bin/env python3
"""The RabbitMQ consumer against a real broker: it consumes and notifies,
reads both vhost spellings, carries on when the broker restarts, and loses
nothing when it is killed with SIGKILL again and again."""
import os
import random
import subprocess
import time

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


if __name__ == "__main__":
    harness.main(globals())
