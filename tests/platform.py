#!/usr/bin/env python3
"""Stand-in platform for tests and the demo.

Answers like a learning platform's account service:
  POST /emails/{address}/suspend  -> 200 {"processd_email": "<address>"}
  GET  /                          -> {"email_suspensions_url": "http://HOST/emails/{address}/suspend"}
Control endpoints for tests:
  GET  /_received                 -> every request it received, as JSON
  POST /_mode {"mode": "ok"|"error"|"slow", "status": 500, "delay": 30}
  POST /_mode {"mode": "hold"}            -> requests wait until the mode changes
  GET  /_held                     -> {"held": N}, the requests waiting now
  POST /_mode {"retry_after": 7}          -> errors carry Retry-After: 7
  POST /_mode {"suspensions_url": "..."}  -> GET / answers that template instead
  POST /_reset                    -> forget what it received, mode ok
Usage: platform.py [--host 127.0.0.1] [--port 7001]
Python's standard library only.
"""
import argparse
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

state_lock = threading.Lock()
mode_changed = threading.Condition(state_lock)
state = {"mode": "ok", "status": 500, "delay": 30.0, "suspensions_url": None, "retry_after": None,
         "received": [], "held": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real platform would
    disable_nagle_algorithm = True  # headers and body are written apart

    def log_message(self, fmt, *args):  # keep the test output quiet
        pass

    def _send(self, status, payload, retry_after=None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _control(self, path, body):
        with state_lock:
            if path == "/_received":
                return self._send(200, state["received"])
            if path == "/_held":
                return self._send(200, {"held": state["held"]})
            if path == "/_reset":
                state.update(mode="ok", suspensions_url=None, retry_after=None, received=[])
                mode_changed.notify_all()
                return self._send(200, {"ok": True})
            if path == "/_mode":
                state.update(json.loads(body or b"{}"))
                mode_changed.notify_all()
                return self._send(200, {k: v for k, v in state.items() if k != "received"})
        return self._send(404, {"error": "unknown control"})

    def _handle(self):
        path = urllib.parse.urlsplit(self.path).path
        body = self._body()
        if path.startswith("/_"):
            return self._control(path, body)
        with state_lock:
            if state["mode"] == "hold":
                state["held"] += 1
                mode_changed.wait_for(lambda: state["mode"] != "hold")
                state["held"] -= 1
            mode, status, delay = state["mode"], state["status"], state["delay"]
            retry_after = state["retry_after"]
            template = state["suspensions_url"]
        if mode == "slow":
            time.sleep(delay)
        if mode == "error":
            return self._send(status, {"error": "told to fail"}, retry_after)
        record = {
            "method": self.command,
            "path": path,
            "headers": dict(self.headers.items()),
            "body": body.decode("utf-8", "replace"),
            "time": time.time(),
        }
        if self.command == "GET" and path == "/":
            host = self.headers.get("Host", "127.0.0.1")
            template = template or f"http://{host}/emails/{{address}}/suspend"
            return self._send(200, {"email_suspensions_url": template})
        parts = path.split("/")
        if self.command == "POST" and len(parts) == 4 and parts[1] == "emails" and parts[3] == "suspend":
            address = urllib.parse.unquote(parts[2])
            record["address"] = address
            with state_lock:
                state["received"].append(record)
            return self._send(200, {"processd_email": address})
        return self._send(404, {"error": "not found"})

    do_GET = _handle
    do_POST = _handle


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7001)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"platform listening on http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
