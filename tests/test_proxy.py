"""PROXY protocol v1 and v2: HAProxy from Debian in front of nullmxd, and bad headers."""

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from nullmxd_test import Daemon, main, read_until_eof

CONFIG = """
hostname = "mx.example.test";
listen = ( { address = "127.0.0.1:0"; proxy = "any"; proxy_from = [ "127.0.0.0/29", "::1" ]; },
           { address = "127.0.0.2:0"; proxy = "v2"; proxy_from = [ "127.0.0.1" ]; mode = "quit"; },
           { address = "127.0.0.3:0"; proxy = "v1"; proxy_from = [ "127.0.0.2/32" ]; } );
"""

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def v2_header(command=0x21, family=0x11, src=("192.0.2.7", 4444), dst=("127.0.0.1", 25)):
    body = socket.inet_aton(src[0]) + socket.inet_aton(dst[0]) + struct.pack("!HH", src[1], dst[1])
    return V2_SIG + bytes([command, family]) + struct.pack("!H", len(body)) + body


class HAProxy:
    """HAProxy in the foreground with one frontend per send-proxy variant."""

    def __init__(self, backend_port):
        self.ports = {"send-proxy": free_port(), "send-proxy-v2": free_port()}
        self.dir = tempfile.mkdtemp()
        config = os.path.join(self.dir, "haproxy.cfg")
        with open(config, "w") as f:
            f.write("defaults\n  mode tcp\n  timeout connect 2s\n"
                    "  timeout client 10s\n  timeout server 10s\n")
            for i, (kind, port) in enumerate(self.ports.items()):
                f.write(f"listen l{i}\n  bind 127.0.0.1:{port}\n"
                        f"  server nullmxd 127.0.0.1:{backend_port} {kind}\n")
        self.log = open(os.path.join(self.dir, "haproxy.log"), "w")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", config], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        for port in self.ports.values():
            self._wait_listening(port)

    def _wait_listening(self, port):
        # Read from the kernel's table: a test connection would reach nullmxd as a client.
        wanted = "%08X:%04X" % (struct.unpack("=I", socket.inet_aton("127.0.0.1"))[0], port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open("/proc/net/tcp") as f:
                if any(l.split()[1] == wanted and l.split()[3] == "0A" for l in f.readlines()[1:]):
                    return
            time.sleep(0.05)
        raise AssertionError("haproxy did not listen on %d" % port)

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir)


class HAProxyTest(unittest.TestCase):
    def test_haproxy_v1_and_v2_pass_the_real_client(self):
        with Daemon(CONFIG, listeners=3) as d:
            haproxy = HAProxy(d.ports["127.0.0.1"])
            try:
                for kind, port in haproxy.ports.items():
                    s = socket.socket()
                    s.settimeout(5)
                    s.bind(("127.0.0.9", 0))
                    s.connect(("127.0.0.1", port))
                    data = read_until_eof(s)
                    self.assertTrue(data.startswith(b"521-mx.example.test "), (kind, data))
                    client_port = s.getsockname()[1]
                    s.close()
                    line = d.conn_line(client_port)
                    self.assertEqual(line["client"], "127.0.0.9", kind)
                    self.assertRegex(line["proxy"], r"^127\.0\.0\.1:\d+$")
                    self.assertEqual(line["local"], "127.0.0.1")
            finally:
                haproxy.close()


class HeaderTest(unittest.TestCase):
    def exchange(self, d, host, payload, source="127.0.0.1"):
        s = socket.socket()
        s.settimeout(5)
        s.bind((source, 0))
        s.connect((host, d.ports[host]))
        for piece in payload:
            s.sendall(piece)
            time.sleep(0.02)
        try:
            data = read_until_eof(s)
        except ConnectionResetError:  # refused headers are aborted, unread bytes and all
            data = b""
        port = s.getsockname()[1]
        s.close()
        return data, d.conn_line(port)

    def test_split_v1_header_then_the_clients_commands(self):
        with Daemon(CONFIG, listeners=3) as d:
            header = b"PROXY TCP6 2001:db8::7 ::1 40000 25\r\n"
            data, line = self.exchange(d, "127.0.0.1", [bytes([b]) for b in header])
            self.assertTrue(data.startswith(b"521-mx.example.test"))
            self.assertEqual((line["client"], line["client_port"]), ("2001:db8::7", "40000"))
            data, line = self.exchange(d, "127.0.0.2", [v2_header() + b"NOOP\r\nQUIT\r\n"])
            self.assertTrue(data.endswith(b"\r\n221 2.0.0 mx.example.test closing transmission channel\r\n"))
            self.assertEqual(data.count(b"521 5.3.2"), 2)
            self.assertEqual((line["client"], line["reason"], line["commands"]),
                             ("192.0.2.7", "quit", "2"))

    def test_local_and_unknown_keep_the_real_addresses(self):
        with Daemon(CONFIG, listeners=3) as d:
            for payload in (V2_SIG + b"\x20\x00\x00\x00", b"PROXY UNKNOWN\r\n"):
                data, line = self.exchange(d, "127.0.0.1", [payload])
                self.assertTrue(data.startswith(b"521-"), payload)
                self.assertEqual(line["client"], "127.0.0.1")
                self.assertNotIn("proxy", line)

    def test_bad_headers_get_no_greeting(self):
        bad = [b"PROXY TCP4 192.0.2.1 127.0.0.1 99999 25\r\n",
               b"PROXY TCP4 192.0.2.1 127.0.0.1 025 25\r\n",
               b"EHLO client.example\r\n",
               b"PROXY TCP4 192.0.2.1\r\n",
               v2_header(family=0x31),
               v2_header(command=0x22),
               b"\r\n\r\n\x00\r\nQUIT\x0b" + b"\x21\x11\x00\x0c" + b"\x00" * 12]
        with Daemon(CONFIG, listeners=3) as d:
            for payload in bad:
                data, line = self.exchange(d, "127.0.0.1", [payload])
                self.assertEqual((data, line["reason"]), (b"", "proxy_invalid"), payload)
            data, line = self.exchange(d, "127.0.0.2", [b"PROXY TCP4 192.0.2.1 127.0.0.1 1 25\r\n"])
            self.assertEqual((data, line["reason"]), (b"", "proxy_invalid"))
            self.assertIsNone(d.proc.poll())

    def test_untrusted_source_gets_nothing(self):
        with Daemon(CONFIG, listeners=3) as d:
            data, line = self.exchange(d, "127.0.0.3", [b"PROXY TCP4 192.0.2.1 127.0.0.3 1 25\r\n"])
            self.assertEqual((data, line["reason"], line["client"]),
                             (b"", "proxy_untrusted", "127.0.0.1"))
            data, line = self.exchange(d, "127.0.0.3", [b"PROXY TCP4 192.0.2.1 127.0.0.3 1 25\r\n"],
                                       source="127.0.0.2")
            self.assertTrue(data.startswith(b"521-"))
            self.assertEqual(line["client"], "192.0.2.1")

    def test_silent_client_times_out_without_greeting(self):
        with Daemon(CONFIG + "proxy_timeout = 3;", listeners=3) as d:
            started = time.monotonic()
            data, line = self.exchange(d, "127.0.0.1", [b"PROXY TCP4"])
            self.assertEqual((data, line["reason"]), (b"", "proxy_timeout"))
            self.assertGreaterEqual(time.monotonic() - started, 2.9)


if __name__ == "__main__":
    main()
