#!/usr/bin/env python3
"""Classifier bombs over a real SMTP socket (issue 13): while a hostile
message (a long Subject, a report naming many recipients with a long text,
many parts) is being handled, an ordinary bounce sent right after it on
another connection is still answered promptly. Promptly is a ratio: the
ordinary bounce waits no more than a few times as long as it waits behind
an ordinary bounce of the bomb's size."""
import socket
import subprocess
import threading
import time

import harness

NOREPLY = "no-reply@mydomain.de"
TIMEOUT = 60
SIZE = 1024 * 1024
# The bounce after a bomb may wait this many times as long as after an
# ordinary bounce of the same size (each is handled in turn); before the
# limits, the long Subject alone held it for over a minute.
RATIO_MAX = 10.0
# Waits shorter than this are all "prompt": the ratio of two small times
# says nothing.
FLOOR = 0.05

HEADERS = ("From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\n"
           "To: no-reply@mydomain.de\nMessage-Id: <{tag}@mx.example.org>\nMIME-Version: 1.0\n")


def fill(unit, n):
    return (unit * (n // len(unit) + 1))[:n]


def ordinary(tag, pad=0):
    """A Postfix-style report for user-TAG@example.org, padded with prose."""
    return (HEADERS.format(tag=tag) + "Subject: Undelivered Mail Returned to Sender\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B42"\n\n'
            "--B42\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
            f"Final-Recipient: rfc822; user-{tag}@example.org\nAction: failed\nStatus: 5.1.1\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 <user-{tag}@example.org>: User unknown\n\n"
            "--B42\nContent-Type: text/plain\n\nThis is the mail system at host mx.example.org.\n\n"
            f"<user-{tag}@example.org>: host mx.example.org said: 550 5.1.1 User unknown"
            " (in reply to RCPT TO command)\n\n"
            + fill("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.\n", pad)
            + "\n--B42--\n")


def long_subject(tag):
    return (HEADERS.format(tag=tag) + "Subject: " + fill("A", SIZE)
            + "\nContent-Type: text/plain\n\n<x@example.org>: user unknown\n")


def recipients_and_text(tag):
    ds = "Reporting-MTA: dns; mx.example.org\n\n" + "".join(
        f"Final-Recipient: rfc822; user{i:07d}@example.org\nAction: failed\nStatus: 5.0.0\n\n"
        for i in range(1000))
    return (HEADERS.format(tag=tag) + "Subject: Undelivered Mail\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B42"\n\n'
            "--B42\nContent-Type: text/plain\n\n" + fill("u", SIZE - len(ds))
            + "\n--B42\nContent-Type: message/delivery-status\n\n" + ds + "\n--B42--\n")


def many_parts(tag):
    return (HEADERS.format(tag=tag) + "Subject: Undelivered Mail\n"
            'Content-Type: multipart/mixed; boundary="B"\n\n'
            + fill("--B\nContent-Type: text/plain\n\nx\n", SIZE) + "--B--\n")


def wire(text):
    """CRLF line ends and dot-stuffing, as a client sends DATA."""
    lines = text.replace("\r\n", "\n").split("\n")
    return "\r\n".join("." + l if l.startswith(".") else l for l in lines).encode() + b"\r\n.\r\n"


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.file = self.sock.makefile("rb")
        assert self.reply() == 220

    def reply(self):
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError("connection closed")
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3])

    def command(self, line, expect):
        self.sock.sendall(line.encode() + b"\r\n")
        code = self.reply()
        assert code == expect, f"{line!r}: {code}"

    def send(self, message, sent=None):
        """Sends one message; sets the event sent once its final dot is out;
        returns (seconds from the final dot to the reply, reply code)."""
        self.command("EHLO client.example.org", 250)
        self.command("MAIL FROM:<>", 250)
        self.command(f"RCPT TO:<{NOREPLY}>", 250)
        self.command("DATA", 354)
        self.sock.sendall(wire(message))
        start = time.monotonic()
        if sent is not None:
            sent.set()
        code = self.reply()
        return time.monotonic() - start, code

    def close(self):
        self.command("QUIT", 221)
        self.file.close()
        self.sock.close()


def wait_behind(port, big, tag):
    """Sends big on one connection and, as soon as its final dot is out, an
    ordinary bounce on another; returns how long the ordinary one waited
    for its 250, and checks that both were answered."""
    sent = threading.Event()
    result = {}

    def send_big():
        c = Client(port)
        result["big"] = c.send(big, sent)
        c.close()

    thread = threading.Thread(target=send_big)
    small = Client(port)  # connected and greeted before the big one ends
    thread.start()
    assert sent.wait(TIMEOUT), "the big message was not sent"
    waited, code = small.send(ordinary(tag))
    small.close()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), "the big message was never answered"
    assert code == 250, code
    assert result["big"][1] == 250, result["big"]
    return waited


def test_ordinary_bounce_answered_promptly_behind_bombs():
    port = harness.free_port()
    work = harness.Workdir(smtp={"port": port, "max_message_size": 25 * 1024 * 1024})
    service = work.start("run-smtpserver", "--host", "127.0.0.1", "--port", str(port))
    try:
        service.wait_output("SMTP listening on")
        # Warm up: the first message opens the store.
        wait_behind(port, ordinary("warm-big", 1000), "warm")
        for name, bomb in (("long subject", long_subject), ("recipients and text", recipients_and_text),
                           ("many parts", many_parts)):
            tag = name.replace(" ", "-")
            reference = wait_behind(port, ordinary(tag + "-ref-big", SIZE), tag + "-ref")
            behind_bomb = wait_behind(port, bomb(tag + "-bomb"), tag + "-after")
            ratio = max(behind_bomb, FLOOR) / max(reference, FLOOR)
            print(f"  {name}: {behind_bomb:.3f} s behind the bomb, {reference:.3f} s behind an ordinary"
                  f" bounce of its size (ratio {ratio:.1f})", flush=True)
            assert ratio <= RATIO_MAX, f"{name}: the next bounce waited {ratio:.1f} times as long"
    finally:
        try:
            service.stop()
        except subprocess.TimeoutExpired:  # still busy with a bomb
            service.kill()


if __name__ == "__main__":
    harness.main(globals())
