#!/usr/bin/env python3
"""Switching over from the original Python service (bounced_email_service),
as its operator would: its config file, its SQLite database, its archive,
its non-durable queue holding bounces, and its mail server delivering to
the SMTP listener with the listener's own host name as the recipient. Our
binary is swapped in, `import-original` brings the data over, and then
nothing is lost or suspended twice: every queued and SMTP bounce is handled,
imported permanent bounces are not POSTed again, and an imported soft
counter at 3 escalates on the next soft bounce.

The original's schema. Its code is not in this repository; what the README
and our code say about it is the table names (permanent_bounces,
temporary_bounces), the CLI's --bounced_address, the archive layout
<dir>/<2 chars>/<address>.gz, and that it was written with Python's sqlite3
(datetimes stored as "YYYY-MM-DD HH:MM:SS.ffffff"). ORIGINAL_SCHEMA below is
written as its database module would have created the tables at its two
versions; the assumption is documented in the README's switch-over section,
and import-original reads columns by name so that other spellings work too
(test_import_reads_columns_by_name).
"""
import datetime
import gzip
import os
import shutil
import smtplib
import sqlite3
import subprocess

import harness
from harness import Platform, free_port, wait_for_port, wait_until

EX_DATAERR = 65
EX_IOERR = 74

# The original's CREATE TABLE statements, per version (see the docstring).
ORIGINAL_SCHEMA = {
    1: [
        "CREATE TABLE IF NOT EXISTS permanent_bounces (date TIMESTAMP, bounced_address TEXT, domain TEXT)",
        "CREATE TABLE IF NOT EXISTS temporary_bounces (date TIMESTAMP, bounced_address TEXT, domain TEXT,"
        " counter INTEGER)",
    ],
    2: [
        "CREATE TABLE IF NOT EXISTS permanent_bounces (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " address TEXT NOT NULL, domain TEXT NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,"
        " response TEXT, UNIQUE (address, domain))",
        "CREATE TABLE IF NOT EXISTS temporary_bounces (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " address TEXT NOT NULL, domain TEXT NOT NULL, count INTEGER NOT NULL DEFAULT 0,"
        " first_bounce TIMESTAMP, last_bounce TIMESTAMP, UNIQUE (address, domain))",
    ],
}

# The original's config.template.yml as a site filled it in: only paths,
# the broker's password and the platform's URL differ from the template.
ORIGINAL_CONFIG = """\
production: &production
  amqp:
    url: "{amqp_url}"
  handler:
    dbfile: {dbfile}
    permanent_bounced_emails_path: {archive}
    temporary_threshold: 3
    domains:
      mydomain.de:
        base_url: "{platform}/emails/{{address}}/suspend"

develop:
  <<: *production
"""

SEND_SCRIPT = os.path.join(harness.SRC, "resources", "send_message_to_rabbitmq.sh")
AMQP_DATA = os.path.join(harness.DATA, "amqp")


def bounce(template, n):
    with open(os.path.join(AMQP_DATA, template), encoding="utf-8") as f:
        return f.read().replace("{n}", str(n)).encode()


def python_time(days_ago):
    """A datetime as Python's sqlite3 adapter stored it."""
    return str(datetime.datetime.utcnow().replace(microsecond=123456) - datetime.timedelta(days=days_ago))


def original_database(path, version, permanent, soft):
    """The original's database: permanent is [(address, domain)], soft
    [(address, domain, count)], the last soft bounce a day ago."""
    con = sqlite3.connect(path)
    for statement in ORIGINAL_SCHEMA[version]:
        con.execute(statement)
    for address, domain in permanent:
        if version == 1:
            con.execute("INSERT INTO permanent_bounces VALUES (?, ?, ?)", (python_time(40), address, domain))
        else:
            con.execute("INSERT INTO permanent_bounces (address, domain, created_at, response) VALUES (?, ?, ?, ?)",
                        (address, domain, python_time(40), '200 / {"processd_email": "%s"}' % address))
    for address, domain, count in soft:
        if version == 1:
            con.execute("INSERT INTO temporary_bounces VALUES (?, ?, ?, ?)", (python_time(1), address, domain, count))
        else:
            con.execute("INSERT INTO temporary_bounces (address, domain, count, first_bounce, last_bounce)"
                        " VALUES (?, ?, ?, ?, ?)", (address, domain, count, python_time(5), python_time(1)))
    con.commit()
    con.close()


def original_archive(folder, addresses):
    for a in addresses:
        sub = os.path.join(folder, a[:2])
        os.makedirs(sub, exist_ok=True)
        with gzip.open(os.path.join(sub, a + ".gz"), "wb") as f:
            f.write(bounce("permanent.eml", a.split("@")[0]))


class Deployment:
    """The original's files in a temporary folder, read by our binary."""

    def __init__(self, platform, amqp_url="amqp://guest:guest@127.0.0.1:9/bouncedemails", version=2,
                 permanent=(), soft=()):
        self.work = harness.Workdir(platform)  # for its folder, run() and start()
        self.dir = self.work.dir
        self.dbfile = os.path.join(self.dir, "var", "lib", "bouncedemails", "bouncedemails.db")
        self.archive = os.path.join(self.dir, "var", "lib", "bouncedemails", "permanent_bounces")
        os.makedirs(self.archive)
        original_database(self.dbfile, version, permanent, soft)
        original_archive(self.archive, [a for a, _ in permanent])
        with open(self.work.config, "w") as f:
            f.write(ORIGINAL_CONFIG.format(amqp_url=amqp_url, dbfile=self.dbfile, archive=self.archive,
                                           platform=platform.url if platform else "http://127.0.0.1:9"))
        self.work.env = "production"
        self.work.db = self.dbfile

    def run(self, *args, **kw):
        return self.work.run(*args, **kw)

    def our_archive(self):
        """Points our handler.permanent_bounced_emails_path at a folder of
        its own, not the original's, and returns it."""
        ours = os.path.join(self.dir, "ours")
        with open(self.work.config) as f:
            text = f.read().replace(f"permanent_bounced_emails_path: {self.archive}",
                                    f"permanent_bounced_emails_path: {ours}")
        with open(self.work.config, "w") as f:
            f.write(text)
        return ours

    def import_original(self, *extra):
        proc = self.run("import-original", "--db", self.dbfile, "--archive", self.archive, *extra)
        assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
        return proc.stdout.decode()


def posts(platform):
    counts = {}
    for a in platform.addresses():
        counts[a] = counts.get(a, 0) + 1
    return counts


# ---- import-original on its own ----

def test_import_both_versions_and_again():
    permanent = [("old-1@example.org", "mydomain.de"), ("old-2@example.org", "mail.mydomain.de")]
    soft = [("soft-a@example.org", "mydomain.de", 3), ("soft-b@example.org", "mydomain.de", 1),
            ("zero@example.org", "mydomain.de", 0)]
    for version in (1, 2):
        platform = Platform()
        try:
            dep = Deployment(platform, version=version, permanent=permanent, soft=soft)
            out = dep.import_original()
            assert "permanent_bounces: 2 row(s), 2 imported, 0 already known" in out, out
            assert "temporary_bounces: 3 row(s), 2 imported, 0 already known, 1 skipped" in out, out
            # Same folder as ours: the files are there already.
            assert "archive: 0 file(s) copied, 2 already there" in out, out
            rows = dep.work.query("SELECT address, domain, reason, platform_answer FROM permanent_bounce"
                                  " ORDER BY address")
            assert [(a, d, r) for a, d, r, _ in rows] == [
                ("old-1@example.org", "mydomain.de", "imported"),
                ("old-2@example.org", "mydomain.de", "imported")], rows
            assert all(answer.startswith("imported from the original") for *_, answer in rows), rows
            assert dep.work.query("SELECT address, count FROM soft_bounce ORDER BY address") == [
                ("soft-a@example.org", 3), ("soft-b@example.org", 1)]
            assert dep.work.query("SELECT count(*) FROM outbox") == [(0,)], "import queued a POST"
            # The original's tables are untouched.
            assert dep.work.query("SELECT count(*) FROM permanent_bounces") == [(2,)]
            again = dep.import_original()
            assert "permanent_bounces: 2 row(s), 0 imported, 2 already known" in again, again
            assert "temporary_bounces: 3 row(s), 0 imported, 2 already known" in again, again
            assert dep.work.query("SELECT count(*) FROM event") == [(2,)]
            assert platform.received() == []
        finally:
            platform.stop()


def test_import_copies_the_archive_into_ours():
    dep = Deployment(None, permanent=[("old-1@example.org", "mydomain.de")])
    ours = dep.our_archive()
    out = dep.import_original("--dry-run")
    assert "archive: 1 file(s) would be copied" in out and not os.path.exists(ours), out
    assert dep.work.query("SELECT count(*) FROM permanent_bounce") == [(0,)], "dry run wrote"
    out = dep.import_original()
    assert "archive: 1 file(s) copied, 0 already there" in out, out
    copied = os.path.join(ours, "ol", "old-1@example.org.gz")
    with gzip.open(copied) as f:
        assert b"user-old-1@example.org" in f.read()
    assert "archive: 0 file(s) copied, 1 already there" in dep.import_original()


def test_import_says_when_an_archive_file_was_not_copied():
    dep = Deployment(None, permanent=[("old-1@example.org", "mydomain.de"), ("new-2@example.org", "mydomain.de")])
    ours = dep.our_archive()
    os.makedirs(ours)
    open(os.path.join(ours, "ol"), "w").close()   # a file where old-1's folder goes
    proc = dep.run("import-original", "--db", dep.dbfile, "--archive", dep.archive)
    out = proc.stdout.decode()
    assert proc.returncode == EX_IOERR, out + proc.stderr.decode()
    assert "archive: 1 file(s) copied, 0 already there, 1 unreadable" in out, out
    assert os.path.exists(os.path.join(ours, "ne", "new-2@example.org.gz"))
    assert dep.work.query("SELECT count(*) FROM permanent_bounce") == [(2,)], "the database was not imported"


def test_import_reads_a_path_as_it_is():
    """A path is not a file: URI: "?", "#" and "%" are part of the name."""
    dep = Deployment(None, permanent=[("old-1@example.org", "mydomain.de")])
    odd = os.path.join(dep.dir, "copy?of #1 100%", "original.db")
    os.makedirs(os.path.dirname(odd))
    shutil.copy(dep.dbfile, odd)
    proc = dep.run("import-original", "--db", odd)
    out = proc.stdout.decode()
    assert proc.returncode == 0, out + proc.stderr.decode()
    assert "permanent_bounces: 1 row(s), 1 imported" in out, out


def test_import_reads_columns_by_name():
    dep = Deployment(None)
    con = sqlite3.connect(dep.dbfile)
    con.executescript("""
        DROP TABLE permanent_bounces; DROP TABLE temporary_bounces;
        CREATE TABLE permanent_bounces (Email TEXT, site_note TEXT, timestamp INTEGER);
        CREATE TABLE temporary_bounces (EMAIL TEXT, bounce_count INTEGER, updated_at TEXT);
        INSERT INTO permanent_bounces VALUES ('p@example.org', 'x', 1700000000);
        INSERT INTO temporary_bounces VALUES ('t@example.org', 2, '2026-11-30T10:00:00');
    """)
    con.commit()
    con.close()
    proc = dep.run("import-original", "--db", dep.dbfile)
    err = proc.stderr.decode()
    assert proc.returncode == EX_DATAERR, err
    assert "permanent_bounces has no domain column (its columns: email, site_note, timestamp)" in err, err
    assert "--domain" in err, err
    out = dep.import_original("--domain", "mydomain.de")
    assert "permanent_bounces: 1 row(s), 1 imported" in out and "temporary_bounces: 1 row(s), 1 imported" in out
    assert dep.work.query("SELECT address, bounced_at FROM permanent_bounce") == [("p@example.org", 1700000000)]
    when = int(datetime.datetime(2026, 11, 30, 10, tzinfo=datetime.timezone.utc).timestamp())
    assert dep.work.query("SELECT address, count, last_seen FROM soft_bounce") == [("t@example.org", 2, when)]
    con = sqlite3.connect(dep.dbfile)
    con.execute("ALTER TABLE temporary_bounces RENAME COLUMN bounce_count TO tally")
    con.commit()
    con.close()
    proc = dep.run("import-original", "--db", dep.dbfile, "--domain", "mydomain.de")
    assert proc.returncode == EX_DATAERR and "has no count column" in proc.stderr.decode()


# ---- the whole switch-over ----

def _amqp_url():
    url = os.environ.get("AMQP_URL")
    if not url:
        raise harness.Skip("no RabbitMQ (AMQP_URL unset)")
    if not shutil.which("amqp-declare-queue"):
        raise harness.Skip("amqp-tools are not installed")
    return url


def original_queue(url, queue, messages):
    """The queue as the original left it: declared non-durable (amqp-declare-
    queue without -d), holding bounces that Postfix published with the
    original's pipe script."""
    subprocess.run(["amqp-delete-queue", "-u", url, "-q", queue], capture_output=True)
    subprocess.run(["amqp-declare-queue", "-u", url, "-q", queue], check=True, capture_output=True)
    for m in messages:
        subprocess.run(["sh", SEND_SCRIPT], input=m, check=True, timeout=30,
                       env={**os.environ, "BOUNCEDEMAILS_AMQP_URL": url, "BOUNCEDEMAILS_AMQP_QUEUE": queue})


def queue_is_empty(url, queue):
    return subprocess.run(["amqp-get", "-u", url, "-q", queue], capture_output=True).returncode == 2


def test_switchover():
    url = _amqp_url()
    queue = "bouncedemails"   # the original's config names none: the default
    platform = Platform()
    imported_permanent = [("user-old1@example.org", "mydomain.de"), ("user-old2@example.org", "mydomain.de")]
    dep = Deployment(platform, amqp_url=url, permanent=imported_permanent,
                     soft=[("soft-a@example.org", "mydomain.de", 3), ("soft-b@example.org", "mydomain.de", 1)])
    queued = [bounce("permanent.eml", f"q{i}") for i in range(3)] + \
        [bounce("soft-a.eml", "q-a"), bounce("soft-b.eml", "q-b")]
    original_queue(url, queue, queued)
    smtp_port = free_port()
    daemon = smtpd = None
    try:
        out = dep.import_original()
        assert "2 imported" in out, out
        # The original's two units: `run` (the queue) and `run-smtpserver`.
        daemon = dep.work.start("run")
        smtpd = dep.work.start("run-smtpserver", "--host", "127.0.0.1", "--port", str(smtp_port))
        wait_for_port(smtp_port)
        # Its mail server delivered to the listener's own name, in CRLF lines
        # as MTAs send them.
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as s:
            for message in (bounce("permanent.eml", "s1"), bounce("soft-c.eml", "s-c")):
                s.sendmail("", ["bouncedemails@bouncedemails.example.org"], message.replace(b"\n", b"\r\n"))

        expected = {f"user-q{i}@example.org" for i in range(3)} | {"user-s1@example.org", "soft-a@example.org"}
        wait_until(lambda: expected <= set(platform.addresses()), 60, f"POSTs for {sorted(expected)}")
        wait_until(lambda: queue_is_empty(url, queue), 30, "the original's queue to drain")
        wait_until(lambda: dep.work.query("SELECT count(*) FROM message_seen")[0][0] == len(queued) + 2, 30,
                   "every bounce handled")
        assert dep.work.query("SELECT count(*) FROM quarantine") == [(0,)]
        log = daemon.output() + smtpd.output()
        assert "Permanent: soft-a@example.org" in log and "escalated: 4 soft bounces" in log, log
        assert "Temporary: soft-b@example.org (mailboxfull, 2 of 3)" in log, log
        assert "Temporary: soft-c@example.org (mailboxfull, 1 of 3)" in log, log
        counts = posts(platform)
        assert not {a for a, _ in imported_permanent} & set(counts), counts
        assert all(n == 1 for n in counts.values()), counts
        assert set(counts) == expected, counts
    finally:
        for service in (daemon, smtpd):
            if service:
                service.stop()
        platform.stop()
    again = dep.import_original()
    assert "permanent_bounces: 2 row(s), 0 imported" in again, again


if __name__ == "__main__":
    harness.main(globals())
