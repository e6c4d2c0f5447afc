#!/usr/bin/env python3
"""The operator's commands and what an operator of the original types:
`--no-debug` is accepted; `find-address --address PART` lists every address
that contains PART (as the original's did); configuration mistakes that
only the daemon used to notice (a bad amqp.url, store.url, platform URL or
SMTP host) stop every command at load with exit 78 and file:line: key; a
config file that cannot be found is named with every path tried.
"""
import os
import subprocess
import tempfile

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
            ("set-permanent-bounced-address", "--bounced_address", "a@b.c", "--domain", "mydomain.de")]


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


if __name__ == "__main__":
    harness.main(globals())
