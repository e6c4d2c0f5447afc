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


if __name__ == "__main__":
    harness.main(globals())
