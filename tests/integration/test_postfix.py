#!/usr/bin/env python3
"""A real Postfix makes a real bounce, which reaches bouncedemails by each of
the three routes in turn (SMTP transport, pipe into `bouncedemails stdin`,
pipe into amqp-publish); each time the stand-in platform receives the
suspension of the address that does not exist."""
import os
import stat

import harness
import postfix

PLATFORM_TIMEOUT = 60


def _require_postfix():
    why = postfix.available()
    if why:
        raise harness.Skip(why)


def _readable_by_nobody(work):
    """The pipe runs as Postfix's default_privs (nobody)."""
    os.chmod(work.dir, 0o777)
    os.chmod(work.config, 0o644)
    os.makedirs(os.path.join(work.dir, "var"), exist_ok=True)
    os.chmod(os.path.join(work.dir, "var"), 0o777)


def _await_suspension(platform, address, mta):
    try:
        harness.wait_until(lambda: address in platform.addresses(), PLATFORM_TIMEOUT,
                           f"the platform to receive {address}")
    except AssertionError:
        print(mta.log())
        raise
    assert platform.addresses().count(address) == 1


def test_bounce_over_smtp_transport():
    _require_postfix()
    platform = harness.Platform()
    smtp_port = harness.free_port()
    work = harness.Workdir(platform, smtp={"enabled": True, "port": smtp_port})
    service = work.start("run")
    mta = None
    try:
        harness.wait_for_port(smtp_port)
        mta = postfix.PrivatePostfix("smtp", smtp_port=smtp_port)
        address = mta.send_to_unknown_user("nosuchuser-smtp")
        _await_suspension(platform, address, mta)
        assert "Permanent: " + address in service.output()
    finally:
        if mta:
            mta.stop()
        service.stop()
        platform.stop()


def test_bounce_through_pipe_into_stdin():
    _require_postfix()
    platform = harness.Platform()
    work = harness.Workdir(platform)
    _readable_by_nobody(work)
    command = " ".join(work.args("stdin"))
    mta = postfix.PrivatePostfix("pipe", pipe_command=command)
    try:
        address = mta.send_to_unknown_user("nosuchuser-pipe")
        _await_suspension(platform, address, mta)
        rows = work.query("SELECT address, domain FROM permanent_bounce")
        assert (address, "mydomain.de") in rows, rows
    finally:
        mta.stop()
        platform.stop()


def test_bounce_through_pipe_into_amqp_publish():
    _require_postfix()
    amqp_url = os.environ.get("AMQP_URL")
    if not amqp_url:
        raise harness.Skip("no RabbitMQ (AMQP_URL unset)")
    queue = f"bouncedemails-postfix-{os.getpid()}"
    platform = harness.Platform()
    work = harness.Workdir(platform, amqp={"url": amqp_url, "queue": queue})
    service = work.start("run")
    wrapper = os.path.join(work.dir, "publish.sh")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nBOUNCEDEMAILS_AMQP_URL='{amqp_url}' BOUNCEDEMAILS_AMQP_QUEUE='{queue}' "
                f"exec {harness.SRC}/resources/send_message_to_rabbitmq.sh\n")
    os.chmod(wrapper, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    os.chmod(work.dir, 0o755)
    mta = None
    try:
        service.wait_output("AMQP consuming queue")
        mta = postfix.PrivatePostfix("pipe", pipe_command=wrapper)
        address = mta.send_to_unknown_user("nosuchuser-amqp")
        _await_suspension(platform, address, mta)
    finally:
        if mta:
            mta.stop()
        service.stop()
        platform.stop()


if __name__ == "__main__":
    harness.main(globals())
