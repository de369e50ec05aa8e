"""A connection's whole life against the built daemon: reply, FIN, drain, log line."""

import signal
import socket
import struct
import subprocess
import time
import unittest

from nullmxd_test import BASE_CONFIG, DEFAULT_REPLY, Daemon, main, read_until_eof


def reset(sock):
    """Closes with SO_LINGER 0, so the kernel sends RST instead of FIN; returns the port."""
    port = sock.getsockname()[1]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    return port


def wait_traced(pid, timeout=10.0):
    """Waits until a tracer (strace) has attached to pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/%d/status" % pid) as f:
            if any(l.startswith("TracerPid:") and l.split()[1] != "0" for l in f):
                return
        time.sleep(0.05)
    raise AssertionError("strace did not attach to %d" % pid)


class ConnectionTest(unittest.TestCase):
    def check_conn_line(self, d, sock_name, reason, family="127.0.0.1"):
        line = d.conn_line(sock_name[1])
        self.assertEqual(line["client"], sock_name[0])
        self.assertEqual(line["local"], family)
        self.assertEqual(line["local_port"], str(d.ports[family]))
        self.assertEqual(line["reason"], reason)
        return line

    def test_talking_first_still_gets_whole_reply_and_fin(self):
        # The client's EHLO sits unread in the server's socket unless the server drains
        # it; closing over it would send RST and can destroy the 521 (RFC 1122 4.2.2.13).
        with Daemon() as d:
            for _ in range(20):
                s = d.connect()
                s.sendall(b"EHLO client.example\r\n")
                time.sleep(0.01)
                self.assertEqual(read_until_eof(s), DEFAULT_REPLY)
                name = s.getsockname()
                s.close()
                line = self.check_conn_line(d, name, "eof")
                self.assertEqual(line["bytes_in"], "21")

    def test_ipv4_and_ipv6_exact_bytes_then_eof(self):
        with Daemon() as d:
            for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
                s = d.connect(family)
                self.assertEqual(read_until_eof(s), DEFAULT_REPLY)
                name = s.getsockname()
                s.close()
                line = self.check_conn_line(d, name, "eof", addr)
                self.assertEqual(line["bytes_out"], str(len(DEFAULT_REPLY)))
                self.assertEqual(line["bytes_in"], "0")

    def test_client_that_never_closes_is_closed_by_the_timer(self):
        with Daemon(BASE_CONFIG + "drain_timeout = 0.3;") as d:
            s = d.connect()
            self.assertEqual(read_until_eof(s), DEFAULT_REPLY)
            started = time.monotonic()
            line = self.check_conn_line(d, s.getsockname(), "timeout")
            self.assertLess(time.monotonic() - started, 2.0)
            self.assertGreaterEqual(int(line["duration_ms"]), 300)
            s.close()

    def test_shorter_drain_timeout_after_reload_holds_for_new_connections(self):
        with Daemon(BASE_CONFIG + "drain_timeout = 60;") as d:
            old = d.connect()
            self.assertEqual(old.recv(len(DEFAULT_REPLY), socket.MSG_WAITALL), DEFAULT_REPLY)
            with open(d.config_path, "w") as f:
                f.write(BASE_CONFIG + "drain_timeout = 0.3;\n")
            d.send_signal(signal.SIGHUP)
            d.wait_for(lambda f: f.get("event") == "reload" and f.get("status") == "ok")
            new = d.connect()
            started = time.monotonic()
            self.assertEqual(read_until_eof(new), DEFAULT_REPLY)
            line = self.check_conn_line(d, new.getsockname(), "timeout")
            self.assertLess(time.monotonic() - started, 2.0)
            self.assertLess(int(line["duration_ms"]), 2000)
            self.assertEqual(d.events(lambda f: f.get("event") == "conn"
                                      and f.get("client_port") == str(old.getsockname()[1])), [])
            new.close()
            old.close()

    def test_sigkill_after_load_has_logged_every_finished_connection(self):
        # Log lines are buffered and written once per loop turn: a crash loses at most
        # the turn in progress, so once the load has been idle a moment, all are out.
        # One client address: flood control and per-client limits would step in.
        config = BASE_CONFIG + """
            log = { per_ip_lines = 0; max_lines_per_second = 0; };
            limits = { per_ip_connections = 0; per_ip_rate = 0; };"""
        with Daemon(config) as d:
            ports = []
            for _ in range(200):
                s = d.connect()
                read_until_eof(s)
                ports.append(str(s.getsockname()[1]))
                s.close()
            time.sleep(1)
            d.proc.kill()
            d.proc.wait()
            d._reader.join(5)
            logged = [f["client_port"] for f in d.events(lambda f: f.get("event") == "conn")]
            self.assertEqual(sorted(logged), sorted(ports))

    def test_flooding_client_ends_at_the_byte_cap(self):
        with Daemon(BASE_CONFIG + "drain_bytes = 100;") as d:
            s = d.connect()
            s.sendall(b"x" * 1000)
            line = self.check_conn_line(d, s.getsockname(), "input_limit")
            self.assertGreater(int(line["bytes_in"]), 100)
            s.close()

    def test_reset_by_client_is_its_own_reason(self):
        # Both drains, the polled bare descriptor on IPv4 and a libuv stream behind a
        # PROXY header on IPv6; then a reset before the header is whole.
        config = """
            hostname = "mx.example.test";
            listen = ( "127.0.0.1:0",
                       { address = "[::1]:0"; proxy = "v1"; proxy_from = [ "::1" ]; } );"""
        with Daemon(config) as d:
            for family, header in ((socket.AF_INET, b""),
                                   (socket.AF_INET6, b"PROXY TCP4 192.0.2.1 192.0.2.2 1 25\r\n")):
                s = d.connect(family)
                s.sendall(header)
                self.assertEqual(read_until_eof(s), DEFAULT_REPLY)  # the drain has begun
                s.sendall(b"QUIT\r\n")
                time.sleep(0.1)
                line = d.conn_line(reset(s))
                self.assertEqual((line["reason"], line["bytes_in"]),
                                 ("reset", str(len(header) + 6)), family)
            s = d.connect(socket.AF_INET6)
            s.sendall(b"PROXY TCP4 192.0.2.1")
            time.sleep(0.1)
            line = d.conn_line(reset(s))
            self.assertEqual((line["client"], line["reason"]), ("::1", "reset"))

    def test_reset_before_the_greeting_is_a_reset_not_an_error(self):
        # With nullmxd stopped, each client connects, sends a burst and resets: the
        # kernel has accepted them, so nullmxd meets the reset at its first write, on the
        # bare descriptor (IPv4, close mode) and on a libuv stream (IPv6, rcpt mode).
        config = """
            hostname = "mx.example.test";
            listen = ( "127.0.0.1:0", { address = "[::1]:0"; mode = "rcpt"; } );"""
        burst = b"EHLO client.example\r\nMAIL FROM:<a@example.test>\r\n" * 50
        with Daemon(config) as d:
            d.send_signal(signal.SIGSTOP)
            try:
                ports = []
                for family in (socket.AF_INET, socket.AF_INET6) * 3:
                    s = d.connect(family)
                    s.sendall(burst)
                    ports.append(reset(s))
            finally:
                d.send_signal(signal.SIGCONT)
            for port in ports:
                self.assertEqual(d.conn_line(port)["reason"], "reset", port)

    def test_reset_before_the_half_close_is_a_reset_not_an_error(self):
        # The reset lands between the greeting and its shutdown(2): strace holds every
        # shutdown for two seconds while the client, which has the whole greeting, resets.
        with Daemon() as d:
            tracer = subprocess.Popen(
                ["strace", "-qq", "-p", str(d.proc.pid), "-e", "trace=shutdown",
                 "-e", "inject=shutdown:delay_enter=2000000", "-o", "/dev/null"],
                stderr=subprocess.PIPE, text=True)
            try:
                wait_traced(d.proc.pid)
                s = d.connect()
                self.assertEqual(s.recv(len(DEFAULT_REPLY), socket.MSG_WAITALL), DEFAULT_REPLY)
                self.assertEqual(d.conn_line(reset(s), timeout=10)["reason"], "reset")
            finally:
                tracer.terminate()  # detaches: the sanitizers' leak check needs ptrace
                tracer.communicate(timeout=10)

    def test_over_max_connections_is_still_answered_521(self):
        with Daemon(BASE_CONFIG + "max_connections = 2;") as d:
            held = [d.connect() for _ in range(2)]
            for s in held:
                self.assertEqual(s.recv(len(DEFAULT_REPLY), socket.MSG_WAITALL), DEFAULT_REPLY)
            s = d.connect()
            self.assertEqual(read_until_eof(s), DEFAULT_REPLY)
            self.check_conn_line(d, s.getsockname(), "overload")
            s.close()
            for s in held:
                s.close()

    def test_json_lines_parse_with_the_same_keys(self):
        config = BASE_CONFIG + 'log = { format = "json"; };'
        with Daemon(config) as d:
            s = d.connect()
            read_until_eof(s)
            name = s.getsockname()
            s.close()
            line = d.conn_line(name[1])
            self.assertEqual(set(line), {"ts", "event", "client", "client_port", "local",
                                         "local_port", "duration_ms", "bytes_in",
                                         "bytes_out", "reason"})
            self.assertRegex(line["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertTrue(all(raw.startswith("{") for raw in d.lines))


if __name__ == "__main__":
    main()
