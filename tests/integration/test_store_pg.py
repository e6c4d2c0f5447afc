#!/usr/bin/env python3
"""The PostgreSQL store with real processes, against the server that $PG_URL
names (scripts/test-server postgresql start; skipped without it): several
`bouncedemails stdin` at once on one database count every soft bounce (no
update lost), the same message delivered to several of them at once has its
effects once, the admin commands read what they wrote, the daemon drains an
outbox that `stdin` filled, and an unreachable
database is a temporary failure whose messages hide the password. Also runs the
store's PostgreSQL unit tests (src/modules/test_store_pg), which `meson test`
skips when the server starts after the unit tests. Each test has a schema of
its own (search_path through the URL), dropped afterwards.
"""
import os
import shutil
import subprocess
import uuid

import harness
from harness import Platform, Skip, Workdir, sample, wait_until

PG_URL = os.environ.get("PG_URL")


def psql(url, sql):
    """One value from psql, the real client."""
    exe = shutil.which("psql")
    if not exe:
        raise Skip("psql is not installed")
    out = subprocess.run([exe, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c",
                          "SET client_min_messages = warning", "-c", sql],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


class Schema:
    """A schema of its own on the PG_URL database, and a URL that uses it."""

    def __enter__(self):
        if not PG_URL:
            raise Skip("PG_URL is not set: no PostgreSQL (scripts/test-server postgresql start)")
        self.name = "bd_it_" + uuid.uuid4().hex[:12]
        psql(PG_URL, f"CREATE SCHEMA {self.name}")
        sep = "&" if "?" in PG_URL else "?"
        self.url = f"{PG_URL}{sep}options=-csearch_path%3D{self.name}"
        return self

    def __exit__(self, *exc):
        psql(PG_URL, f"DROP SCHEMA {self.name} CASCADE")

    def value(self, sql):
        return psql(self.url, sql)


def workdir(schema, threshold=1000):
    return Workdir(store={"backend": "postgresql", "url": schema.url},
                   handler={"temporary_threshold": threshold})


def with_message_id(data, tag):
    """The same bounce as another message: a Message-Id of its own."""
    old = b"Message-Id: <20261126090211.9A3E2B40D81@mail.example.net>"
    assert old in data
    return data.replace(old, b"Message-Id: <%s@mail.example.net>" % tag.encode(), 1)


def run_at_once(work, messages):
    """Starts one `stdin` per message, all before any ends; (status, output) each."""
    procs = [subprocess.Popen(work.args("stdin"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=harness.environment(None)) for _ in messages]
    results = []
    for proc, data in zip(procs, messages):
        out, _ = proc.communicate(data, timeout=120)
        results.append((proc.returncode, out.decode("utf-8", "replace")))
    return results


def test_parallel_stdin_processes_count_every_bounce():
    with Schema() as schema:
        work = workdir(schema)
        data = sample("service", "postfix-mailboxfull.eml")
        n = 16
        results = run_at_once(work, [with_message_id(data, f"m{i}") for i in range(n)])
        for status, out in results:
            assert status == 0, out
        assert schema.value("SELECT count FROM soft_bounce WHERE address = 'full@example.net'") \
            == str(n)
        assert schema.value("SELECT count(*) FROM event") == str(n)
        assert schema.value("SELECT count(*) FROM message_seen") == str(n)
        proc = work.run("find-address", "--address", "FULL@example.net")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"soft bounces:    {n} " in proc.stdout.decode(), proc.stdout.decode()
        # Nothing of it reached the SQLite file.
        assert not os.path.exists(work.db)


def test_same_message_at_once_counts_once():
    with Schema() as schema:
        work = workdir(schema)
        data = sample("service", "postfix-mailboxfull.eml")
        n = 8
        results = run_at_once(work, [data] * n)
        for status, out in results:
            assert status == 0, out
        duplicates = sum("Duplicate:" in out for _, out in results)
        assert duplicates == n - 1, [out for _, out in results]
        assert schema.value("SELECT count FROM soft_bounce WHERE address = 'full@example.net'") == "1"
        assert schema.value("SELECT count(*) FROM event") == "1"


def test_threshold_escalates_once_across_processes():
    """Threshold 3: of six soft bounces at once, the fourth escalates; the
    counter is reset then, so the next two count again from one."""
    with Schema() as schema:
        work = workdir(schema, threshold=3)
        data = sample("service", "postfix-mailboxfull.eml")
        results = run_at_once(work, [with_message_id(data, f"t{i}") for i in range(6)])
        for status, out in results:
            assert status == 0, out
        assert schema.value("SELECT count(*) FROM permanent_bounce"
                            " WHERE address = 'full@example.net'") == "1"
        assert schema.value("SELECT count(*) FROM outbox WHERE address = 'full@example.net'") == "1"
        assert schema.value("SELECT count FROM soft_bounce WHERE address = 'full@example.net'") == "2"


def test_permanent_bounce_reaches_platform_through_the_outbox():
    """A permanent bounce on one machine, the outbox drained by the daemon:
    the platform hears of it once, and the outbox says done."""
    with Schema() as schema:
        platform = Platform()
        try:
            platform.mode(mode="error", status=503)
            work = Workdir(platform, store={"backend": "postgresql", "url": schema.url})
            proc = work.run("stdin", input=sample("service", "postfix-nosuchuser.eml"))
            assert proc.returncode == 0, proc.stdout + proc.stderr
            # Its prompt attempt failed (503) and was counted; it waits for a retry.
            assert schema.value("SELECT state || ' ' || attempts FROM outbox") == "0 1"
            platform.mode(mode="ok")
            service = work.start("run")
            try:
                wait_until(lambda: schema.value("SELECT count(*) FROM outbox WHERE state = 1") == "1",
                           30, "the notification to be done")
            finally:
                service.stop()
            assert platform.addresses().count("nosuchuser@example.org") == 1, platform.received()
        finally:
            platform.stop()


def test_database_unreachable_gives_tempfail_without_the_password():
    """No server on the port: `stdin` exits 75 so that Postfix retries, and
    neither its log nor its errors show the password."""
    url = f"postgresql://bouncedemails:Sup3r-s3cret@127.0.0.1:{harness.free_port()}/bouncedemails"
    work = Workdir(store={"backend": "postgresql", "url": url})
    proc = work.run("stdin", input=sample("service", "postfix-mailboxfull.eml"))
    out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    assert proc.returncode == 75, out
    assert "store unavailable" in out and "127.0.0.1" in out, out
    assert "Sup3r-s3cret" not in out, out


if __name__ == "__main__":
    harness.main(globals())
