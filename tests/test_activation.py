"""Socket activation by systemd-socket-activate and readiness on a NOTIFY_SOCKET."""

import os
import shutil
import signal
import smtplib
import socket
import tempfile
import time
import unittest

from nullmxd_test import DEFAULT_REPLY, Daemon, main, read_until_eof

ACTIVATE = shutil.which("systemd-socket-activate")
HOSTNAME = 'hostname = "mx.example.test";\n'


def free_port(family=socket.AF_INET):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
        return s.getsockname()[1]


def smtp_connect_reply(host, port):
    """What smtplib makes of the greeting: (code, text)."""
    try:
        smtplib.SMTP(host, port, timeout=10).quit()
    except smtplib.SMTPConnectError as e:
        return e.smtp_code, e.smtp_error
    raise AssertionError("the server accepted the connection with a 2xx greeting")


@unittest.skipUnless(ACTIVATE, "systemd-socket-activate (package systemd) is not installed")
class SocketActivationTest(unittest.TestCase):
    def activated(self, config, *listen, extra=()):
        args = [ACTIVATE, *extra]
        for addr in listen:
            args += ["-l", addr]
        d = Daemon(config, listeners=0, wrapper=args + ["--fdname=smtp"])
        # It says "Listening on ADDR as FD." for each socket before it waits for a client.
        deadline = time.monotonic() + 10
        while sum(l.startswith("Listening on") for l in list(d.lines)) < len(listen):
            if time.monotonic() > deadline or d.proc.poll() is not None:
                d.__exit__(None, None, None)
                raise AssertionError("systemd-socket-activate did not listen:\n"
                                     + "\n".join(d.lines))
            time.sleep(0.02)
        return d

    def test_passed_sockets_are_adopted_and_a_real_client_gets_521(self):
        p4, p6 = free_port(), free_port(socket.AF_INET6)
        config = HOSTNAME + f'listen = [ "127.0.0.1:{p4}", "[::1]:{p6}" ];\n'
        with self.activated(config, f"127.0.0.1:{p4}", f"[::1]:{p6}") as d:
            # The first connection makes systemd-socket-activate exec nullmxd.
            code, text = smtp_connect_reply("127.0.0.1", p4)
            self.assertEqual(code, 521)
            self.assertTrue(text.startswith(b"mx.example.test does not accept mail"))
            listens = d.wait_for(lambda f: f.get("event") == "listen", count=2)
            self.assertEqual({(f["addr"], f["port"], f["activated"], f["name"]) for f in listens},
                             {("127.0.0.1", str(p4), "yes", "smtp"),
                              ("::1", str(p6), "yes", "smtp")})
            with socket.create_connection(("::1", p6), timeout=5) as s:
                self.assertEqual(read_until_eof(s), DEFAULT_REPLY)
            self.assertEqual(d.events(lambda f: f.get("event") == "warning"), [])
            self.assertEqual(d.stop(), 0)

    def test_an_adopted_socket_keeps_its_listen_entry_settings(self):
        port, other = free_port(), free_port()
        config = HOSTNAME + (f'listen = ( {{ address = "127.0.0.1:{port}"; '
                             'hostname = "mx2.example.test"; } );\n')
        with self.activated(config, f"127.0.0.1:{port}", f"127.0.0.1:{other}") as d:
            code, text = smtp_connect_reply("127.0.0.1", port)
            self.assertEqual((code, text.split(b"\n")[0]),
                             (521, b"mx2.example.test does not accept mail"))
            # The socket no entry claims gets the global settings.
            code, text = smtp_connect_reply("127.0.0.1", other)
            self.assertEqual((code, text.split(b"\n")[0]),
                             (521, b"mx.example.test does not accept mail"))
            self.assertEqual(d.stop(), 0)

    def test_unclaimed_socket_is_served_and_unpassed_entry_is_skipped(self):
        p_claimed, p_extra, p_missing = free_port(), free_port(), free_port()
        config = HOSTNAME + (f'listen = [ "127.0.0.1:{p_claimed}", '
                             f'"127.0.0.1:{p_missing}" ];\n')
        with self.activated(config, f"127.0.0.1:{p_claimed}", f"127.0.0.1:{p_extra}") as d:
            self.assertEqual(smtp_connect_reply("127.0.0.1", p_extra)[0], 521)
            warnings = [f["msg"] for f in d.wait_for(
                lambda f: f.get("event") == "warning", count=2)]
            self.assertIn(f"listen 127.0.0.1:{p_missing}: the service manager passed no "
                          "socket for it; not listening there", warnings)
            self.assertTrue(any(f"127.0.0.1 port {p_extra} (smtp) matches no listen entry"
                                in w for w in warnings), warnings)
            ports = {f["port"] for f in d.wait_for(lambda f: f.get("event") == "listen",
                                                   count=2)}
            self.assertEqual(ports, {str(p_claimed), str(p_extra)})
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", p_missing), timeout=5)
            self.assertEqual(d.stop(), 0)

    def test_a_datagram_socket_is_refused(self):
        port = free_port()
        config = HOSTNAME + f'listen = [ "127.0.0.1:{port}" ];\n'
        with self.activated(config, f"127.0.0.1:{port}", extra=["--datagram"]) as d:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.sendto(b"x", ("127.0.0.1", port))
            self.assertEqual(d.proc.wait(10), 71)
            d.wait_for(lambda f: "is not a listening TCP socket" in f.get("msg", ""))

    def test_variables_for_another_process_are_ignored(self):
        env = dict(os.environ, LISTEN_PID="1", LISTEN_FDS="1", LISTEN_FDNAMES="smtp")
        with Daemon(listeners=2, env=env) as d:
            self.assertNotIn("activated", d.wait_for(lambda f: f.get("event") == "listen")[0])
            with d.connect() as s:
                self.assertEqual(read_until_eof(s), DEFAULT_REPLY)


class NotifyReceiver:
    """The service manager's side of sd_notify(3): an AF_UNIX datagram socket."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"nullmxd-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
            self.dir = None
        else:
            self.dir = tempfile.mkdtemp()  # 0700, owned by root when tests run as root
            self.address = os.path.join(self.dir, "notify")
            self.sock.bind(self.address)
        self.sock.settimeout(10)

    def message(self):
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n") if line)

    def until(self, key):
        """Messages up to and including the first that sets key."""
        seen = []
        while True:
            seen.append(self.message())
            if key in seen[-1]:
                return seen

    def close(self):
        self.sock.close()
        if self.dir:
            shutil.rmtree(self.dir)


class NotifyTest(unittest.TestCase):
    def sequence(self, abstract):
        rx = NotifyReceiver(abstract)
        self.addCleanup(rx.close)
        env = dict(os.environ, NOTIFY_SOCKET=rx.address)
        with Daemon(env=env) as d:
            ready = rx.until("READY")
            self.assertEqual(ready[-1], {"READY": "1"})
            status = rx.message()
            self.assertEqual(status["STATUS"], "0 open, 0 accepted, 2 listeners")
            with d.connect() as s:
                read_until_eof(s)
            d.send_signal(signal.SIGHUP)
            reloading = rx.until("RELOADING")[-1]
            self.assertEqual(reloading["RELOADING"], "1")
            usec = int(reloading["MONOTONIC_USEC"])
            self.assertLess(abs(usec - time.monotonic_ns() // 1000), 10_000_000)
            self.assertEqual(rx.message(), {"READY": "1"})
            self.assertIn("1 accepted, 2 listeners", rx.message()["STATUS"])
            d.send_signal(signal.SIGTERM)
            self.assertEqual(rx.until("STOPPING")[-1], {"STOPPING": "1"})
            self.assertTrue(rx.message()["STATUS"].startswith("stopping: "))
            self.assertEqual(d.stop(), 0)
            self.assertEqual(d.events(lambda f: f.get("event") == "warning"), [])

    def test_ready_reloading_ready_stopping_on_a_path(self):
        self.sequence(abstract=False)

    def test_ready_reloading_ready_stopping_in_the_abstract_namespace(self):
        self.sequence(abstract=True)

    def test_an_unreachable_notify_socket_only_warns(self):
        env = dict(os.environ, NOTIFY_SOCKET="/nonexistent/notify")
        with Daemon(env=env) as d:
            warning = d.wait_for(lambda f: f.get("event") == "warning")[0]["msg"]
            self.assertTrue(warning.startswith("NOTIFY_SOCKET /nonexistent/notify: cannot "
                                               "connect"), warning)
            with d.connect() as s:
                self.assertEqual(read_until_eof(s), DEFAULT_REPLY)


if __name__ == "__main__":
    main()
