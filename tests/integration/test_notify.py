#!/usr/bin/env python3
"""The notifier end to end: bounces come in through `bouncedemails stdin`
(which queues the notification and makes one prompt attempt), the daemon
`bouncedemails run` drains what is left, and the stand-in platform records
what reached it. Covered: platform down, then up (every notification arrives,
once); a 500 and a hang are retried; 404 is done (unknown at the platform);
400 is given up and `outbox retry` revives it; the xikolo resolver; the JSON
payload and configured headers, whose values never reach the log; each
suspension is POSTed once while two daemons' notifiers claim from the same
outbox at once.
"""
import concurrent.futures
import json

import harness
from harness import Platform, Workdir, sample, wait_until

PENDING, DONE, GIVEN_UP = 0, 1, 2
TEMPLATE_ADDRESS = b"evil-address@some-provider.com"


def bounce(address, noreply="no-reply@mydomain.de"):
    """A Postfix 'User unknown' bounce for address, sent by noreply."""
    data = sample("service", "postfix-userunknown.eml")
    data = data.replace(TEMPLATE_ADDRESS, address.encode())
    data = data.replace(b"no-reply@mydomain.de", noreply.encode())
    # A message of its own, so that it is not taken for a repeat.
    return data.replace(b"Message-Id: <", b"Message-Id: <" + address.encode().replace(b"@", b".") + b".")


def ingest(work, address, **kw):
    proc = work.run("stdin", input=bounce(address, **kw))
    out = proc.stdout.decode("utf-8")
    assert proc.returncode == 0, out + proc.stderr.decode("utf-8", "replace")
    assert f"Permanent: {address}" in out, out
    return out


def outbox(work, address):
    rows = work.query("SELECT state, attempts, last_result FROM outbox WHERE address = ? ORDER BY id DESC",
                      (address,))
    assert rows, f"no outbox item for {address}"
    return rows[0]


def answer(work, address):
    rows = work.query("SELECT platform_answer FROM permanent_bounce WHERE address = ?", (address,))
    return rows[0][0] if rows else None


def test_platform_down_then_up_every_notification_once():
    platform = Platform()
    platform.stop()
    try:
        work = Workdir(platform)
        addresses = [f"down{i}+tag@example.org" for i in range(6)]
        for address in addresses:
            out = ingest(work, address)
            assert "Response:" not in out, out
            assert "connection failed" in out, out
        # Each stdin run also makes an attempt at what has come due again.
        for address in addresses:
            state, attempts, result = outbox(work, address)
            assert state == PENDING and attempts >= 1, (address, state, attempts, result)
            assert result.startswith("connection failed"), result

        platform.start()
        service = work.start("run")
        try:
            wait_until(lambda: all(outbox(work, a)[0] == DONE for a in addresses), 20, "every notification done")
            received = platform.addresses()
            for address in addresses:
                assert received.count(address) == 1, (address, received)
                assert answer(work, address) == f'200 / {{"processd_email": "{address}"}}'
            service.wait_output(f'Response:  200 / {{"processd_email": "{addresses[-1]}"}}')
        finally:
            assert service.stop() == 0, service.output()
        # Nothing more went out after the outcomes were recorded.
        assert sorted(platform.addresses()) == sorted(addresses)
    finally:
        platform.stop()


def test_500_and_hang_are_retried():
    platform = Platform()
    try:
        work = Workdir(platform, notify={"timeout": 1, "retry_initial": 1, "retry_max": 1})
        address = "flaky@example.org"
        platform.mode(mode="error", status=500)
        out = ingest(work, address)
        assert 'Response:  500 / {"error": "told to fail"}' in out, out
        assert f"notify: {address} (mydomain.de): attempt 1 failed" in out, out
        state, attempts, result = outbox(work, address)
        assert (state, attempts) == (PENDING, 1) and result.startswith("500 / "), (state, attempts, result)

        # Now the platform hangs: the daemon's attempt times out and is retried.
        platform.mode(mode="slow", delay=4)
        service = work.start("run")
        try:
            wait_until(lambda: (outbox(work, address)[2] or "").startswith("timeout"), 15, "a timed-out attempt")
            assert outbox(work, address)[0] == PENDING
            platform.mode(mode="ok")
            wait_until(lambda: outbox(work, address)[0] == DONE, 15, "the notification done")
            assert outbox(work, address)[1] >= 3
            assert address in platform.addresses()
        finally:
            assert service.stop() == 0, service.output()
        assert "timeout" in service.output(), service.output()
    finally:
        platform.stop()


def test_404_is_done_as_unknown():
    platform = Platform()
    try:
        work = Workdir(platform)
        platform.mode(mode="error", status=404)
        out = ingest(work, "gone@example.org")
        assert "Response:  404 / " in out, out
        assert outbox(work, "gone@example.org")[:2] == (DONE, 1)
        assert answer(work, "gone@example.org").startswith("unknown at platform: 404 / ")
    finally:
        platform.stop()


def test_400_given_up_then_outbox_retry_revives_it():
    platform = Platform()
    try:
        work = Workdir(platform)
        address = "rejected@example.org"
        platform.mode(mode="error", status=400)
        out = ingest(work, address)
        assert "Response:  400 / " in out, out
        assert f"notify: {address} (mydomain.de): given up after 1 attempt" in out, out
        assert outbox(work, address)[0] == GIVEN_UP
        assert answer(work, address).startswith("given up: 400 / ")

        listing = work.run("outbox")
        assert listing.returncode == 0, listing.stderr
        assert address in listing.stdout.decode(), listing.stdout

        platform.mode(mode="ok")
        revived = work.run("outbox", "retry")
        assert revived.returncode == 0, revived.stderr
        assert outbox(work, address)[0] == PENDING
        service = work.start("run")
        try:
            wait_until(lambda: outbox(work, address)[0] == DONE, 15, "the revived notification done")
        finally:
            assert service.stop() == 0, service.output()
        assert platform.addresses() == [address]
    finally:
        platform.stop()


def test_xikolo_resolver():
    platform = Platform()
    try:
        work = Workdir(platform, handler={"domains": {
            "openhpi.de": {"url_resolver": "xikolo", "base_url": platform.url + "/"}}})
        addresses = ["x1@example.org", "odd/slash%pct@example.org"]
        for address in addresses:
            out = ingest(work, address, noreply="no-reply@openhpi.de")
            assert f'Response:  200 / {json.dumps({"processd_email": address})}' in out, out
        assert platform.addresses() == addresses
        for r in platform.received():
            assert r["method"] == "POST" and r["path"].endswith("/suspend"), r

        # A platform that cannot answer the GET is a retryable failure.
        platform.mode(mode="error", status=503)
        out = ingest(work, "x3@example.org", noreply="no-reply@openhpi.de")
        state, attempts, result = outbox(work, "x3@example.org")
        assert (state, attempts) == (PENDING, 1) and result.startswith("resolve: 503 / "), (state, result)
    finally:
        platform.stop()


def test_json_payload_and_headers_sent_never_logged():
    platform = Platform()
    try:
        secret = "s3cret-token-value"
        work = Workdir(platform, handler={"domains": {"mydomain.de": {
            "payload": "json",
            "headers": {"Authorization": "Bearer ${NOTIFY_TEST_TOKEN}", "X-Platform-Key": "${NOTIFY_TEST_TOKEN}"},
        }}})
        address = "json+payload@example.org"
        proc = work.run("--debug", "stdin", input=bounce(address), env={"NOTIFY_TEST_TOKEN": secret})
        out = proc.stdout.decode() + proc.stderr.decode()
        assert proc.returncode == 0, out
        assert secret not in out, out
        received = platform.received()
        assert len(received) == 1, received
        headers = received[0]["headers"]
        assert headers["Authorization"] == f"Bearer {secret}", headers
        assert headers["X-Platform-Key"] == secret, headers
        assert headers["Content-Type"] == "application/json", headers
        body = json.loads(received[0]["body"])
        assert body["address"] == address, body
        assert body["status"] == "5.1.1", body
        assert body["reason"], body
        assert "User unknown" in body["diagnostic"], body
        assert len(body["time"]) == 20 and body["time"].endswith("Z"), body
    finally:
        platform.stop()


def test_empty_body_by_default():
    platform = Platform()
    try:
        work = Workdir(platform)
        ingest(work, "plain@example.org")
        (r,) = platform.received()
        assert r["body"] == "" and r["headers"].get("Content-Length") == "0", r
        assert "Content-Type" not in r["headers"], r
    finally:
        platform.stop()


def test_each_suspension_posted_once_under_concurrency():
    """Forty suspensions queued while the platform is down (four `stdin`
    runs at a time), then two daemons on the same store, each with
    notify.concurrency 8, drain the outbox at once: the platform holds
    their requests until it has sixteen, which only both daemons together
    can send, then answers. Every address reaches the platform exactly
    once, and every outbox item is done. One daemon listens for the
    hand-offs of `stdin` runs."""
    platform = Platform()
    platform.stop()
    try:
        # A timeout longer than the wait for the held requests, so that none
        # is sent twice because its first attempt timed out.
        work = Workdir(platform, notify={"concurrency": 8, "max_in_flight": 16, "timeout": 60})
        addresses = [f"once{i}@example.org" for i in range(40)]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda a: ingest(work, a), addresses))
        assert all(outbox(work, a)[0] == PENDING for a in addresses)
        platform.start()
        platform.mode(mode="hold")
        daemons = [work.start("run-smtpserver", "--host", "127.0.0.1", "--port", str(harness.free_port()))
                   for _ in range(2)]
        try:
            # More requests at once than one daemon's concurrency allows:
            # both daemons hold claims, and the claim must keep them apart.
            wait_until(lambda: platform.held() == 16, 30, "both daemons' requests at the platform")
            platform.mode(mode="ok")
            wait_until(lambda: all(outbox(work, a)[0] == DONE for a in addresses), 30, "every notification done")
        finally:
            platform.mode(mode="ok")
            for daemon in daemons:
                assert daemon.stop() == 0, daemon.output()
        received = platform.addresses()
        assert sorted(received) == sorted(addresses), [a for a in set(received) if received.count(a) > 1]
        # One of them takes the hand-offs of `stdin` runs; the other knows.
        outputs = [daemon.output() for daemon in daemons]
        assert sum("another daemon with this config takes the hand-offs" in out for out in outputs) == 1, outputs
    finally:
        platform.stop()

if __name__ == "__main__":
    harness.main(globals())
