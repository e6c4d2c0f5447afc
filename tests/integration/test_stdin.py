#!/usr/bin/env python3
"""`bouncedemails stdin` and `bouncedemails replay` against the stand-in
platform: a permanent bounce reaches the platform; odd and broken messages
end logged and kept (event log or quarantine) with exit 0; the same message
twice counts once; the envelope recipient comes from --recipient or Postfix's
environment; an unknown domain is quarantined, then replayed once the config
knows it; a person's reply is kept apart (kind notbounce), never quarantined;
the store unavailable gives 75 and a bad config 78; libcurl is loaded only
by a run that notifies, and a run that cannot load it leaves the
notification in the outbox, and binds nothing to the program's own
OpenSSL; an https platform must show a certificate that a trusted authority
signed, or the one notify.tls_ca_file names.
"""
import concurrent.futures
import glob
import os
import random
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import threading
import time

import harness
from harness import Platform, Workdir, sample, wait_until

EX_TEMPFAIL = 75
EX_CONFIG = 78


def stdin(work, data, *args, env=None):
    """Runs `stdin` on data; checks that its output is valid UTF-8 and returns
    (exit status, output)."""
    proc = work.run("stdin", *args, input=data, env=env)
    out = proc.stdout.decode("utf-8")  # strict: the log must be valid UTF-8
    assert "INCOMING MESSAGE" in out, out + proc.stderr.decode("utf-8", "replace")
    return proc.returncode, out


def kept(work):
    """Rows that leave a trace: the event log and the quarantine."""
    if not os.path.exists(work.db):
        return 0
    return work.query("SELECT (SELECT count(*) FROM event) + (SELECT count(*) FROM quarantine)")[0][0]


def test_permanent_bounce_reaches_platform():
    platform = Platform()
    try:
        work = Workdir(platform)
        status, out = stdin(work, sample("service", "postfix-nosuchuser.eml"))
        assert status == 0, out
        assert "bouncedemails - Domain:    mydomain.de" in out, out
        assert "bouncedemails - Permanent: nosuchuser@example.org" in out, out
        # The prompt attempt: the platform's answer is in the same output.
        assert 'Response:  200 / {"processd_email": "nosuchuser@example.org"}' in out, out
        wait_until(lambda: "nosuchuser@example.org" in platform.addresses(), 10, "the suspension")
        assert platform.addresses().count("nosuchuser@example.org") == 1
        assert work.query("SELECT count(*) FROM permanent_bounce WHERE address = ?",
                          ("nosuchuser@example.org",))[0][0] == 1
        archived = os.path.join(work.archive, "no", "nosuchuser@example.org.gz")
        assert os.path.isfile(archived), archived
    finally:
        platform.stop()


def test_platform_down_keeps_notification_in_outbox():
    platform = Platform()
    platform.stop()
    work = Workdir(platform)
    status, out = stdin(work, sample("service", "postfix-userunknown.eml"))
    assert status == 0, out
    rows = work.query("SELECT address, state FROM outbox")
    assert rows == [("evil-address@some-provider.com", 0)], rows


def test_same_message_twice_counts_once():
    work = Workdir()
    data = sample("service", "postfix-mailboxfull.eml")
    for _ in range(2):
        status, out = stdin(work, data)
        assert status == 0, out
    assert "Duplicate:" in out, out
    assert work.query("SELECT count FROM soft_bounce WHERE address = 'full@example.net'") == [(1,)]


def test_mbox_from_line_is_not_part_of_the_message():
    """Postfix's local(8) prefixes a From_ line whose date changes on every
    retry; the retry is still the same message."""
    work = Workdir()
    data = sample("service", "postfix-mailboxfull.eml")
    for date in ("Thu Nov 26 10:02:12 2026", "Thu Nov 26 10:07:12 2026"):
        status, out = stdin(work, b"From MAILER-DAEMON  " + date.encode() + b"\n" + data)
        assert status == 0, out
    assert "Duplicate:" in out, out
    assert work.query("SELECT count FROM soft_bounce") == [(1,)]


def test_odd_messages_end_logged_and_kept():
    rnd = random.Random(42)
    cases = {
        "no To: header": sample("service", "no-to-header.eml"),
        "8-bit subject": sample("service", "8bit-subject.eml"),
        "auto-reply": sample("service", "autoreply.eml"),
        "random bytes": bytes(rnd.randrange(256) for _ in range(8192)),
        "empty message": b"",
    }
    work = Workdir()
    for name, data in cases.items():
        before = kept(work)
        status, out = stdin(work, data)
        assert status == 0, f"{name}: exit {status}\n{out}"
        assert kept(work) > before, f"{name}: neither in the event log nor in the quarantine\n{out}"
    reasons = [r for (r,) in work.query("SELECT reason FROM quarantine ORDER BY id")]
    assert "empty message" in reasons, reasons
    assert work.query("SELECT count(*) FROM event WHERE reason = 'vacation'")[0][0] == 1


def test_envelope_recipient_from_option_or_environment():
    # A bounce that names no address of ours anywhere: only the envelope can route it.
    data = (b"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
            b"Subject: Undelivered Mail Returned to Sender\n"
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
            b"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
            b"Final-Recipient: rfc822; %s\nAction: failed\nStatus: 5.1.1\n"
            b"Diagnostic-Code: smtp; 550 5.1.1 User unknown\n\n--B--\n")
    work = Workdir()
    status, out = stdin(work, data % b"envless@example.org")
    assert status == 0 and "no platform address" in out, out
    status, out = stdin(work, data % b"byoption@example.org", "--recipient", "no-reply@mydomain.de")
    assert status == 0 and "Permanent: byoption@example.org" in out, out
    status, out = stdin(work, data % b"byenv@example.org", env={"ORIGINAL_RECIPIENT": "no-reply@mydomain.de"})
    assert status == 0 and "Permanent: byenv@example.org" in out, out
    status, out = stdin(work, data % b"verp@example.org",
                        env={"RECIPIENT": "no-reply+verp-user=example.com@mydomain.de"})
    assert status == 0 and "Permanent: verp-user@example.com" in out, out


def test_unknown_domain_quarantined_then_replayed():
    platform = Platform()
    try:
        work = Workdir(platform)
        status, out = stdin(work, sample("service", "unknown-domain.eml"))
        assert status == 0, out
        assert "unknown domain: no-reply@unknown-platform.example" in out, out
        assert work.query("SELECT count(*) FROM quarantine")[0][0] == 1

        # Replay with the same config: it stays.
        proc = work.run("replay")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert work.query("SELECT count(*) FROM quarantine")[0][0] == 1

        # The config learns the domain; a dry run changes nothing, a replay handles it.
        fixed = Workdir(platform, handler={
            "dbfile": work.db, "permanent_bounced_emails_path": work.archive,
            "domains": {"unknown-platform.example": {"base_url": platform.url + "/emails/{address}/suspend"}}})
        proc = fixed.run("replay", "--dry-run")
        assert proc.returncode == 0 and b"would be handled" in proc.stdout, proc.stdout + proc.stderr
        assert work.query("SELECT count(*) FROM quarantine")[0][0] == 1
        proc = fixed.run("replay")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert b"Permanent: stranded@example.org" in proc.stdout, proc.stdout
        assert work.query("SELECT count(*) FROM quarantine")[0][0] == 0
        wait_until(lambda: "stranded@example.org" in platform.addresses(), 10, "the replayed suspension")
        proc = fixed.run("replay", "--id", "999")
        assert proc.returncode != 0, proc.stdout
    finally:
        platform.stop()


def wal_size(work):
    wal = work.db + "-wal"
    return os.path.getsize(wal) if os.path.exists(wal) else 0


def test_wal_stays_bounded_over_many_runs():
    """Each `stdin` is a new process, which rebuilds its index of the WAL
    when no other process has the database open: the WAL must not grow with
    the number of past runs (it would, to 16 MiB, without the checkpoint on
    close), and read-only commands (`stats`) must not grow it at all."""
    platform = Platform()
    try:
        work = Workdir(platform)
        body = sample("service", "postfix-nosuchuser.eml")
        sizes = []
        for i in range(RUNS_FOR_WAL):
            copy = body.replace(b"nosuchuser@example.org", f"nosuchuser{i}@example.org".encode())
            status, out = stdin(work, f"X-Run: {i}\n".encode() + copy)
            assert status == 0, out
            sizes.append(wal_size(work))
        assert max(sizes) <= WAL_BOUND, f"WAL grew to {max(sizes)} bytes: {sizes}"
        # Enough runs that, kept whole, the WAL would have passed the bound.
        assert work.query("SELECT count(*) FROM outbox")[0][0] == RUNS_FOR_WAL
        before = wal_size(work)
        for _ in range(5):
            assert work.run("stats").returncode == 0
        assert wal_size(work) == before, (before, wal_size(work))
    finally:
        platform.stop()


RUNS_FOR_WAL = 150
WAL_BOUND = 3 << 19   # 1.5 MiB: the checkpoint at 1 MiB plus one run's pages


def test_human_reply_is_kept_apart_not_quarantined():
    work = Workdir()
    with open(os.path.join(harness.SRC, "tests", "data", "classify", "verdict-human-reply.eml"), "rb") as f:
        data = f.read().replace(b"no-reply@platform.example", b"no-reply@mydomain.de")
    status, out = stdin(work, data)
    assert status == 0, out
    assert "Ignored:" in out and "not a bounce" in out, out
    assert work.query("SELECT kind, count(*) FROM quarantine GROUP BY kind") == [("notbounce", 1)]
    assert work.query("SELECT count(*) FROM event")[0][0] == 0
    # Nothing for the quarantine's commands to see or replay.
    proc = work.run("replay")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert work.query("SELECT kind, count(*) FROM quarantine GROUP BY kind") == [("notbounce", 1)]
    assert "Quarantine" not in proc.stdout.decode("utf-8"), proc.stdout


def test_store_unavailable_gives_tempfail():
    work = Workdir()
    # The database's folder cannot exist: its parent is a regular file.
    broken = Workdir(handler={"dbfile": os.path.join(work.config, "db", "bouncedemails.db")})
    proc = broken.run("stdin", input=sample("service", "postfix-nosuchuser.eml"))
    assert proc.returncode == EX_TEMPFAIL, (proc.returncode, proc.stdout, proc.stderr)


def _from_line(attempt):
    """The mbox From line Postfix's local(8) puts before a piped message: its
    date is the delivery attempt's."""
    return f"From MAILER-DAEMON  Sat Dec  5 10:00:{attempt:02d} 2026\n".encode()


def _die_handling(work, data, attempts):
    """Runs `stdin` on data, as local(8) pipes it at delivery attempt
    attempts, while the test holds the store's write lock, so that the run
    waits with the message in hand, and kills it (SIGKILL) once its crash
    guard's mark counts attempts: a run that died handling it."""
    data = _from_line(attempts) + data
    held = sqlite3.connect(work.db, isolation_level=None, timeout=10)
    held.execute("BEGIN IMMEDIATE")
    proc = subprocess.Popen(work.args("stdin"), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=harness.environment(None))
    try:
        proc.stdin.write(data)
        proc.stdin.close()
        wait_until(lambda: list(work.crash_marks().values()) == [str(attempts)], 10,
                   f"the run's mark counting attempt {attempts}")
        assert proc.poll() is None, "the run ended with the store locked"
    finally:
        proc.kill()
        proc.wait()
        held.rollback()
        held.close()


def test_a_run_after_one_that_died_handles_the_message():
    """Postfix retries a run that died (local(8)'s From line dated anew);
    the next run warns and handles the message as usual, and leaves no
    mark."""
    platform = Platform()
    try:
        work = Workdir(platform)
        assert work.run("stats").returncode == 0  # creates the store
        data = sample("service", "postfix-nosuchuser.eml")
        _die_handling(work, data, 1)
        status, out = stdin(work, _from_line(2) + data)
        assert status == 0, out
        assert "a run stopped while handling this message" in out, out
        assert "bouncedemails - Permanent: nosuchuser@example.org" in out, out
        assert work.query("SELECT count(*) FROM quarantine")[0][0] == 0
        assert work.crash_marks() == {}, work.crash_marks()
    finally:
        platform.stop()


def test_a_message_that_killed_two_runs_is_quarantined_unread():
    """A message that kills every run that reads it would stay in Postfix's
    queue, retried until Postfix gives up: the run after two that died on the
    same delivery sets it aside unread for replay and exits 0; the same bytes
    for another recipient are a delivery of their own."""
    platform = Platform()
    try:
        work = Workdir(platform)
        assert work.run("stats").returncode == 0
        data = sample("service", "postfix-nosuchuser.eml")
        _die_handling(work, data, 1)
        _die_handling(work, data, 2)
        status, out = stdin(work, data, "--recipient", "no-reply+other@mydomain.de")
        assert status == 0 and "a run stopped" not in out, out
        assert "bouncedemails - Permanent: nosuchuser@example.org" in out, out
        status, out = stdin(work, _from_line(3) + data)
        assert status == 0, out
        assert "2 runs stopped while handling this message" in out, out
        assert "Permanent:" not in out, out
        assert work.query("SELECT reason FROM quarantine") == [
            ("the process stopped while handling it (a crash?): kept unread",)]
        assert work.query("SELECT count(*) FROM event")[0][0] == 1  # the other recipient's
        assert work.crash_marks() == {}, work.crash_marks()
    finally:
        platform.stop()


def test_a_starting_daemon_sweeps_week_old_crash_marks():
    """A mark whose message never came back (deleted from Postfix's queue)
    goes when a daemon starts, whichever ingresses it runs, once a week old;
    a recent one stays."""
    work = Workdir()
    folder = os.path.join(work.archive, ".in-hand")
    os.makedirs(folder)
    for name, age_days in (("old", 8), ("recent", 1)):
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write("1\n")
        then = time.time() - age_days * 86400
        os.utime(path, (then, then))
    daemon = work.start("run")  # neither queue nor listener: the notifier only
    try:
        daemon.wait_output(" started (env ")
        assert sorted(work.crash_marks()) == ["recent"], work.crash_marks()
    finally:
        daemon.stop()


def _loaded_libraries(proc):
    """The shared objects the dynamic loader opened, from LD_DEBUG=files."""
    return [line for line in proc.stderr.decode("utf-8", "replace").splitlines() if "file=" in line]


def test_libcurl_is_loaded_only_to_notify():
    """A run that notifies nobody (a soft bounce) never loads libcurl and its
    libraries, nor libsystemd, nor the daemon module and what it brings
    (libevent, rabbitmq-c, OpenSSL's libraries); a run with a permanent
    failure loads libcurl and notifies."""
    platform = Platform()
    try:
        work = Workdir(platform)
        soft = work.run("stdin", input=sample("service", "postfix-mailboxfull.eml"), env={"LD_DEBUG": "files"})
        assert soft.returncode == 0, soft.stderr
        loaded = _loaded_libraries(soft)
        assert any("libgmime" in line for line in loaded), "LD_DEBUG said nothing: " + "\n".join(loaded[:5])
        daemons = ("libcurl", "libsystemd", "libevent", "librabbitmq", "libssl", "libcrypto", "bouncedemails-daemon")
        unwanted = [line for line in loaded if any(name in line for name in daemons)]
        assert not unwanted, "\n".join(unwanted)
        hard = work.run("stdin", input=sample("service", "postfix-nosuchuser.eml"), env={"LD_DEBUG": "files"})
        assert hard.returncode == 0, hard.stderr
        assert any("libcurl.so.4" in line for line in _loaded_libraries(hard))
        wait_until(lambda: "nosuchuser@example.org" in platform.addresses(), 10, "the suspension")
    finally:
        platform.stop()


def _handoff_sockets(work):
    return glob.glob(os.path.join(work.archive, ".notifier-*.sock"))


def _notifying_daemon(work):
    """A daemon on work's store (its notifier, and an SMTP listener on a
    free port), once it has started, and the hand-off socket it listens on."""
    daemon = work.start("run-smtpserver", "--host", "127.0.0.1", "--port", str(harness.free_port()))
    daemon.wait_output(" started (env ")
    sockets = _handoff_sockets(work)
    assert len(sockets) == 1, (sockets, daemon.output())
    return daemon, sockets[0]


def _with_address(address):
    return sample("service", "postfix-nosuchuser.eml").replace(b"nosuchuser@example.org", address.encode())


def _config_variant(work, name, old, new):
    """work's config with old replaced by new, written beside it."""
    with open(work.config) as f:
        text = f.read()
    assert old in text
    path = os.path.join(work.dir, name)
    with open(path, "w") as f:
        f.write(text.replace(old, new))
    return path


def _stdin_with(work, config, data):
    proc = subprocess.run([harness.BIN, "--config", config, "--env", work.env, "stdin"], input=data,
                          capture_output=True, env=harness.environment(None), timeout=30)
    return proc.returncode, proc.stdout.decode("utf-8")


def test_a_running_daemon_notifies_for_stdin():
    """With a daemon running, a permanent bounce's run leaves its
    notification to the daemon and never loads libcurl; the daemon, woken,
    POSTs it sooner than its own look at the outbox (every 5 s) would, and
    once. A soft bounce hands nothing over. The daemon removes its socket
    when it stops."""
    platform = Platform()
    try:
        work = Workdir(platform)
        daemon, socket_path = _notifying_daemon(work)
        try:
            proc = work.run("stdin", input=sample("service", "postfix-nosuchuser.eml"), env={"LD_DEBUG": "files"})
            handed = time.monotonic()
            out = proc.stdout.decode("utf-8")
            assert proc.returncode == 0, out
            assert "notify: 1 notification(s) left to the running daemon" in out, out
            assert "Response:" not in out, out
            loaded = _loaded_libraries(proc)
            assert any("libgmime" in line for line in loaded), "LD_DEBUG said nothing"
            assert not [line for line in loaded if "libcurl" in line]
            wait_until(lambda: "nosuchuser@example.org" in platform.addresses(), 10, "the daemon's POST")
            assert time.monotonic() - handed < 3, "POSTed only when the daemon looked at the outbox by itself"
            daemon.wait_output('Response:  200 / {"processd_email": "nosuchuser@example.org"}')
            status, out = stdin(work, sample("service", "postfix-mailboxfull.eml"))
            assert status == 0 and "left to the running daemon" not in out, out
        finally:
            assert daemon.stop() == 0, daemon.output()
        assert platform.addresses().count("nosuchuser@example.org") == 1
        assert not os.path.exists(socket_path)
    finally:
        platform.stop()


def test_stdin_notifies_itself_without_a_daemon_of_its_config():
    """A run POSTs its notification itself when the daemon was killed (its
    socket file stays, and the next daemon replaces it), when the run's
    config names a platform differently from the daemon's (a header added:
    the daemon would POST with the settings it started with), and with
    notify.stdin_handoff false."""
    platform = Platform()
    try:
        work = Workdir(platform)
        daemon, socket_path = _notifying_daemon(work)
        daemon.kill()
        assert os.path.exists(socket_path)
        status, out = stdin(work, _with_address("first@example.org"))
        assert status == 0 and 'Response:  200 / {"processd_email": "first@example.org"}' in out, out
        daemon, socket_path = _notifying_daemon(work)
        try:
            status, out = stdin(work, _with_address("second@example.org"))
            assert status == 0 and "left to the running daemon" in out, out
            wait_until(lambda: "second@example.org" in platform.addresses(), 10, "the daemon's POST")

            changed = _config_variant(work, "changed.yml", "        base_url:",
                                      "        headers:\n          X-Changed: yes\n        base_url:")
            status, out = _stdin_with(work, changed, _with_address("third@example.org"))
            assert status == 0 and 'Response:  200 / {"processd_email": "third@example.org"}' in out, out
            off = _config_variant(work, "off.yml", "  notify:\n", "  notify:\n    stdin_handoff: false\n")
            status, out = _stdin_with(work, off, _with_address("fourth@example.org"))
            assert status == 0 and 'Response:  200 / {"processd_email": "fourth@example.org"}' in out, out
        finally:
            assert daemon.stop() == 0, daemon.output()
        received = platform.addresses()
        assert sorted(received) == sorted(f"{n}@example.org" for n in ("first", "second", "third", "fourth"))
        assert platform.received()[2]["headers"].get("X-Changed") == "yes"
    finally:
        platform.stop()


def test_a_stopping_daemon_takes_no_hand_off():
    """A daemon told to stop while its platform sits on a request takes its
    socket's name away at once: a run during the stop POSTs for itself,
    rather than leaving its notification to a daemon that will not send it."""
    platform = Platform()
    try:
        # No request times out while the platform holds it.
        work = Workdir(platform, notify={"timeout": 60})
        daemon, socket_path = _notifying_daemon(work)
        platform.mode(mode="hold")
        try:
            status, out = stdin(work, _with_address("held@example.org"))
            assert status == 0 and "left to the running daemon" in out, out
            wait_until(lambda: platform.held() == 1, 10, "the daemon's request at the platform")
            daemon.proc.send_signal(signal.SIGTERM)
            wait_until(lambda: not os.path.exists(socket_path), 10, "the socket's name removed")
            assert daemon.proc.poll() is None, "the daemon should still wait for its request"
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                during = pool.submit(stdin, work, _with_address("during@example.org"))
                wait_until(lambda: platform.held() == 2, 10, "the run's own request at the platform")
                platform.mode(mode="ok")
                status, out = during.result()
            assert status == 0 and 'Response:  200 / {"processd_email": "during@example.org"}' in out, out
        finally:
            platform.mode(mode="ok")
            assert daemon.stop() == 0, daemon.output()
        assert sorted(platform.addresses()) == ["during@example.org", "held@example.org"]
        assert work.query("SELECT count(*) FROM outbox WHERE state = 0")[0][0] == 0
    finally:
        platform.stop()


def test_the_daemon_is_a_module_stdin_does_without():
    """The daemon (`run`, `run-smtpserver`: libevent, rabbitmq-c, OpenSSL's
    TLS) is a module of its own: without it a daemon command says which
    file it needs and exits 69 (EX_UNAVAILABLE), and a `stdin` run, which
    never needs it (test_libcurl_is_loaded_only_to_notify checks what it
    maps), works as before."""
    work = Workdir(None)
    empty = os.path.join(work.dir, "no-modules")
    os.makedirs(empty)
    env = {"BOUNCEDEMAILS_MODULE_DIR": empty}
    for command in ("run", "run-smtpserver"):
        proc = work.run(command, env=env)
        assert proc.returncode == 69, (proc.returncode, proc.stdout, proc.stderr)
        assert os.path.join(empty, "bouncedemails-daemon.so") in proc.stderr.decode(), proc.stderr
    proc = work.run("stdin", input=sample("service", "postfix-mailboxfull.eml"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert b"Temporary: " in proc.stdout, proc.stdout


def test_libcurl_binds_to_its_own_openssl():
    """The program has OpenSSL's SHA-256 linked in, and exports only what
    its modules take from it: libcurl and its libssl, loaded to notify,
    bind none of their symbols to the program's copy (LD_DEBUG names every
    binding)."""
    platform = Platform()
    try:
        work = Workdir(platform)
        run = work.run("stdin", input=sample("service", "postfix-nosuchuser.eml"), env={"LD_DEBUG": "bindings"})
        assert run.returncode == 0, run.stderr
        lines = run.stderr.decode("utf-8", "replace").splitlines()
        program = os.path.basename(harness.BIN)
        assert any(re.search(r"binding file \S*libcurl\.so", line) for line in lines), \
            "LD_DEBUG said nothing about libcurl: " + "\n".join(lines[:5])
        # No library binds to the program but the C library's stdin, stdout
        # and stderr, which live there (copy relocations).
        to_program = [line for line in lines if "binding file" in line
                      and re.search(r" to \S*" + re.escape(program) + r" ", line) and "[GLIBC_" not in line]
        assert not to_program, "\n".join(to_program[:10])
        wait_until(lambda: "nosuchuser@example.org" in platform.addresses(), 10, "the suspension")
    finally:
        platform.stop()


def test_a_daemon_binds_only_its_module_to_the_program():
    """In the daemon the program's exports meet every library at once: the
    daemon module, libevent, librabbitmq, libssl, libcurl and theirs. Only
    the module binds to the program (the functions its list names), and the
    rest nothing but the C library's streams."""
    platform = Platform()
    try:
        work = Workdir(platform)
        daemon = work.start("run-smtpserver", "--host", "127.0.0.1", "--port", str(harness.free_port()),
                            env={"LD_DEBUG": "bindings"})
        try:
            daemon.wait_output(" started (env ")
        finally:
            assert daemon.stop() == 0, daemon.output()[-2000:]
    finally:
        platform.stop()
    lines = daemon.output().splitlines()
    program = os.path.basename(harness.BIN)
    assert any(re.search(r"binding file \S*libcurl\.so", line) for line in lines), "libcurl was not loaded"
    to_program = [line for line in lines if "binding file" in line
                  and re.search(r" to \S*/" + re.escape(program) + r" ", line) and "[GLIBC_" not in line]
    from_module = [line for line in to_program if "bouncedemails-daemon.so" in line.split(" to ")[0]]
    assert from_module, "the module bound nothing to the program"
    others = [line for line in to_program if line not in from_module]
    assert not others, "\n".join(others[:10])


def test_without_libcurl_the_notification_waits_in_the_outbox():
    """A libcurl that cannot be loaded costs the notification nothing: the
    bounce is handled and its notification stays due in the outbox."""
    platform = Platform()
    try:
        work = Workdir(platform)
        broken = harness.unloadable_library(work, "libcurl.so.4")
        proc = work.run("stdin", input=sample("service", "postfix-nosuchuser.eml"),
                        env={"LD_LIBRARY_PATH": broken})
        out = proc.stdout.decode() + proc.stderr.decode()
        assert proc.returncode == 0, out
        assert "cannot load libcurl" in out, out
        # Pending (0) and unattempted: due again for the daemon when the claim ends.
        assert work.query("SELECT address, state, attempts FROM outbox") == [("nosuchuser@example.org", 0, 0)]
        assert platform.addresses() == []
    finally:
        platform.stop()


class TlsPlatform:
    """A platform on https://127.0.0.1 whose certificate is its own authority
    (self-signed, written to directory/cert.pem): it takes one connection,
    records the TLS handshake and the request, and answers 200."""

    def __init__(self, directory):
        self.cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key,
                        "-out", self.cert], check=True, capture_output=True, timeout=60)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(self.cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.listener.getsockname()[1]}/{{address}}"
        self.handshakes, self.requests = [], []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.listener.accept()
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                self.handshakes.append(tls.version())
                self.requests.append(tls.recv(65536))
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        except (ssl.SSLError, OSError) as e:
            self.handshakes.append(str(e))

    def stop(self):
        self.thread.join(10)
        self.listener.close()


def test_https_platform_must_show_a_trusted_certificate():
    """A platform URL over https goes through TLS (libcurl, loaded for the
    request), and a certificate that no trusted authority signed is refused:
    the notification stays pending, with the reason, and no request is sent."""
    with tempfile.TemporaryDirectory() as certs:
        platform = TlsPlatform(certs)
        try:
            work = Workdir(handler={"domains": {"mydomain.de": {"base_url": platform.url}}})
            status, out = stdin(work, sample("service", "postfix-nosuchuser.eml"))
        finally:
            platform.stop()
    assert status == 0, out
    assert "SSL certificate problem" in out, out
    assert platform.handshakes and not platform.requests, (platform.handshakes, platform.requests)
    rows = work.query("SELECT state, attempts, last_result FROM outbox")
    assert len(rows) == 1 and rows[0][:2] == (0, 1) and "SSL certificate problem" in rows[0][2], rows


def test_https_platform_signed_by_notify_tls_ca_file_is_trusted():
    """notify.tls_ca_file names the authority that verifies https platforms:
    the same certificate that the system's trust store refuses is accepted,
    and the suspension is POSTed and done."""
    with tempfile.TemporaryDirectory() as certs:
        platform = TlsPlatform(certs)
        try:
            work = Workdir(handler={"domains": {"mydomain.de": {"base_url": platform.url}}},
                           notify={"tls_ca_file": platform.cert})
            status, out = stdin(work, sample("service", "postfix-nosuchuser.eml"))
        finally:
            platform.stop()
    assert status == 0, out
    assert platform.requests and platform.requests[0].startswith(b"POST /nosuchuser%40example.org "), \
        (platform.handshakes, platform.requests)
    assert re.search(r"Response: +200 ", out), out
    assert work.query("SELECT state, attempts FROM outbox") == [(1, 1)]


def test_config_error_gives_78():
    work = Workdir(handler={"no_such_key": 1})
    proc = work.run("stdin", input=sample("service", "postfix-nosuchuser.eml"))
    assert proc.returncode == EX_CONFIG, (proc.returncode, proc.stdout, proc.stderr)


def test_help():
    work = Workdir()
    for command in ("stdin", "replay"):
        proc = work.run(command, "--help")
        assert proc.returncode == 0 and b"usage:" in proc.stdout, proc


if __name__ == "__main__":
    harness.main(globals())
