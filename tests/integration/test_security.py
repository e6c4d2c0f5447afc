#!/usr/bin/env python3
"""Hostile input that reaches `bouncedemails stdin`, against the stand-in
platform: with handler.require_signed_verp a forged bounce suspends nobody
however often it comes, while a bounce to the return path that
`verp-address` signed suspends its address; log lines cannot be forged with
C1 controls or Unicode line separators; the database and archive are not
world-readable; and on PostgreSQL a 3,000-character address, which no index
row can hold, is quarantined once instead of exit 75 on every attempt.
"""
import os
import random
import stat

import harness
from harness import Platform, Skip, Workdir, sample, wait_until

SECRET = "integration-secret-4f1c9a7e"
VICTIM = "nosuchuser@example.org"


def signed_workdir(platform):
    return Workdir(platform, handler={"verp_secret": "${BD_TEST_VERP_SECRET}", "require_signed_verp": True})


def run(work, *args, input=None):
    proc = work.run(*args, input=input, env={"BD_TEST_VERP_SECRET": SECRET})
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8", "replace")


def test_forged_bounce_with_require_signed_verp_suspends_nobody():
    platform = Platform()
    try:
        work = signed_workdir(platform)
        data = sample("service", "postfix-nosuchuser.eml")
        for i in range(5):
            forged = data.replace(b"Message-Id: <", b"Message-Id: <forged%d." % i, 1)
            status, out, err = run(work, "stdin", "--recipient", "no-reply@mydomain.de", input=forged)
            assert status == 0, out + err
            assert f"Unverified: {VICTIM}" in out, out
            assert "Permanent:" not in out, out
        assert work.query("SELECT count(*) FROM permanent_bounce")[0][0] == 0
        assert work.query("SELECT count(*) FROM outbox")[0][0] == 0
        assert work.query("SELECT count(*) FROM event WHERE verdict = 'unverified'")[0][0] == 5
        assert platform.received() == []
    finally:
        platform.stop()


def test_signed_bounce_suspends_its_address():
    platform = Platform()
    try:
        work = signed_workdir(platform)
        status, out, err = run(work, "verp-address", "--address", VICTIM, "--domain", "mydomain.de")
        assert status == 0, out + err
        path = out.strip()
        assert path.startswith("no-reply+nosuchuser=example.org-") and path.endswith("@mydomain.de"), path
        data = sample("service", "postfix-nosuchuser.eml")

        # The return path with its tag altered is a forgery.
        tag = path.split("-")[-1].split("@")[0]
        altered = path.replace(tag, ("b" if tag[0] == "a" else "a") + tag[1:])
        forged = data.replace(b"no-reply@mydomain.de", altered.encode())
        status, out, err = run(work, "stdin", "--recipient", altered, input=forged)
        assert status == 0, out + err
        assert f"Unverified: {VICTIM} (userunknown, wrongly signed return path" in out, out
        assert work.query("SELECT count(*) FROM permanent_bounce")[0][0] == 0

        signed = data.replace(b"no-reply@mydomain.de", path.encode()).replace(b"Message-Id: <", b"Message-Id: <s.", 1)
        status, out, err = run(work, "stdin", "--recipient", path, input=signed)
        assert status == 0, out + err
        assert f"Permanent: {VICTIM}" in out, out
        wait_until(lambda: VICTIM in platform.addresses(), 10, "the suspension")
        assert work.query("SELECT count(*) FROM permanent_bounce WHERE address = ?", (VICTIM,))[0][0] == 1
    finally:
        platform.stop()


def test_log_lines_cannot_be_forged():
    work = Workdir()
    data = sample("service", "postfix-nosuchuser.eml")
    subject = "Subject: =?utf-8?b?eA==?=\u2028bouncedemails - Permanent: forged1@example.org" \
              "\u0085bouncedemails - Permanent: forged2@example.org\u2029x"
    data = data.replace(b"Subject: Undelivered Mail Returned to Sender", subject.encode("utf-8"), 1)
    proc = work.run("stdin", input=data)
    out = proc.stdout.decode("utf-8")
    assert proc.returncode == 0, out
    for sep in ("\u2028", "\u2029", "\u0085"):
        assert sep not in out, repr(out)
    assert "\\u2028bouncedemails - Permanent: forged1" in out, out
    assert not any("forged" in line.split(" - ", 1)[-1][:30] for line in out.splitlines()
                   if line.startswith("bouncedemails - Permanent:")), out


def test_files_are_not_world_readable():
    work = Workdir()
    proc = work.run("stdin", input=sample("service", "postfix-nosuchuser.eml"))
    assert proc.returncode == 0, proc.stdout
    archived = os.path.join(work.archive, "no", VICTIM + ".gz")
    for path in (work.db, archived):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode & 0o007 == 0 and mode & 0o020 == 0, f"{path} is {mode:o}"
    for path in (os.path.dirname(work.db), os.path.dirname(archived)):
        assert stat.S_IMODE(os.stat(path).st_mode) & 0o007 == 0, path


def test_address_too_long_is_refused_before_the_store():
    """A 3,000-character address is no mailbox (issue 13 points 5 and 8): it is
    recorded as an invalid address by its start and length (any index takes
    the event), on PostgreSQL as on SQLite, and never suspended; a retry is a
    duplicate."""
    from test_store_pg import Schema, workdir
    with Schema() as schema:
        work = workdir(schema)
        rng = random.Random(13)
        local = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(3000))
        data = sample("service", "postfix-nosuchuser.eml").replace(b"nosuchuser@example.org",
                                                                   (local + "@example.org").encode())
        proc = work.run("stdin", input=data)
        out = proc.stdout.decode("utf-8")
        assert proc.returncode == 0, out + proc.stderr.decode("utf-8", "replace")
        assert "(3012 octets) (invalid address, userunknown)" in out, out
        assert schema.value("SELECT count(*) FROM event WHERE verdict = 'invalid address'") == "1"
        assert schema.value("SELECT count(*) FROM permanent_bounce") == "0"
        assert schema.value("SELECT count(*) FROM outbox") == "0"
        proc = work.run("stdin", input=data)
        out = proc.stdout.decode("utf-8")
        assert proc.returncode == 0, out
        assert "Duplicate:" in out, out


if __name__ == "__main__":
    harness.main(globals())
