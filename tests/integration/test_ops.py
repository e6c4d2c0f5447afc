#!/usr/bin/env python3
"""The operator's commands and what an operator of the original types:
`--no-debug` is accepted; `find-address --address PART` lists every address
that contains PART (as the original's did); configuration mistakes that
only the daemon used to notice (a bad amqp.url, store.url, platform URL or
SMTP host) stop every command at load with exit 78 and file:line: key; a
config file that cannot be found is named with every path tried; the
daemon stops at start-up when libcurl cannot be loaded.
"""
import hashlib
import json
import os
import smtplib
import sqlite3
import subprocess
import tempfile
import time

import harness
from harness import Workdir

EX_CONFIG = 78


def suppress(work, address, domain="mydomain.de"):
    proc = work.run("set-permanent-bounced-address", "--bounced_address", address, "--domain", domain)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_debug_is_accepted():
    work = Workdir()
    for args in (("--no-debug", "stats"), ("stats", "--no-debug"), ("--debug", "--no-debug", "stats")):
        proc = work.run(*args)
        assert proc.returncode == 0, (args, proc.stdout + proc.stderr)


def test_find_address_matches_a_part():
    work = Workdir()
    for a in ("anna.schmidt@example.org", "peter.schmidt@example.net", "carla@example.com"):
        suppress(work, a)
    proc = work.run("find-address", "--address", "SCHMIDT")
    out = proc.stdout.decode()
    assert proc.returncode == 0, out + proc.stderr.decode()
    assert "anna.schmidt@example.org\n" in out and "peter.schmidt@example.net\n" in out, out
    assert "carla" not in out, out
    assert out.count("suppressed:      yes") == 2, out
    # A whole address still finds itself, and only itself.
    proc = work.run("find-address", "--address", "carla@example.com")
    out = proc.stdout.decode()
    assert out.startswith("carla@example.com\n") and "schmidt" not in out, out
    proc = work.run("find-address", "--address", "nobody")
    assert proc.returncode == 0 and "nobody: nothing known" in proc.stdout.decode()


# Every command that reads the config, with the arguments it needs.
COMMANDS = [("stats",), ("find-address", "--address", "x"), ("reset-address", "--address", "a@b.c"),
            ("outbox",), ("replay", "--dry-run"), ("stdin", "--recipient", "no-reply@mydomain.de"),
            ("run",), ("run-smtpserver",),
            ("set-permanent-bounced-address", "--bounced_address", "a@b.c", "--domain", "mydomain.de"),
            ("history", "--address", "a@b.c"), ("purge", "--dry-run"), ("ingest", "--dry-run", "-"),
            ("import-original", "--db", "/nonexistent/original.db"),
            ("verp-address", "--address", "a@b.c", "--domain", "mydomain.de")]


def test_bad_values_stop_every_command_at_load():
    bad = {
        "amqp.url": ({"amqp": {"url": "amqp://bd:S3cret@broker.example.org:56x2/bouncedemails"}}, "port"),
        "store.url": ({"store": {"url": "mysql://bd:S3cret@db/bd"}}, "postgresql://"),
        "smtp.host": ({"smtp": {"host": "not a host"}}, "IP address or a host name"),
        "handler.domains.mydomain.de.base_url": (
            {"handler": {"domains": {"mydomain.de": {"base_url": "https://S3cret@:8443/{address}"}}}},
            "host name"),
    }
    for key, (section, why) in bad.items():
        work = Workdir(**section)
        with open(work.config) as f:
            lines = f.read().split("\n")
        leaf = key.split(".")[-1] + ":"
        line = next(i + 1 for i, text in enumerate(lines) if text.strip().startswith(leaf))
        for args in COMMANDS:
            proc = work.run(*args, input=b"", timeout=20)
            err = proc.stderr.decode()
            assert proc.returncode == EX_CONFIG, (key, args, proc.returncode, err, proc.stdout.decode())
            assert f"{work.config}:{line}: {key}: " in err and why in err, (key, args, err)
            assert "S3cret" not in err + proc.stdout.decode(), err


def test_config_not_found_names_every_path_tried():
    empty = tempfile.mkdtemp(prefix="bd-test-")
    harness._workdirs.append(empty)
    proc = subprocess.run([harness.BIN, "stats"], cwd=empty, capture_output=True, timeout=20)
    err = proc.stderr.decode()
    assert proc.returncode == EX_CONFIG, err
    if os.path.exists("/etc/bouncedemails/config.yml"):
        raise harness.Skip("this machine has /etc/bouncedemails/config.yml")
    assert "./config.yml" in err and "/etc/bouncedemails/config.yml" in err, err


def amqp_sample(template, n):
    with open(os.path.join(harness.DATA, "amqp", template), encoding="utf-8") as f:
        return f.read().replace("{n}", str(n))


def _with_backlog(platform):
    """A workdir whose outbox holds a notification due since long ago."""
    work = Workdir(platform)
    assert work.run("stats").returncode == 0   # creates the database
    con = sqlite3.connect(work.db)
    with con:
        con.execute("INSERT INTO outbox (address, domain, reason, status, diagnostic, created, next_attempt)"
                    " VALUES ('backlog@example.org', 'mydomain.de', 'userunknown', '5.1.1', '', 0, 0)")
    con.close()
    return work


def test_ingest_attempts_only_its_own_notifications():
    """Like `stdin`, `ingest` makes its prompt attempt at what it queued: a
    backlog in the outbox waits for the daemon (issue 13, point 11)."""
    platform = harness.Platform()
    try:
        work = _with_backlog(platform)
        mbox = os.path.join(work.dir, "own.mbox")
        with open(mbox, "w") as f:
            f.write("From MAILER-DAEMON  Thu Nov 26 10:00:01 2026\n" + amqp_sample("permanent.eml", "own") + "\n")
        proc = work.run("ingest", mbox)
        assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
        assert platform.addresses() == ["user-own@example.org"], platform.addresses()
        assert work.query("SELECT attempts, state FROM outbox WHERE address = 'backlog@example.org'") == [(0, 0)]
    finally:
        platform.stop()


def test_set_permanent_attempts_only_its_own_notification():
    """set-permanent-bounced-address tells the platform about its address at
    once, as the original did, and leaves the outbox's backlog to the daemon
    (it sent the whole backlog before, with claims whose leases could be
    over before a long pass ended)."""
    platform = harness.Platform()
    try:
        work = _with_backlog(platform)
        suppress(work, "admin@example.org")
        assert platform.addresses() == ["admin@example.org"], platform.addresses()
        assert work.query("SELECT attempts, state FROM outbox WHERE address = 'backlog@example.org'") == [(0, 0)]
        assert work.query("SELECT attempts, state FROM outbox WHERE address = 'admin@example.org'") == [(1, 1)]
    finally:
        platform.stop()


def test_ingest_backfills_through_the_policy_once():
    platform = harness.Platform()
    try:
        work = Workdir(platform)
        mbox = os.path.join(work.dir, "old.mbox")
        with open(mbox, "w") as f:
            for n in (1, 2):
                f.write(f"From MAILER-DAEMON  Thu Nov 26 10:00:0{n} 2026\n" + amqp_sample("permanent.eml", f"mb{n}") + "\n")
            f.write("From MAILER-DAEMON  Thu Nov 26 10:00:09 2026\n" + amqp_sample("soft-a.eml", "mb3") + "\n")
        maildir = os.path.join(work.dir, "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(maildir, sub))
        with open(os.path.join(maildir, "cur", "1.eml"), "w") as f:
            f.write(amqp_sample("permanent.eml", "md1"))
        with open(os.path.join(maildir, "tmp", "half.eml"), "w") as f:
            f.write(amqp_sample("permanent.eml", "half"))   # still being written: not read
        missing = os.path.join(work.dir, "missing.mbox")

        dry = work.run("--no-debug", "ingest", "--dry-run", mbox, maildir)
        out = dry.stdout.decode()
        assert dry.returncode == 0, out + dry.stderr.decode()
        assert "4 would be handled, 0 duplicate(s)" in out and "Permanent: user-mb1@example.org" in out, out
        assert work.query("SELECT count(*) FROM message_seen") == [(0,)], "the dry run wrote"
        assert work.query("SELECT count(*) FROM permanent_bounce") == [(0,)]

        proc = work.run("ingest", mbox, missing, maildir)
        out = proc.stdout.decode()
        assert proc.returncode == 66 and "missing.mbox" in proc.stderr.decode(), out + proc.stderr.decode()
        assert "ingest: 4 handled, 0 duplicate(s)" in out, out
        assert "Temporary: soft-a@example.org (mailboxfull, 1 of 3)" in out, out
        expected = {"user-mb1@example.org", "user-mb2@example.org", "user-md1@example.org"}
        harness.wait_until(lambda: expected <= set(platform.addresses()), 10, "the POSTs")
        assert work.query("SELECT count(*) FROM event WHERE ingress = 'ingest'") == [(4,)]
        assert os.path.exists(os.path.join(work.archive, "us", "user-mb1@example.org.gz"))

        again = work.run("ingest", mbox, maildir)
        assert again.returncode == 0 and "ingest: 0 handled, 4 duplicate(s)" in again.stdout.decode()
        assert work.query("SELECT count FROM soft_bounce") == [(1,)]
        assert sorted(platform.addresses()) == sorted(expected)
    finally:
        platform.stop()


def test_dry_run_counts_a_bounce_given_twice_as_the_real_run_does():
    """The same bounce twice in one mbox: the real run handles it once and
    counts the second as a duplicate, and so does the dry run before it,
    although the dry run writes no fingerprint."""
    work = Workdir()
    mbox = os.path.join(work.dir, "twice.mbox")
    with open(mbox, "w") as f:
        for n in (1, 2):
            f.write(f"From MAILER-DAEMON  Thu Nov 26 10:00:0{n} 2026\n" + amqp_sample("permanent.eml", "tw") + "\n")
    dry = work.run("--no-debug", "ingest", "--dry-run", mbox)
    assert dry.returncode == 0 and "1 would be handled, 1 duplicate(s)" in dry.stdout.decode(), dry.stdout.decode()
    assert work.query("SELECT count(*) FROM message_seen") == [(0,)], "the dry run wrote"
    real = work.run("--no-debug", "ingest", mbox)
    assert real.returncode == 0 and "ingest: 1 handled, 1 duplicate(s)" in real.stdout.decode(), real.stdout.decode()


DAY = 86400


def seed_old_and_new(work, now):
    """Two rows of each kind that retention prunes: one 500 days old, one new."""
    assert work.run("stats").returncode == 0   # creates the database
    con = sqlite3.connect(work.db)
    for age, tag in ((500 * DAY, "old"), (0, "new")):
        at = now - age
        con.execute("INSERT INTO message_seen VALUES (?, ?)", (f"fp-{tag}-{at}", at))
        con.execute("INSERT INTO event (message_id, address, domain, verdict, at) VALUES (?, ?, ?, ?, ?)",
                    (f"fp-{tag}", f"{tag}@example.org", "mydomain.de", "temporary", at))
        con.execute("INSERT INTO quarantine (raw, reason, ingress, at) VALUES (?, ?, ?, ?)",
                    (b"junk", "unreadable", "smtp", at))
    con.commit()
    con.close()


def counts(work):
    return [work.query(f"SELECT count(*) FROM {t}")[0][0] for t in ("message_seen", "event", "quarantine")]


def test_purge_by_hand():
    work = Workdir()
    seed_old_and_new(work, int(time.time()))
    archived = os.path.join(work.archive, "ol", "old@example.org.gz")
    os.makedirs(os.path.dirname(archived))
    open(archived, "wb").close()
    dry = work.run("purge", "--dry-run")
    out = dry.stdout.decode()
    assert dry.returncode == 0, out + dry.stderr.decode()
    assert "fingerprints older than 30 days: 1 would be removed" in out, out
    assert "events older than 400 days: 1 would be removed" in out, out
    assert "quarantined messages older than 90 days: 1 would be removed" in out, out
    assert counts(work) == [2, 2, 2]
    proc = work.run("purge")
    assert proc.returncode == 0 and "events older than 400 days: 1 removed" in proc.stdout.decode()
    assert counts(work) == [1, 1, 1]
    assert work.query("SELECT address FROM event") == [("new@example.org",)]
    assert os.path.exists(archived), "an archive file of a permanent bounce was removed"
    # retention 0 keeps for ever
    keep = Workdir(retention={"event_days": 0, "fingerprint_days": 0, "quarantine_days": 0})
    seed_old_and_new(keep, int(time.time()))
    proc = keep.run("purge")
    assert "events: kept for ever" in proc.stdout.decode() and counts(keep) == [2, 2, 2]


def test_daemon_prunes_in_batches():
    work = Workdir(smtp={"enabled": True, "port": harness.free_port()}, retention={"batch": 2, "interval": 1})
    now = int(time.time())
    seed_old_and_new(work, now)
    con = sqlite3.connect(work.db)
    con.executemany("INSERT INTO message_seen VALUES (?, ?)", [(f"bulk-{i}", now - 90 * DAY) for i in range(25)])
    con.commit()
    con.close()
    service = work.start("run")
    try:
        harness.wait_until(lambda: counts(work) == [1, 1, 1], 20, "old rows pruned")
        service.wait_output("retention: removed 26 fingerprint(s), 1 event(s), 1 quarantined message(s)")
        # Rows that grow old while it runs go at the next interval.
        con = sqlite3.connect(work.db)
        con.execute("INSERT INTO event (message_id, verdict, at) VALUES ('late', 'ignore', ?)", (now - 999 * DAY,))
        con.commit()
        con.close()
        harness.wait_until(lambda: counts(work)[1] == 1, 10, "the late row pruned")
    finally:
        service.stop()


def test_daemon_without_libcurl_stops_at_start():
    """The daemon loads libcurl at start-up, so that a missing one is an
    error there (exit 70), not a backlog of notifications found later."""
    work = Workdir(smtp={"enabled": True, "port": harness.free_port()})
    broken = harness.unloadable_library(work, "libcurl.so.4")
    proc = work.run("run", env={"LD_LIBRARY_PATH": broken}, timeout=30)
    out = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode == 70, (proc.returncode, out)
    assert "cannot load libcurl" in out and "cannot start the notifier" in out, out


def test_pruning_never_holds_up_smtp():
    """While another program holds the database's write lock, a pruning
    attempt waits for it (up to the store's busy timeout); the SMTP sessions
    must go on being answered meanwhile, so the waiting is not the event
    loop's."""
    port = harness.free_port()
    work = Workdir(smtp={"enabled": True, "port": port}, retention={"interval": 1})
    seed_old_and_new(work, int(time.time()))
    service = work.start("run")
    con = None
    try:
        harness.wait_for_port(port)
        harness.wait_until(lambda: counts(work) == [1, 1, 1], 20, "old rows pruned")
        con = sqlite3.connect(work.db, isolation_level=None, timeout=10)
        con.execute("BEGIN IMMEDIATE")
        # Three intervals with the lock held: a pruning attempt waits on it
        # from the first on. Every client meanwhile gets its banner and its
        # EHLO answered promptly.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            with smtplib.SMTP("127.0.0.1", port, timeout=2) as s:
                code, _ = s.ehlo("client.example.org")
                assert code == 250, code
    finally:
        if con:
            con.rollback()
            con.close()
        service.stop()


def test_history_outlives_reset():
    platform = harness.Platform()
    try:
        work = Workdir(platform)
        data = harness.sample("service", "postfix-userunknown.eml")
        proc = work.run("stdin", "--recipient", "no-reply@mydomain.de", input=data)
        assert proc.returncode == 0, proc.stdout.decode()
        address = "evil-address@some-provider.com"
        assert work.run("reset-address", "--address", address).returncode == 0
        proc = work.run("history", "--address", address.upper())
        out = proc.stdout.decode()
        assert proc.returncode == 0, out + proc.stderr.decode()
        # The bounce, then the reset; the bounce keeps its notification.
        assert f"{address.upper()}: 2 event(s)" in out, out
        assert "mydomain.de  via stdin  permanent  userunknown" in out, out
        assert "via admin  reset  manual" in out, out
        assert 'notification: done, 1 attempt(s), last answer 200 / {"processd_email"' in out, out
        archive = os.path.join(work.archive, "ev", address + ".gz")
        assert f"archive:      {archive}" in out, out
        proc = work.run("history", "--address", address, "--json")
        events = [json.loads(line) for line in proc.stdout.decode().splitlines()]
        assert len(events) == 2 and events[1]["verdict"] == "reset", events
        e = events[0]
        assert (e["verdict"], e["ingress"], e["reason"], e["domain"]) == ("permanent", "stdin", "userunknown",
                                                                          "mydomain.de"), e
        assert e["notification"]["state"] == "done" and e["notification"]["result"].startswith("200 / "), e
        assert e["archive"] == archive and e["diagnostic"], e
        assert work.run("history", "--address", address, "--domain", "other.org").stdout.decode() \
            .startswith(f"{address}: 0 event(s)")
    finally:
        platform.stop()


FORWARD_BOUNCE = """\
From: Mail Delivery System <MAILER-DAEMON@mx.school.example>
To: no-reply@mydomain.de
Subject: Undelivered Mail Returned to Sender
Message-ID: <1.forward@mx.school.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="FW"

--FW
Content-Type: text/plain

Your message could not be delivered to one or more recipients.

--FW
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.school.example

Final-Recipient: rfc822; a.b@gmail.com
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.

--FW
Content-Type: text/rfc822-headers

Return-Path: <no-reply@mydomain.de>
From: Platform <no-reply@mydomain.de>
To: a@school.example
Subject: News from your course

--FW--
""".replace("\n", "\r\n").encode()


def test_history_names_the_forward_target():
    platform = harness.Platform()
    try:
        work = Workdir(platform)
        proc = work.run("stdin", "--recipient", "no-reply@mydomain.de", input=FORWARD_BOUNCE)
        assert proc.returncode == 0, proc.stdout.decode()
        proc = work.run("history", "--address", "a@school.example")
        out = proc.stdout.decode()
        assert proc.returncode == 0, out + proc.stderr.decode()
        assert "via stdin  permanent  userunknown" in out, out
        assert "    forwarded to: a.b@gmail.com\n" in out, out
        proc = work.run("history", "--address", "a@school.example", "--json")
        (e,) = [json.loads(line) for line in proc.stdout.decode().splitlines()]
        assert e["address"] == "a@school.example" and e["final"] == "a.b@gmail.com", e
    finally:
        platform.stop()


def junk(size, tag):
    """A message for no configured platform, padded to about size bytes."""
    head = harness.sample("service", "unknown-domain.eml").replace(b"Subject: ", f"X-Tag: {tag}\nSubject: ".encode(), 1)
    line = (b"x" * 76) + b"\n"
    return head + line * max(0, (size - len(head)) // len(line))


def test_quarantine_cap_keeps_header_and_hash():
    work = Workdir(retention={"quarantine_max_bytes": "64KiB"})
    big = junk(300 * 1024, "big")
    proc = work.run("stdin", input=big)
    out = proc.stdout.decode()
    assert proc.returncode == 0, out
    digest = hashlib.sha256(big).hexdigest()
    assert f"only its header" in out and digest in out and "retention.quarantine_max_bytes" in out, out
    (raw,), = work.query("SELECT raw FROM quarantine")
    assert len(raw) < 4096, len(raw)
    assert raw.startswith(b"X-Bouncedemails-Quarantine: truncated; %d bytes, sha256=%s" % (len(big), digest.encode()))
    assert b"X-Tag: big" in raw and b"xxxx" not in raw
    small = junk(10 * 1024, "small")
    assert work.run("stdin", input=small).returncode == 0
    assert work.query("SELECT length(raw) FROM quarantine ORDER BY id")[1] == (len(small),)


def peak_rss_kib(work, *args):
    proc = subprocess.Popen(work.args(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=harness.environment(None))
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, args
    return usage.ru_maxrss


def test_replay_holds_one_message_at_a_time():
    size = 4 * 1024 * 1024
    work = Workdir(retention={"quarantine_max_bytes": "8MiB"})
    assert work.run("stdin", input=junk(size, "first")).returncode == 0
    (first,), = work.query("SELECT id FROM quarantine")
    alone = peak_rss_kib(work, "replay", "--id", str(first), "--dry-run")
    for i in range(8):
        assert work.run("stdin", input=junk(size, f"more-{i}")).returncode == 0
    assert work.query("SELECT count(*) FROM quarantine") == [(9,)]
    among_many = peak_rss_kib(work, "replay", "--id", str(first), "--dry-run")
    # Loading all nine would add 32 MiB; one at a time adds nothing.
    assert among_many < alone + 8 * 1024, (alone, among_many)
    proc = work.run("replay")
    assert proc.returncode == 0 and "0 handled, 9 kept in the quarantine" in proc.stdout.decode()


if __name__ == "__main__":
    harness.main(globals())
