"""Logging never stops the daemon: a stderr nobody reads, a slow reader, the journal's
stream (priority prefixes) and its native protocol, syslog's datagrams."""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from nullmxd_test import (BASE_CONFIG, NULLMXD, SOURCE, Daemon, hammer, main, man_section,
                          metric, parse_line, read_until_eof, run_nullmxd, settle,
                          write_config)

# Every connection logged, none refused: each one must leave a line (or a count).
CONFIG = BASE_CONFIG + """
limits = { per_ip_connections = 0; per_ip_rate = 0; };
log = { per_ip_lines = 0; max_lines_per_second = 0; };
metrics = { listen = "127.0.0.1:0"; };
"""


class GatedDaemon(Daemon):
    """A daemon whose stderr the test stops reading (gate cleared) or reads slowly."""

    def __init__(self, *args, **kwargs):
        self.gate = threading.Event()
        self.gate.set()
        self.pause = 0.0  # seconds per line read
        super().__init__(*args, **kwargs)
        self.mport = int(self.wait_for(lambda f: f.get("event") == "metrics_listen")[0]["port"])

    def on_line(self, line):
        self.gate.wait()
        if self.pause:
            time.sleep(self.pause)

    def __exit__(self, *exc):
        self.gate.set()
        self.pause = 0.0
        return super().__exit__(*exc)

    def metric(self, name):
        return metric(self.mport, name)

    def settle(self):
        settle(self.mport)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


def is_conn(f):
    return f.get("event") == "conn"


def reap(proc):
    """Kills what a failed test left running."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


class StderrNeverBlocks(unittest.TestCase):
    def test_a_pipe_nobody_reads(self):
        total = 20000
        # ASan's quarantine keeps freed memory on purpose; what is measured is nullmxd's.
        env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "")
                   + ":quarantine_size_mb=0")
        with GatedDaemon(CONFIG, env=env) as d:
            port = d.ports["127.0.0.1"]
            d.gate.clear()
            # More than the pipe and the 1 MiB queue hold: lines are being dropped.
            hammer(port, 8000)
            rss = d.rss_kib()
            hammer(port, total - 8000)
            grown = d.rss_kib() - rss
            self.assertLess(grown, 512, "RSS grew by %d KiB while lines were dropped" % grown)
            d.settle()
            dropped = d.metric("nullmxd_log_lines_dropped_total")
            self.assertGreater(dropped, 0)

            d.gate.set()
            line = d.wait_for(lambda f: f.get("event") == "log_dropped", timeout=30)[0]
            self.assertEqual(int(line["count"]), dropped)
            marker = d.connect()
            marker_port = marker.getsockname()[1]
            read_until_eof(marker)
            marker.close()
            # Every line written or counted, and the marker's after them: its client
            # port may have been used before (the server's side keeps TIME_WAIT).
            d.wait_for(is_conn, count=total - dropped + 1, timeout=30)
            events = d.events(lambda f: f["event"] in ("conn", "log_dropped"))
            self.assertEqual([f["event"] for f in events[-2:]], ["log_dropped", "conn"])
            self.assertEqual(events[-1]["client_port"], str(marker_port))
            self.assertEqual(len([f for f in events if is_conn(f)]), total - dropped + 1)
            self.assertEqual(d.metric("nullmxd_log_lines_dropped_total"), dropped)

    def test_a_slow_reader_loses_nothing(self):
        with GatedDaemon(CONFIG) as d:
            port = d.ports["127.0.0.1"]
            d.gate.clear()
            # Several times what the pipe holds: answered while nobody reads.
            hammer(port, 2000)
            d.pause = 0.002
            d.gate.set()
            hammer(port, 1000)  # while the reader works through the backlog, slowly
            d.settle()
            d.wait_for(is_conn, count=3000, timeout=60)
            d.pause = 0.0
            self.assertEqual(d.events(lambda f: f.get("event") == "log_dropped"), [])
            self.assertEqual(d.metric("nullmxd_log_lines_dropped_total"), 0)
            d.send_signal(signal.SIGUSR1)
            stats = d.wait_for(lambda f: f.get("event") == "stats")[0]
            self.assertEqual(stats["log_dropped"], "0")
            self.assertEqual(len(d.events(is_conn)), 3000)

    def test_a_reader_gone_for_good(self):
        cfg = write_config(CONFIG)
        proc = subprocess.Popen([NULLMXD, "-c", cfg], stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True)
        try:
            ports = {}
            while len(ports) < 3:
                f = parse_line(proc.stderr.readline())
                if f.get("event") in ("listen", "metrics_listen"):
                    ports[f["event"] + f["addr"]] = int(f["port"])
            proc.stderr.close()  # writes fail with EPIPE from now on
            hammer(ports["listen127.0.0.1"], 500)
            settle(ports["metrics_listen127.0.0.1"])
            # Every conn line, and nothing but them: no log_dropped line for nobody.
            self.assertEqual(metric(ports["metrics_listen127.0.0.1"],
                                    "nullmxd_log_lines_dropped_total"), 500)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10), 0)
        finally:
            reap(proc)
            os.unlink(cfg)



def read_lines(sock, lines, stop):
    """Lines from a stream socket into `lines` until EOF."""
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
        *done, buf = buf.split(b"\n")
        lines.extend(l.decode() for l in done)
    stop.set()


class JournalStream(unittest.TestCase):
    """Under systemd stderr is a stream socket to journald, named by $JOURNAL_STREAM."""

    def run_on_socket(self, journal_stream):
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        st = os.fstat(child.fileno())
        stream = f"{st.st_dev}:{st.st_ino}" if journal_stream else f"{st.st_dev}:{st.st_ino + 1}"
        cfg = write_config(BASE_CONFIG + "max_connections = 10000000;\n")
        lines, done = [], threading.Event()
        try:
            proc = subprocess.Popen([NULLMXD, "-c", cfg], stderr=child.fileno(),
                                    stdin=subprocess.DEVNULL,
                                    env=dict(os.environ, JOURNAL_STREAM=stream))
            child.close()
            reader = threading.Thread(target=read_lines, args=(parent, lines, done))
            reader.start()
            deadline = time.monotonic() + 10
            while not [l for l in lines if "event=listen addr=127.0.0.1" in l]:
                self.assertLess(time.monotonic(), deadline, lines)
                time.sleep(0.05)
            port = int(parse_line([l for l in lines if "addr=127.0.0.1" in l][0])["port"])
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                read_until_eof(s)
            while not [l for l in lines if "event=conn" in l]:
                self.assertLess(time.monotonic(), deadline, lines)
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10), 0)
            done.wait(10)
            return lines
        finally:
            parent.close()
            os.unlink(cfg)

    def test_priority_prefixes_when_stderr_is_the_journal(self):
        lines = self.run_on_socket(True)
        for want, event in (("<6>", "conn"), ("<4>", "warning"), ("<6>", "exit")):
            line = [l for l in lines if f" event={event} " in l][0]
            self.assertTrue(line.startswith(want + "ts="), line)
        self.assertTrue(all(re.match(r"<[0-7]>ts=", l) for l in lines), lines)

    def test_no_prefix_elsewhere(self):
        lines = self.run_on_socket(False)
        self.assertTrue([l for l in lines if " event=conn " in l])
        self.assertTrue(all(l.startswith("ts=") for l in lines), lines)


def journal_fields(datagram):
    """A native journal entry (systemd's Native Journal Protocol) as {field: [values]}."""
    fields, data = {}, datagram
    while data:
        name, sep, rest = data.partition(b"\n")
        if b"=" in name:
            key, _, value = name.partition(b"=")
            data = rest
        else:  # binary form: name, newline, 64-bit LE length, value, newline
            (n,) = struct.unpack("<Q", rest[:8])
            key, value = name, rest[8:8 + n]
            assert rest[8 + n:9 + n] == b"\n"
            data = rest[9 + n:]
        fields.setdefault(key.decode(), []).append(value.decode())
    return fields


class InNamespace:
    """nullmxd in a mount namespace of its own, where /run (and /dev) are tmpfs holding
    only the socket the test listens on: the host's own are never touched."""

    def __init__(self, config, where, config_dir=None, bind=True):
        self.dir = tempfile.mkdtemp()
        os.chmod(self.dir, 0o755)  # reachable after nullmxd has dropped root, as journald's is
        self.sock = None
        if bind:
            self.bind()
        self.config_path = write_config(config, config_dir)
        script = {
            "journal": 'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && '
                       'ln -s "$1/socket" /run/systemd/journal/socket',
            "syslog": 'mount -t tmpfs tmpfs /dev && ln -s "$1/socket" /dev/log',
        }[where]
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             script + ' && exec "$2" -c "$3"', "sh", self.dir, NULLMXD, self.config_path],
            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.entries = []

    def bind(self):
        """A new socket at the path, as a restarted journald or syslog daemon makes."""
        path = os.path.join(self.dir, "socket")
        if self.sock:
            self.sock.close()
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.settimeout(10)

    def receive(self, pred, count=1):
        """Entries (whole datagrams) until `count` match pred; returns the matches."""
        found = [e for e in self.entries if pred(e)]
        while len(found) < count:
            e = self.sock.recv(65536)
            self.entries.append(e)
            if pred(e):
                found.append(e)
        return found[:count]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.rc = self.proc.wait(10)
            self.stderr = self.proc.stderr.read()
        finally:
            self.proc.stderr.close()
            if self.sock:
                self.sock.close()
            shutil.rmtree(self.dir)
            os.unlink(self.config_path)


def can_unshare():
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@unittest.skipUnless(can_unshare(), "needs root for a mount namespace")
class StderrOnAFullDisk(unittest.TestCase):
    """stderr is a file on a small tmpfs, mounted in a namespace of nullmxd's own and
    reached from here through /proc/PID/root."""

    def lines(self):
        with open(self.log, errors="replace") as f:
            return f.read().splitlines()

    def wait_for(self, pred, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [parse_line(l) for l in self.lines() if pred(parse_line(l))]
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError("no such line; log:\n" + "\n".join(self.lines()))

    def test_lines_resume_with_a_count_once_there_is_room(self):
        where = tempfile.mkdtemp()
        cfg = write_config(CONFIG)
        proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs -o size=256k tmpfs "$1" && exec "$2" -c "$3" 2>>"$1/log"',
             "sh", where, NULLMXD, cfg], stdin=subprocess.DEVNULL)
        try:
            self.log = f"/proc/{proc.pid}/root{where}/log"
            deadline = time.monotonic() + 15
            while not os.path.exists(self.log) and time.monotonic() < deadline:
                time.sleep(0.05)
            port = int(self.wait_for(lambda f: f.get("event") == "listen")[0]["port"])
            mport = int(self.wait_for(lambda f: f.get("event") == "metrics_listen")[0]["port"])
            fill = f"/proc/{proc.pid}/root{where}/fill"
            with open(fill, "wb", buffering=0) as f, self.assertRaises(OSError):
                while True:
                    f.write(b"x" * 4096)
            # ENOSPC: more lines than the last page of the log holds
            hammer(port, 300)
            settle(mport)
            dropped = metric(mport, "nullmxd_log_lines_dropped_total")
            self.assertGreater(dropped, 0)

            os.unlink(fill)
            line = self.wait_for(lambda f: f.get("event") == "log_dropped")[0]
            self.assertGreaterEqual(int(line["count"]), dropped)
            self.assertEqual(int(line["count"]),
                             metric(mport, "nullmxd_log_lines_dropped_total"))
            marker = socket.create_connection(("127.0.0.1", port), timeout=10)
            marker_port = marker.getsockname()[1]
            read_until_eof(marker)
            marker.close()
            self.wait_for(lambda f: f.get("client_port") == str(marker_port))
            # whole lines only, the one cut short by the full disk finished
            lines = self.lines()
            self.assertEqual([l for l in lines if not l.startswith("ts=")
                              or l.count("ts=") != 1], [])
            events = [parse_line(l)["event"] for l in lines]
            self.assertEqual(events[-2:], ["log_dropped", "conn"])
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10), 0)
        finally:
            reap(proc)
            os.unlink(cfg)
            shutil.rmtree(where)


@unittest.skipUnless(can_unshare(), "needs root for a mount namespace")
class JournalNative(unittest.TestCase):
    CONFIG = CONFIG.replace("log = {", 'log = { target = "journal";')

    def listen_port(self, ns):
        listen = ns.receive(lambda e: b"\nNULLMXD_EVENT=listen\n" in e
                            and b"NULLMXD_ADDR=127.0.0.1\n" in e)[0]
        return int(journal_fields(listen)["NULLMXD_PORT"][0])

    def test_entries_carry_the_line_and_one_field_per_key(self):
        tmp = tempfile.mkdtemp(prefix="two\nlines")
        try:
            with InNamespace(self.CONFIG, "journal", tmp) as ns:
                start = journal_fields(ns.receive(lambda e: b"\nNULLMXD_EVENT=start\n" in e)[0])
                self.assertEqual(start["NULLMXD_CONFIG"], [ns.config_path])  # binary form
                port = self.listen_port(ns)
                with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                    client_port = s.getsockname()[1]
                    read_until_eof(s)
                entry = ns.receive(lambda e: b"\nNULLMXD_EVENT=conn\n" in e)[0]
            self.assertEqual(ns.rc, 0, ns.stderr)
        finally:
            shutil.rmtree(tmp)
        f = journal_fields(entry)
        self.assertEqual(f["PRIORITY"], ["6"])
        self.assertEqual(f["SYSLOG_IDENTIFIER"], ["nullmxd"])
        self.assertEqual(f["SYSLOG_FACILITY"], ["2"])  # mail
        message = f["MESSAGE"][0]
        self.assertTrue(message.startswith("ts=") and " event=conn client=127.0.0.1 " in message)
        keys = parse_line(message)
        self.assertEqual(keys["client_port"], str(client_port))
        self.assertEqual(keys["reason"], "eof")
        own = {k: v for k, v in f.items() if k.startswith("NULLMXD_")}
        self.assertEqual(own, {"NULLMXD_" + k.upper(): [v] for k, v in keys.items()})

    def test_a_journal_that_is_not_there_yet_or_restarts(self):
        with InNamespace(self.CONFIG, "journal", bind=False) as ns:
            # Not there at start: said on stderr, lines wait, the socket is tried again.
            self.assertIn("cannot reach /run/systemd/journal/socket", ns.proc.stderr.readline())
            ns.bind()
            port = self.listen_port(ns)
            for restart in range(2):
                with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                    client_port = s.getsockname()[1]
                    read_until_eof(s)
                ns.receive(lambda e: b"\nNULLMXD_CLIENT_PORT=%d\n" % client_port in e)
                ns.bind()  # journald restarted: a new socket at the same path
        self.assertEqual(ns.rc, 0, ns.stderr)

    def test_a_journal_that_takes_nothing(self):
        total = 6000
        with InNamespace(self.CONFIG, "journal") as ns:
            port = self.listen_port(ns)
            mport = int(journal_fields(ns.receive(
                lambda e: b"\nNULLMXD_EVENT=metrics_listen\n" in e)[0])["NULLMXD_PORT"][0])
            hammer(port, total)  # the socket is not read meanwhile
            settle(mport)
            entries = ns.receive(lambda e: b"\nNULLMXD_EVENT=log_dropped\n" in e)
            dropped = int(journal_fields(entries[0])["NULLMXD_COUNT"][0])
            self.assertEqual(journal_fields(entries[0])["PRIORITY"], ["4"])
            conns = [e for e in ns.entries if b"\nNULLMXD_EVENT=conn\n" in e]
            self.assertGreater(dropped, 0)
            self.assertEqual(len(conns) + dropped, total)
            self.assertEqual(metric(mport, "nullmxd_log_lines_dropped_total"), dropped)
        self.assertEqual(ns.rc, 0, ns.stderr)


class ConfigTarget(unittest.TestCase):
    def test_journal_is_a_target(self):
        path = write_config('log = { target = "journal"; };\n')
        try:
            r = run_nullmxd("-t", "-c", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("\nlog.target journal\n", r.stdout)
        finally:
            os.unlink(path)

    def test_an_unknown_target_names_the_choices(self):
        path = write_config('log = {\n  target = "kmsg";\n};\n')
        try:
            r = run_nullmxd("-t", "-c", path)
            self.assertEqual(r.returncode, 78)
            self.assertEqual(r.stderr, f'{path}:2: log.target must be one of "stderr", '
                             '"syslog", "journal", not "kmsg"\n')
        finally:
            os.unlink(path)


@unittest.skipUnless(can_unshare(), "needs root for a mount namespace")
class Syslog(unittest.TestCase):
    def test_datagrams_as_glibc_writes_them(self):
        config = CONFIG.replace("log = {", 'log = { target = "syslog"; facility = "local3";')
        with InNamespace(config, "syslog") as ns:
            listen = ns.receive(lambda e: b" event=listen addr=127.0.0.1 " in e)[0].decode()
            port = int(parse_line(listen)["port"])
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                read_until_eof(s)
            conn = ns.receive(lambda e: b" event=conn " in e)[0].decode()
        self.assertEqual(ns.rc, 0, ns.stderr)
        # local3 (19 << 3) + info (6); "Mmm dd hh:mm:ss", the tag and the PID.
        m = re.fullmatch(r"<158>[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d nullmxd\[(\d+)\]: "
                         r"(ts=\S+ event=conn client=127\.0\.0\.1 .*)", conn)
        self.assertTrue(m, conn)
        self.assertEqual(parse_line(m.group(2))["reason"], "eof")


def events_in_code():
    """Every event name src/ passes to log_begin() or, for warning and fatal, vmessage()."""
    found = set()
    for name in os.listdir(os.path.join(SOURCE, "src")):
        if name.endswith(".c") and not name.startswith("checkdns"):
            with open(os.path.join(SOURCE, "src", name)) as f:
                found.update(re.findall(r'\b(?:log_begin|vmessage)\([^,]+,\s*"(\w+)"', f.read()))
    return found


def events_in_man():
    """The items of the outer list of nullmxd(8)'s Events subsection."""
    text = man_section("nullmxd.8", "LOGGING")
    text = text[text.index("\n.Ss Events\n"):text.index("\n.Ss Targets\n")]
    found, depth = set(), 0
    for line in text.splitlines():
        depth += line.startswith(".Bl ") - line.startswith(".El")
        item = re.match(r"\.It Cm (\w+)", line)
        if item and depth == 1:
            found.add(item.group(1))
    return found


class Documented(unittest.TestCase):
    def test_the_man_page_and_readme_list_every_event_and_no_other(self):
        events = events_in_code()
        self.assertGreater(len(events), 10)
        self.assertEqual(events_in_man(), events)
        with open(os.path.join(SOURCE, "README.md")) as f:
            readme = f.read()
        # README shows conn and reject lines, then names the others in one sentence.
        others = re.search(r"\nOther events: (.*?) With\n", readme, re.S).group(1)
        self.assertEqual(set(re.findall(r"`([a-z_]+)", others)) | {"conn", "reject"}, events)


if __name__ == "__main__":
    main()
