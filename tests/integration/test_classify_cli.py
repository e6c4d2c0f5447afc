#!/usr/bin/env python3
"""`bouncedemails classify` end to end: JSON Lines with exactly the keys of
the classifier issue, mbox files split into messages, directories read file
by file in name order, stdin as "-", the human table, and an unreadable path
reported on stderr with exit status 66 while the other paths are still
classified. Needs no configuration, store or server.
"""
import json
import os
import shutil
import subprocess
import tempfile

import harness

EX_NOINPUT = 66
DATA = os.path.join(harness.SRC, "tests", "data", "classify")
TOP_KEYS = {"source", "message", "kind", "format", "platform_address", "recipients"}
RCPT_KEYS = {"address", "final", "original", "alias", "valid", "action", "status", "reply_code", "reason",
             "hard", "verdict", "diagnostic", "remote_mta", "feedback_type"}


def classify(*args, data=None):
    if not os.path.exists(harness.BIN):
        raise harness.Skip(f"{harness.BIN} is not built")
    proc = subprocess.run([harness.BIN, "classify", *args], input=data, capture_output=True, timeout=60)
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8", "replace")


def lines(out):
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def test_json_keys_and_values():
    rc, out, err = classify("--json", os.path.join(DATA, "dsn-several.eml"))
    assert rc == 0, err
    (obj,) = lines(out)
    assert set(obj) == TOP_KEYS, obj
    assert obj["kind"] == "bounce" and obj["format"] == "rfc3464" and obj["message"] == 0
    assert obj["platform_address"] == "no-reply@learn.example.org"
    by_addr = {r["address"]: r for r in obj["recipients"]}
    for r in by_addr.values():
        assert set(r) == RCPT_KEYS, r
    alice = by_addr["alice@example.com"]
    assert (alice["status"], alice["reply_code"], alice["hard"], alice["verdict"]) == ("5.1.1", "550", True, "permanent")
    assert by_addr["carol@example.org"]["action"] == "delayed"
    assert by_addr["carol@example.org"]["verdict"] == "ignore"


def test_mbox_and_stdin():
    with open(os.path.join(DATA, "mbox-two.mbox"), "rb") as f:
        mbox = f.read()
    rc, out, err = classify("--json", "-", data=mbox)
    assert rc == 0, err
    objs = lines(out)
    assert [(o["source"], o["message"], o["kind"]) for o in objs] == [("-", 0, "bounce"), ("-", 1, "autoreply")], objs


def test_directory_in_name_order():
    with tempfile.TemporaryDirectory() as tmp:
        for sub in ("cur", "new", "tmp"):
            os.mkdir(os.path.join(tmp, sub))
        shutil.copy(os.path.join(DATA, "arf-abuse.eml"), os.path.join(tmp, "new", "2.eml"))
        shutil.copy(os.path.join(DATA, "no-to.eml"), os.path.join(tmp, "cur", "1.eml"))
        shutil.copy(os.path.join(DATA, "dsn-delayed.eml"), os.path.join(tmp, "tmp", "half-written"))
        rc, out, err = classify("--json", tmp)
        assert rc == 0, err
        objs = lines(out)
        assert [o["source"] for o in objs] == [os.path.join(tmp, "cur", "1.eml"), os.path.join(tmp, "new", "2.eml")]
        assert [o["kind"] for o in objs] == ["bounce", "feedback"]


def test_unreadable_path_goes_on():
    missing = "/nonexistent/bounce.eml"
    rc, out, err = classify("--json", missing, os.path.join(DATA, "autoreply-ooo.eml"))
    assert rc == EX_NOINPUT, (rc, err)
    assert missing in err, err
    (obj,) = lines(out)
    assert obj["kind"] == "autoreply" and obj["recipients"] == []


def test_human_table():
    rc, out, err = classify(os.path.join(DATA, "arf-abuse.eml"))
    assert rc == 0, err
    rows = out.splitlines()
    assert rows[0].startswith("SOURCE"), rows
    assert "frank@example.com" in rows[1] and "complaint" in rows[1], rows


def test_explain_names_rule_and_source():
    rc, out, err = classify("--explain", os.path.join(DATA, "verdict-nxdomain-google.eml"))
    assert rc == 0, err
    assert "detector: rfc3464" in out, out
    assert 'matched "responded with code nxdomain"' in out and "source: Google" in out, out
    assert "verdict: permanent (hard)" in out, out


def test_forwarded_recipient_reports_both():
    rc, out, err = classify("--json", os.path.join(DATA, "verdict-forwarded.eml"))
    assert rc == 0, err
    (obj,) = lines(out)
    (r,) = obj["recipients"]
    assert r["address"] == "alice@example.org" and r["final"] == "alice.forward@example.net", r


def test_empty_input_is_unknown():
    rc, out, err = classify("--json", "-", data=b"")
    assert rc == 0, err
    (obj,) = lines(out)
    assert obj["kind"] == "unknown" and obj["recipients"] == []


if __name__ == "__main__":
    harness.main(globals())
