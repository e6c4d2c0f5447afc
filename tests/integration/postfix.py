"""A private Postfix instance for the tests: its own config folder, queue and
log, listening on loopback only, never the system's own mail system.

A message submitted to nosuchuser@local.test is refused by local(8) and
bounced, as a real multipart/report, to no-reply@mydomain.de, which reaches
bouncedemails by one of three routes:
  "pipe": the no-reply alias pipes into a command (bouncedemails stdin, or
          the amqp-publish script);
  "smtp": mydomain.de is relayed by a transport to the SMTP listener.
See ../shared/docs/postfix-test-instance.md for why each setting is here.
"""
import fcntl
import os
import shutil
import subprocess
import tempfile

import harness

LOCAL_DOMAIN = "local.test"
PLATFORM_DOMAIN = "mydomain.de"
NO_REPLY = f"no-reply@{PLATFORM_DOMAIN}"


def available():
    """None when a private Postfix can run here, else the reason why not."""
    if not shutil.which("postfix") or not os.path.exists("/usr/sbin/sendmail"):
        return "postfix is not installed"
    if os.geteuid() != 0:
        return "a private Postfix needs root to start"
    return None


def _alternate_dirs(change):
    """Adds or removes a folder in alternate_config_directories of the
    default main.cf, under a lock, for the tests that run at once."""
    with open("/etc/postfix/.bouncedemails-tests.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = subprocess.run(["postconf", "-h", "alternate_config_directories"],
                                 capture_output=True, text=True, check=True).stdout.split()
        subprocess.run(["postconf", "-e", "alternate_config_directories = " + " ".join(change(current))],
                       check=True)


class PrivatePostfix:
    def __init__(self, route, pipe_command=None, smtp_port=None):
        self.dir = tempfile.mkdtemp(prefix="bd-postfix-")
        os.chmod(self.dir, 0o755)  # the postfix user takes its lock in data/
        self.etc = os.path.join(self.dir, "etc")
        self.log_path = os.path.join(self.dir, "log", "postfix.log")
        self.port = harness.free_port()
        for sub in ("etc", "queue", "data", "log"):
            os.makedirs(os.path.join(self.dir, sub))
        shutil.chown(os.path.join(self.dir, "data"), "postfix")
        self._write_main_cf(route, smtp_port)
        self._write_master_cf()
        self._write_maps(route, pipe_command, smtp_port)
        _alternate_dirs(lambda dirs: dirs + [self.etc])
        subprocess.run(["postfix", "-c", self.etc, "start"], check=True, capture_output=True)
        harness.wait_for_port(self.port)

    def _write_main_cf(self, route, smtp_port):
        destinations = [LOCAL_DOMAIN] + ([PLATFORM_DOMAIN] if route == "pipe" else [])
        lines = [
            "compatibility_level = 3.6",
            f"queue_directory = {self.dir}/queue",
            f"data_directory = {self.dir}/data",
            "mail_owner = postfix",
            "setgid_group = postdrop",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            f"myhostname = mail.{LOCAL_DOMAIN}",
            f"mydomain = {LOCAL_DOMAIN}",
            "myorigin = $myhostname",
            "mydestination = " + ", ".join(destinations),
            "local_recipient_maps =",
            f"alias_maps = hash:{self.etc}/aliases",
            f"alias_database = hash:{self.etc}/aliases",
            f"maillog_file = {self.log_path}",
            f"maillog_file_prefixes = {self.dir}/log",
            "biff = no",
            "smtputf8_enable = no",
            "smtp_tls_security_level = none",
        ]
        if route == "smtp":
            lines += [f"relay_domains = {PLATFORM_DOMAIN}", f"transport_maps = hash:{self.etc}/transport"]
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def _write_master_cf(self):
        with open("/etc/postfix/master.cf") as f:
            lines = f.read().splitlines()
        out = []
        for line in lines:
            if line.startswith("smtp ") and " inet " in line:
                line = f"127.0.0.1:{self.port} inet n - n - - smtpd"
            elif line.startswith("postlog "):
                continue
            out.append(line)
        out.append("postlog unix-dgram n - n - 1 postlogd")
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("\n".join(out) + "\n")

    def _write_maps(self, route, pipe_command, smtp_port):
        aliases = os.path.join(self.etc, "aliases")
        with open(aliases, "w") as f:
            f.write("postmaster: root\n")
            if pipe_command:
                f.write(f'no-reply: "|{pipe_command}"\n')
        subprocess.run(["postalias", "-c", self.etc, f"hash:{aliases}"], check=True)
        if route == "smtp":
            transport = os.path.join(self.etc, "transport")
            with open(transport, "w") as f:
                f.write(f"{PLATFORM_DOMAIN} smtp:[127.0.0.1]:{smtp_port}\n")
            subprocess.run(["postmap", "-c", self.etc, f"hash:{transport}"], check=True)

    def send_to_unknown_user(self, local_part="nosuchuser"):
        """Submits a message from the no-reply address to a user that does not
        exist; Postfix bounces it back to the no-reply address."""
        message = (f"From: {NO_REPLY}\nTo: {local_part}@{LOCAL_DOMAIN}\n"
                   f"Subject: Your course starts tomorrow\n\nHello.\n").encode()
        subprocess.run(["/usr/sbin/sendmail", "-C", self.etc, "-f", NO_REPLY, f"{local_part}@{LOCAL_DOMAIN}"],
                       input=message, check=True, timeout=30)
        return f"{local_part}@{LOCAL_DOMAIN}"

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        subprocess.run(["postfix", "-c", self.etc, "stop"], capture_output=True)
        _alternate_dirs(lambda dirs: [d for d in dirs if d != self.etc])
        shutil.rmtree(self.dir, ignore_errors=True)
