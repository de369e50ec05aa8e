"""The metrics listener under a client that holds connections open, and a real scrape as
Prometheus's own tool reads it and as nullmxd(8) lists it."""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

from nullmxd_test import (BASE_CONFIG, DEFAULT_REPLY, SOURCE, Daemon, main, man_section,
                          read_until_eof)

METRICS_CONFIG = BASE_CONFIG + 'metrics = { listen = "127.0.0.1:0"; };\n'
PARTIAL = b"GET /metrics HTTP/1.1\r\nHost: nullmxd\r\n"


def metrics_port(d):
    return int(d.wait_for(lambda f: f.get("event") == "metrics_listen")[0]["port"])


def scrape(port):
    """(status, body) of GET /metrics from 127.0.0.1; a reset reads as status 0."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (ConnectionResetError, urllib.error.URLError) as e:
        return 0, str(e)


class PartialRequests(threading.Thread):
    """Keeps `count` connections from `source` open, each with a request whose header
    never ends: after the first lines it sends one more byte every 0.2 s, so it is
    never idle. A connection the daemon ends is opened again at once. `answers` records
    how each ended: its status code, "eof" (closed without an answer) or "reset"."""

    def __init__(self, port, source, count):
        super().__init__(daemon=True)
        self.port, self.source, self.count = port, source, count
        self.answers = []
        self.ready = threading.Event()
        self.done = threading.Event()

    def open(self):
        s = socket.socket()
        s.bind((self.source, 0))
        s.connect(("127.0.0.1", self.port))
        s.sendall(PARTIAL)
        s.setblocking(False)
        return s

    def ended(self, s):
        """How s ended, or None while it is open (then it gets one more byte)."""
        try:
            data = s.recv(4096)
        except BlockingIOError:
            try:
                s.send(b"X")
                return None
            except BlockingIOError:
                return None
            except OSError:
                return "reset"
        except OSError:
            return "reset"
        if not data:
            return "eof"
        return data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.1 ") else "junk"

    def run(self):
        socks = [self.open() for _ in range(self.count)]
        self.ready.set()
        while not self.done.wait(0.2):
            for i, s in enumerate(socks):
                how = self.ended(s)
                if how is not None:
                    self.answers.append(how)
                    s.close()
                    socks[i] = self.open()
        for s in socks:
            s.close()


class UnreadAnswers(PartialRequests):
    """As PartialRequests, but each connection sends a whole request, then neither
    reads its answer nor closes: past the daemon's FIN it goes on sending a byte every
    0.2 s until that is refused, which is how it sees the daemon's close."""

    def open(self):
        s = socket.socket()
        s.bind((self.source, 0))
        s.connect(("127.0.0.1", self.port))
        s.sendall(PARTIAL + b"\r\n")
        return s

    def ended(self, s):
        try:
            s.send(b"X")
        except OSError:
            return "reset"
        return None


class Share(unittest.TestCase):
    def hold_and_scrape(self, port, holder):
        """Statuses of 8 scrapes from 127.0.0.1, 0.5 s apart, while 127.0.0.2-5 each
        hold 2 connections of the holder class; and how the holders' connections ended."""
        holders = [holder(port, f"127.0.0.{i}", 2) for i in range(2, 6)]
        for h in holders:
            h.start()
        for h in holders:
            self.assertTrue(h.ready.wait(10))
        try:
            statuses = []
            for _ in range(8):
                statuses.append(scrape(port)[0])
                holders[0].done.wait(0.5)
        finally:
            for h in holders:
                h.done.set()
            for h in holders:
                h.join(10)
        return statuses, [a for h in holders for a in h.answers]

    def test_one_address_holding_partial_requests_leaves_room_for_scrapes(self):
        with Daemon(METRICS_CONFIG) as d:
            port = metrics_port(d)
            holder = PartialRequests(port, "127.0.0.2", 8)
            holder.start()
            self.assertTrue(holder.ready.wait(10))
            try:
                # Long enough for the holder's first requests to reach their deadline.
                statuses = []
                for _ in range(8):
                    statuses.append(scrape(port)[0])
                    holder.done.wait(0.5)
            finally:
                holder.done.set()
                holder.join(10)
            self.assertEqual(statuses, [200] * 8)
            # Past its share a connection is refused with 503 (or a reset, as the
            # holder's request is unread); within it, a header that does not end in
            # time gets 408. None is left hanging, none is closed without an answer.
            self.assertIn("408", holder.answers)
            self.assertLessEqual(set(holder.answers), {"408", "503", "reset"},
                                 holder.answers)
            with d.connect() as smtp:
                self.assertEqual(smtp.recv(4096), DEFAULT_REPLY)

    def test_partial_requests_from_four_addresses_leave_room_for_scrapes(self):
        # Four addresses within their share fill all 8 slots; when one request is cut
        # its holder opens another at once, so slots never stay free for long.
        with Daemon(METRICS_CONFIG) as d:
            statuses, answers = self.hold_and_scrape(metrics_port(d), PartialRequests)
            self.assertEqual(statuses, [200] * 8)
            # A request cut for a newcomer is answered 408 like one past its deadline.
            self.assertIn("408", answers)
            self.assertLessEqual(set(answers), {"408", "503", "reset"}, answers)
            with d.connect() as smtp:
                self.assertEqual(smtp.recv(4096), DEFAULT_REPLY)

    def test_answers_left_unread_from_four_addresses_leave_room_for_scrapes(self):
        with Daemon(METRICS_CONFIG) as d:
            statuses, answers = self.hold_and_scrape(metrics_port(d), UnreadAnswers)
            self.assertEqual(statuses, [200] * 8)
            self.assertIn("reset", answers)

    def test_a_silent_connection_gets_408_and_frees_its_slot(self):
        with Daemon(METRICS_CONFIG) as d:
            port = metrics_port(d)
            silent = [socket.create_connection(("127.0.0.1", port), timeout=10)
                      for _ in range(2)]
            for s in silent:
                answer = read_until_eof(s)
                self.assertTrue(answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"),
                                answer)
                s.close()
            self.assertEqual(scrape(port)[0], 200)


def accept_queue(port):
    """Connections waiting for nullmxd to accept them on 127.0.0.1:port."""
    local = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f:
            fields = line.split()
            if fields[1] == local and fields[3] == "0A":  # listening
                return int(fields[4].split(":")[1], 16)
    raise AssertionError("no listener on port %d" % port)


def connect_from(source, port, data):
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(data)
    return s


class Cut(unittest.TestCase):
    def test_a_request_that_has_arrived_is_answered_not_cut(self):
        # Five partial requests hold slots. With nullmxd stopped, a scrape sends its
        # whole request, then ten clients from fresh addresses connect with partial
        # ones: all eleven are accepted in one loop turn, before any is read. The scrape
        # and two newcomers take the free slots, the next five newcomers cut the five
        # older requests, and the eighth finds the scrape the oldest: its request,
        # already there, is read and answered then instead of being cut.
        with Daemon(METRICS_CONFIG) as d:
            port = metrics_port(d)
            held = [connect_from(f"127.0.0.{2 + i // 2}", port, PARTIAL) for i in range(5)]
            while accept_queue(port):
                time.sleep(0.05)
            d.proc.send_signal(signal.SIGSTOP)
            try:
                scraper = connect_from("127.0.0.1", port,
                                       b"GET /metrics HTTP/1.1\r\nHost: nullmxd\r\n\r\n")
                held += [connect_from(f"127.0.0.{10 + i}", port, PARTIAL) for i in range(10)]
                self.assertEqual(accept_queue(port), 11)
            finally:
                d.proc.send_signal(signal.SIGCONT)
            with scraper:
                scraper.settimeout(10)
                try:
                    answer = read_until_eof(scraper)
                except ConnectionResetError:
                    answer = b"reset"
            self.assertTrue(answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer)
            for s in held:
                s.close()


class Burst(unittest.TestCase):
    def test_a_burst_past_one_turns_accepts_leaves_it_listening(self):
        # Accepting stops for the rest of a loop turn after 16 connections; a listener
        # not watched again afterwards would leave the scrape below hanging.
        with Daemon(METRICS_CONFIG) as d:
            port = metrics_port(d)
            burst = []
            for _ in range(100):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                burst.append(s)
            deadline = time.monotonic() + 20
            for s in burst:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                try:
                    read_until_eof(s)
                except OSError:  # reset, or a SYN the full backlog dropped
                    pass
                s.close()
            self.assertEqual(scrape(port)[0], 200)


PROMTOOL = shutil.which("promtool")


def scrape_after_traffic(test):
    """A scrape after connections over IPv4 and IPv6, one of them over the rate limit,
    and a reload: every kind of counter has moved."""
    cfg = METRICS_CONFIG + "limits = { per_ip_rate = 2; };\n"
    with Daemon(cfg) as d:
        port = metrics_port(d)
        for _ in range(3):  # the third is over the rate
            s = d.connect()
            read_until_eof(s)
            s.close()
        d.connect(socket.AF_INET6).close()
        d.send_signal(signal.SIGHUP)
        d.wait_for(lambda f: f.get("event") == "reload")
        d.wait_for(lambda f: f.get("event") == "conn", count=4)
        status, body = scrape(port)
    test.assertEqual(status, 200, body)
    test.assertIn('reason="limit"', body)
    return body


# Under CI scripts/deps has installed it: a missing promtool fails there, never skips.
@unittest.skipUnless(PROMTOOL or os.environ.get("CI") == "true",
                     "promtool (package prometheus) is not installed")
class Promtool(unittest.TestCase):
    def check(self, text):
        return subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                              capture_output=True, text=True, timeout=60)

    def test_a_real_scrape_passes_promtool_check_metrics(self):
        # Its lint is live: a counter not named *_total is flagged.
        bad = self.check("# HELP x_count A counter.\n# TYPE x_count counter\nx_count 1\n")
        self.assertNotEqual(bad.returncode, 0)
        body = scrape_after_traffic(self)
        r = self.check(body)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + body)


def documented_metrics():
    """nullmxd(8)'s METRICS section: {name: (type, the text of its entry)}."""
    text = man_section("nullmxd.8", "METRICS")
    parts = re.split(r"^\.It Li (nullmxd_\w+) Pq (\w+)$", text, flags=re.M)
    return {parts[i]: (parts[i + 1], parts[i + 2]) for i in range(1, len(parts), 3)}


class Documented(unittest.TestCase):
    def test_every_series_its_labels_and_their_words_are_in_the_man_page(self):
        body = scrape_after_traffic(self)
        doc = documented_metrics()
        types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", body, re.M))
        self.assertEqual({n: doc[n][0] for n in doc}, types)
        for name, labels in re.findall(r"^(\w+)\{(.*)\} ", body, re.M):
            entry = doc[name][1]
            for key, value in re.findall(r'(\w+)="([^"]*)"', labels):
                self.assertRegex(entry, rf"\bCm {key}\b", name)
                if re.fullmatch(r"[a-z_]+", value):  # a word, not an address or version
                    self.assertRegex(entry, rf"\.Li .*\b{value}\b", f"{name} {key}={value}")

    def test_every_end_reason_is_a_documented_reason_label(self):
        with open(os.path.join(SOURCE, "include", "reason.h")) as f:
            words = re.findall(r'\[END_\w+\] = "(\w+)"', f.read())
        entry = documented_metrics()["nullmxd_connections_total"][1]
        self.assertGreater(len(words), 10)
        for word in words:
            if word != "none":  # a connection not ended yet: never counted
                self.assertRegex(entry, rf"\.Li .*\b{word}\b", word)


if __name__ == "__main__":
    main()
