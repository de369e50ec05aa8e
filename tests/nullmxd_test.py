"""Runs the built nullmxd on loopback for integration tests and reads its log.

The daemon binary comes from $NULLMXD (meson passes it). Every daemon listens on
port 0; the real ports come from its `event=listen` lines.
"""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

NULLMXD = os.environ.get("NULLMXD", "build/nullmxd")
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")  # the source tree

BASE_CONFIG = """
listen = [ "127.0.0.1:0", "[::1]:0" ];
hostname = "mx.example.test";
"""

DEFAULT_REPLY = (b"521-mx.example.test does not accept mail\r\n"
                 b"521 5.3.2 mx.example.test does not accept mail\r\n")

_SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer")
_TEXT_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def parse_line(line):
    """One log line (text or JSON) as a dict of strings."""
    if line.startswith("{"):
        return {k: str(v) for k, v in json.loads(line).items()}
    fields = {}
    for key, value in _TEXT_FIELD.findall(line):
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        fields[key] = value
    return fields


def man_section(page, section):
    """The mdoc source of one section (.Sh) of man/PAGE in the source tree."""
    with open(os.path.join(SOURCE, "man", page)) as f:
        text = f.read()
    start = text.index(f"\n.Sh {section}\n")
    end = text.find("\n.Sh ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def write_config(text, directory=None):
    fd, path = tempfile.mkstemp(suffix=".conf", dir=directory)
    # Started as root, nullmxd drops to nobody and re-reads the file as nobody on reload.
    os.fchmod(fd, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def run_nullmxd(*args, timeout=10, **kwargs):
    return subprocess.run([NULLMXD, *args], capture_output=True, text=True,
                          timeout=timeout, **kwargs)


class Daemon:
    """A running nullmxd; use as a context manager."""

    def __init__(self, config=BASE_CONFIG, listeners=2, preexec_fn=None, wrapper=(),
                 env=None):
        """wrapper: a command that execs nullmxd (systemd-socket-activate ...);
        env: the daemon's whole environment; listeners=0 waits for none."""
        self.config_path = write_config(config)
        self.lines = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [*wrapper, NULLMXD, "-c", self.config_path], stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True, preexec_fn=preexec_fn, env=env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        listens = self.wait_for(lambda f: f.get("event") == "listen", count=listeners)
        self.ports = {f["addr"]: int(f["port"]) for f in listens}

    def on_line(self, line):
        """Called by the reader for each line before it is stored: a subclass may
        wait here to stop or slow the reading of the daemon's stderr."""

    def _read(self):
        for line in self.proc.stderr:
            self.on_line(line)
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def events(self, pred=lambda f: True):
        with self._cond:
            parsed = [parse_line(l) for l in self.lines if l.startswith(("ts=", "{"))]
        return [f for f in parsed if pred(f)]

    def wait_for(self, pred, count=1, timeout=5.0):
        """The first `count` parsed log lines matching pred, waiting for them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self.events(pred)
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"wanted {count} matching log lines, have {len(found)}; log:\n"
                        + "\n".join(self.lines))
                self._cond.wait(left)

    def conn_line(self, client_port, timeout=5.0):
        """The conn line of the client on client_port, or proxied from it."""
        return self.wait_for(lambda f: f.get("event") == "conn"
                             and (f.get("client_port") == str(client_port)
                                  or f.get("proxy", "").endswith(":%d" % client_port)),
                             timeout=timeout)[0]

    def connect(self, family=socket.AF_INET, timeout=5.0):
        host = "127.0.0.1" if family == socket.AF_INET else "::1"
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((host, self.ports[host]))
        return s

    def send_signal(self, signum):
        self.proc.send_signal(signum)

    def stop(self, signum=signal.SIGTERM, timeout=5.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        rc = self.proc.wait(timeout)
        self._reader.join(timeout)
        return rc

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        """Stops the daemon as its service manager would: it must exit 0, and a
        sanitizer report anywhere in its output fails the test."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    rc = self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    rc = self.proc.wait()
                if exc_type is None and rc != 0:
                    raise AssertionError("nullmxd exited %d on SIGTERM; log:\n%s"
                                         % (rc, "\n".join(self.lines)))
            self._reader.join(5)
            reports = [l for l in self.lines if _SANITIZER.search(l)]
            if exc_type is None and reports:
                raise AssertionError("sanitizer report:\n" + "\n".join(self.lines))
        finally:
            self.proc.stderr.close()
            os.unlink(self.config_path)


def read_until_eof(sock, limit=65536):
    """Everything the server sends until its FIN; a reset raises."""
    data = b""
    while len(data) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    raise AssertionError("server sent more than %d bytes" % limit)


def reply_codes(data):
    """The code of each whole reply (multi-line ones once), in order."""
    return [int(l[:3]) for l in data.split(b"\r\n")[:-1] if l[3:4] == b" "]


def metric(mport, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=10) as r:
        body = r.read().decode()
    return int(re.search(rf"^{name} (\d+)$", body, re.M).group(1))


def settle(mport):
    """Waits until every connection has ended, and so has been logged or counted: a
    client sees the reply's end before nullmxd sees the client's."""
    deadline = time.monotonic() + 30
    while metric(mport, "nullmxd_connections_open") > 0:
        if time.monotonic() > deadline:
            raise AssertionError("connections still open")
        time.sleep(0.05)


def hammer(port, n, threads=4):
    """n connections to 127.0.0.1:port, each read to its end; every one must get the
    521. A daemon stuck in a log write answers none, and the client times out."""
    errors = []

    def run(count):
        try:
            for _ in range(count):
                with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
                    data = read_until_eof(s)
                    if not data.startswith(b"521"):
                        raise AssertionError("no 521: %r" % data)
        except Exception as e:  # reported by the main thread
            errors.append(e)

    workers = [threading.Thread(target=run, args=(n // threads + (i < n % threads),))
               for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise AssertionError("%d clients failed, first: %r" % (len(errors), errors[0]))


def main():
    unittest.main(verbosity=2)
