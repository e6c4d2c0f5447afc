#!/usr/bin/env python3
"""The metrics endpoint against a real Prometheus (scripts/test-server
prometheus start) and a real broker: exact counts through PromQL after a
known set of bounces, promtool's checks of the exposition and the alerting
rules, readiness that follows the broker, and every metric that the Grafana
dashboard and the alerts use present in /metrics."""
import json
import os
import re
import smtplib
import socket
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request

import harness

AMQP_DATA = os.path.join(harness.DATA, "amqp")
TEST_SERVER = os.path.join(harness.SRC, "scripts", "test-server")
DASHBOARD = os.path.join(harness.SRC, "resources", "grafana-dashboard.json")
ALERTS = os.path.join(harness.SRC, "resources", "alerts.yml")


def template(name, n):
    with open(os.path.join(AMQP_DATA, name), encoding="utf-8") as f:
        return f.read().replace("{n}", str(n))


def blocked_bounce(n):
    """A Postfix DSN for a refusal of our own server: the address is fine."""
    text = template("permanent.eml", n).replace("Status: 5.1.1", "Status: 5.7.1")
    return re.sub(r"550 5\.1\.1 <user-\d+@example.org>: Recipient address rejected: User unknown in virtual "
                  r"mailbox table", "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
                  "zen.spamhaus.org", text)


def get(url, timeout=5):
    """(status, body) of a GET, also for 4xx and 5xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def promql(base, query):
    """The value of a PromQL query's single sample, or None when it has none."""
    status, body = get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query}))
    assert status == 200, body
    result = json.loads(body)["data"]["result"]
    assert len(result) <= 1, (query, result)
    return float(result[0]["value"][1]) if result else None


def metric_names(text):
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


def prometheus():
    url, target = os.environ.get("PROMETHEUS_URL"), os.environ.get("PROMETHEUS_TARGET")
    if not url or not target:
        raise harness.Skip("no Prometheus (PROMETHEUS_URL unset: scripts/test-server prometheus start)")
    return url, target


def send(port, messages, rcpt="no-reply@mydomain.de"):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        for text in messages:
            # In CRLF lines, as an MTA sends them (a bare LF is refused).
            s.sendmail("", [rcpt], re.sub(r"\r?\n", "\r\n", text).encode())


def test_prometheus_counts_a_known_set_of_bounces():
    prom, target = prometheus()
    platform = harness.Platform()
    port = harness.free_port()
    work = harness.Workdir(platform, smtp={"enabled": True, "port": port}, metrics={"listen": target})
    service = work.start("run")
    try:
        harness.wait_for_port(port)
        garbage = "From: someone@example.org\r\nTo: no-reply@mydomain.de\r\nSubject: hello\r\n\r\nnot a bounce\r\n"
        send(port, [template("permanent.eml", 0), template("permanent.eml", 1)])       # 2 permanent
        send(port, [template("soft-a.eml", n) for n in range(4)])                       # 3 soft, 1 escalation
        send(port, [harness.sample("service", "autoreply.eml").decode(), blocked_bounce(7), garbage])
        # Addressed to the listener's own name: its headers name no platform.
        send(port, [harness.sample("service", "unknown-domain.eml").decode()], "bouncedemails@bd.example.org")
        send(port, [template("permanent.eml", 0)])                                      # a duplicate
        harness.wait_until(lambda: len(platform.addresses()) == 3, 30, "three notifications")
        expected = {
            'sum(bouncedemails_messages_total{ingress="smtp",outcome="handled"})': 8,
            'sum(bouncedemails_messages_total{ingress="smtp",outcome="quarantined"})': 1,
            'sum(bouncedemails_messages_total{ingress="smtp",outcome="notbounce"})': 1,
            'sum(bouncedemails_messages_total{ingress="smtp",outcome="duplicate"})': 1,
            'sum(bouncedemails_messages_total{ingress="smtp",outcome="failed"})': 0,
            'sum(bouncedemails_recipients_total{domain="mydomain.de",verdict="permanent",reason="userunknown"})': 2,
            'sum(bouncedemails_recipients_total{domain="mydomain.de",verdict="temporary",reason="mailboxfull"})': 3,
            'sum(bouncedemails_recipients_total{domain="mydomain.de",verdict="escalated",reason="mailboxfull"})': 1,
            'sum(bouncedemails_recipients_total{verdict="ignore",reason="vacation"})': 1,
            'sum(bouncedemails_recipients_total{verdict="ignore",reason="blocked"})': 1,
            'sum(bouncedemails_recipients_total)': 8,
            'bouncedemails_escalations_total{domain="mydomain.de"}': 1,
            'bouncedemails_notifications_total{domain="mydomain.de",result="delivered"}': 3,
            'sum(bouncedemails_notifications_total{result!="delivered"})': 0,
            'bouncedemails_outbox_pending{domain="mydomain.de"}': 0,
            'bouncedemails_outbox_given_up{domain="mydomain.de"}': 0,
            'bouncedemails_quarantine_messages': 1,
            'bouncedemails_message_handling_seconds_count{ingress="smtp"}': 11,
            'bouncedemails_platform_answer_seconds_count{domain="mydomain.de"}': 3,
            # Five sessions that sent, and wait_for_port's probe.
            'bouncedemails_smtp_sessions_total{result="accepted"}': 6,
            'bouncedemails_ready': 1,
            'count(bouncedemails_build_info)': 1,
        }

        def agree():
            got = {q: promql(prom, q) for q in expected}
            agree.last = got
            return got == expected
        agree.last = None
        try:
            harness.wait_until(agree, 40, "Prometheus to scrape the expected counts", interval=0.5)
        except AssertionError:
            wrong = {q: (v, expected[q]) for q, v in agree.last.items() if v != expected[q]}
            raise AssertionError(f"PromQL answers differ (got, expected): {wrong}")

        status, text = get(f"http://{target}/metrics")
        assert status == 200
        check = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True)
        assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    finally:
        service.stop()
        platform.stop()


def test_promtool_accepts_the_alerting_rules():
    check = subprocess.run(["promtool", "check", "rules", ALERTS], capture_output=True)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    assert b"SUCCESS" in check.stdout


def _expression_names(expr, known):
    """Metric names in a PromQL expression: the words that name a known metric
    family or one of its series (_bucket, _sum, _count)."""
    names = set()
    for word in re.findall(r"\b(bouncedemails_[a-z_]+)", expr):
        base = re.sub(r"_(bucket|sum|count)$", "", word)
        names.add(word if word in known else base)
    return names


def test_dashboard_and_alerts_use_only_exported_metrics():
    port = harness.free_port()
    work = harness.Workdir(None, smtp={"enabled": True, "port": harness.free_port()},
                           metrics={"listen": f"127.0.0.1:{port}"})
    service = work.start("run")
    try:
        harness.wait_for_port(port)
        status, text = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
    finally:
        service.stop()
    known = metric_names(text)
    with open(DASHBOARD, encoding="utf-8") as f:
        dashboard = json.load(f)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    with open(ALERTS, encoding="utf-8") as f:
        exprs += re.findall(r"^\s*expr:\s*(.+)$", f.read(), re.M)
    assert len(exprs) >= 10, exprs
    used = set()
    for expr in exprs:
        used |= _expression_names(expr, known)
    missing = used - known
    assert not missing, f"used by the dashboard or the alerts, absent from /metrics: {sorted(missing)}"
    for name in ("bouncedemails_outbox_given_up", "bouncedemails_quarantine_messages", "bouncedemails_ready"):
        assert name in used, f"{name} is watched by neither the dashboard nor the alerts"


def test_stats_json():
    """`stats --json` gives the table's numbers and the quarantine's bytes to scripts."""
    work = harness.Workdir(None)  # the platform refuses: the notification stays pending
    unrouted = harness.sample("service", "unknown-domain.eml")
    for text, rcpt in ((template("permanent.eml", 3).encode(), "no-reply@mydomain.de"),
                       (unrouted, "no-reply@unknown-platform.example")):
        done = work.run("stdin", "--recipient", rcpt, input=text)
        assert done.returncode == 0, done.stderr
    done = work.run("stats", "--json")
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert stats["quarantined"] == 1 and stats["quarantine_bytes"] == len(unrouted), stats
    assert stats["soft_window_days"] == 30
    assert 0 <= stats["outbox_oldest_pending_age_seconds"] < 60, stats
    [domain] = stats["domains"]
    assert domain["domain"] == "mydomain.de" and domain["permanent"] == 1 and domain["events"] == 1, domain
    assert domain["outbox_pending"] == 1 and domain["outbox_given_up"] == 0, domain


def test_readiness_follows_the_store():
    """The store stops answering (its quarantine table taken away): /readyz
    and bouncedemails_ready say so within a reading or two, /healthz does not;
    both recover when it is back."""
    port = harness.free_port()
    work = harness.Workdir(None, metrics={"listen": f"127.0.0.1:{port}"})
    service = work.start("run")
    base = f"http://127.0.0.1:{port}"
    try:
        harness.wait_for_port(port)
        harness.wait_until(lambda: get(f"{base}/readyz")[0] == 200, 15, "ready")
        work.query("ALTER TABLE quarantine RENAME TO quarantine_away")
        harness.wait_until(lambda: get(f"{base}/readyz")[0] == 503, 20, "/readyz to answer 503", interval=0.2)
        status, body = get(f"{base}/readyz")
        assert body.startswith("store: ") and "quarantine" in body, body
        assert get(f"{base}/healthz")[0] == 200
        assert re.search(r"^bouncedemails_ready 0$", get(f"{base}/metrics")[1], re.M)
        work.query("ALTER TABLE quarantine_away RENAME TO quarantine")
        harness.wait_until(lambda: get(f"{base}/readyz")[0] == 200, 20, "/readyz back to 200", interval=0.2)
        assert re.search(r"^bouncedemails_ready 1$", get(f"{base}/metrics")[1], re.M)
    finally:
        service.stop()


def test_a_head_request_gets_no_body():
    """A health checker's HEAD on a kept-alive connection: the answer has
    headers only (RFC 9110 9.3.2), with GET's length, so the next answer on
    the connection starts where the client expects it."""
    port = harness.free_port()
    work = harness.Workdir(None, metrics={"listen": f"127.0.0.1:{port}"})
    service = work.start("run")
    try:
        harness.wait_for_port(port)
        harness.wait_until(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 200, 15, "healthy")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        head, rest = answer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200 "), answer
        assert rest.startswith(b"HTTP/1.1 200 "), answer
        assert re.search(rb"^Content-Length: 3\r?$", head, re.M | re.I), answer
        assert rest.endswith(b"\r\n\r\nok\n"), answer
    finally:
        service.stop()


def test_a_taken_metrics_port_does_not_stop_the_daemon():
    """Two daemons with one config (the original's `run` and `run-smtpserver`
    units): the second cannot listen for metrics, says so, and still takes
    bounces."""
    port, smtp_port = harness.free_port(), harness.free_port()
    work = harness.Workdir(None, metrics={"listen": f"127.0.0.1:{port}"})
    first = work.start("run")
    second = None
    try:
        harness.wait_for_port(port)
        second = work.start("run-smtpserver", "--port", str(smtp_port))
        second.wait_output("running without /metrics")
        assert f"cannot listen on 127.0.0.1:{port}" in second.output()
        harness.wait_for_port(smtp_port)
        send(smtp_port, [template("permanent.eml", 5)])
        harness.wait_until(lambda: work.query("SELECT count(*) FROM message_seen")[0][0] == 1, 15, "the bounce")
        assert second.proc.poll() is None
    finally:
        if second:
            second.stop()
        first.stop()


def _amqp_url():
    url = os.environ.get("AMQP_URL")
    if not url or not os.environ.get("AMQP_RESTARTABLE"):
        raise harness.Skip("no broker started by scripts/test-server (AMQP_URL, AMQP_RESTARTABLE)")
    return url


def test_readiness_follows_the_broker():
    url = _amqp_url()
    port = harness.free_port()
    work = harness.Workdir(None, amqp={"url": url, "queue": f"bd-ready-{os.getpid()}"},
                           metrics={"listen": f"127.0.0.1:{port}"})
    service = work.start("run")
    base = f"http://127.0.0.1:{port}"
    try:
        service.wait_output("AMQP consuming queue")
        harness.wait_until(lambda: get(f"{base}/readyz")[0] == 200, 15, "ready while consuming")
        restart = threading.Thread(target=subprocess.run, args=([TEST_SERVER, "rabbitmq", "restart"],),
                                   kwargs={"check": True, "timeout": 180})
        restart.start()
        seen = {}

        def not_ready():
            status, body = get(f"{base}/readyz")
            seen["health"] = seen.get("health", set()) | {get(f"{base}/healthz")[0]}
            seen["body"] = body
            return status == 503
        harness.wait_until(not_ready, 120, "/readyz to answer 503 while the broker is down", interval=0.05)
        assert seen["body"].startswith("amqp: "), seen["body"]
        assert "\n" not in seen["body"].rstrip("\n"), "the reason is one line"
        restart.join()
        harness.wait_until(lambda: get(f"{base}/readyz")[0] == 200, 60, "/readyz back to 200 after the broker")
        assert seen["health"] == {200}, seen["health"]
        status, text = get(f"{base}/metrics")
        assert re.search(r"^bouncedemails_amqp_reconnects_total [1-9]", text, re.M), text
        assert re.search(r"^bouncedemails_amqp_connected 1$", text, re.M)
    finally:
        service.stop()


if __name__ == "__main__":
    harness.main(globals())
