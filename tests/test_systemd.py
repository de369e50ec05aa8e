"""The Debian package under a booted systemd: start, reload, stop, socket activation,
the journal and the sandbox, checked with systemctl and journalctl in a Debian 12
container (tests/booted.py).

scripts/package builds the .deb; it is installed with dpkg in the booted tree as an
operator would. Each test class puts the units in the state it needs first, so a class
(or a check in one) can be added without minding the others.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import booted
from nullmxd_test import hammer, metric, read_until_eof, settle

SOURCE_DIR = os.environ["SOURCE_DIR"]
BUILD_DIR = os.environ["BUILD_DIR"]
CONF = "/etc/nullmxd/nullmxd.conf"
DEB_DIR = "/run/nullmxd-deb"  # the .deb, bound read-only into the container
CAP_NET_BIND_SERVICE = 1 << 10
EXPOSURE_MAX = 1.5
# A stop cuts held drains at one second; well above that, well below drain_timeout.
STOP_MAX_S = 5.0
# drain_timeout far above STOP_MAX_S: a stop that waited for the drain would show.
CONFIG = """hostname = "mx.booted.test";
reply = [ "5.3.2 %h {text}" ];
drain_timeout = 60;
"""

machine = None
deb = None
timings = {}
after_install = {}  # each unit's ActiveState right after dpkg -i
UNITS = ["nullmxd.service", "nullmxd.socket", "nullmxd-activated.service"]
METRICS_PORT = 9325
# While journald is stopped, connections come in batches of this many until nullmxd
# drops lines, and at most STALL_MAX in all: PID 1 gives the stderr stream a 16 MiB
# socket buffer, which holds about 70,000 conn lines before nullmxd's 1 MiB queue
# starts to fill; the journal target's socket holds a few hundred datagrams.
STALL_BATCH = 2000
STALL_MAX = 200000
JOURNALD_DROPIN = "/etc/systemd/journald.conf.d/no-rate-limit.conf"


def config(text, extra=""):
    """The test config, its reply ending in text; extra: more lines (log = {...})."""
    return CONFIG.format(text=text) + extra


def expected_reply(text):
    return f"521 5.3.2 mx.booted.test {text}\r\n".encode()


def smtp_reply(host="127.0.0.1"):
    """What port 25 of the container sends until its FIN, and our local port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect((host, 25))
        return read_until_eof(s), s.getsockname()[1]


def wait_reply(expected, timeout=10):
    """Connects until the reply is the expected one (a reload on systemd 252 may
    return before nullmxd applied it); returns the last reply seen."""
    deadline = time.monotonic() + timeout
    while True:
        reply, _ = smtp_reply()
        if reply == expected or time.monotonic() > deadline:
            return reply
        time.sleep(0.1)


def capabilities(pid):
    """The capability sets of a process in the container, as ints."""
    status = machine.run("cat", f"/proc/{pid}/status").stdout
    return {k: int(v, 16) for k, v in re.findall(r"^(Cap\w+):\s+([0-9a-f]+)$", status, re.M)}


def uids(pid):
    status = machine.run("cat", f"/proc/{pid}/status").stdout
    return [int(u) for u in re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()]


def nullmxd_processes():
    """PIDs of nullmxd processes in the container."""
    out = machine.run("sh", "-c", "grep -lx nullmxd /proc/[0-9]*/comm || true").stdout
    return [p.split("/")[2] for p in out.split()]


def start_fresh(unit="nullmxd.service", text="first reply", extra=""):
    """Every unit stopped, then unit started with config(text, extra)."""
    # Stopped first: Conflicts= has no ordering, so the socket could be bound while
    # nullmxd.service still holds port 25.
    machine.systemctl("stop", *UNITS)
    # Tests start the units more often than StartLimitBurst= allows in a row.
    machine.systemctl("reset-failed", *UNITS)
    machine.write(CONF, config(text, extra))
    machine.systemctl("start", unit)


def prepare():
    """Builds the .deb and the tree before any test runs; skips (exit 77) where this
    machine cannot, except under CI."""
    global deb
    reason = booted.why_not()
    if reason:
        booted.skip_or_fail(reason)
    out = tempfile.mkdtemp()
    start = time.monotonic()
    r = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "package"), out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(out)
        raise AssertionError(f"scripts/package failed:\n{r.stdout}{r.stderr}")
    deb = r.stdout.strip().splitlines()[-1]
    timings["package"] = time.monotonic() - start
    tree = os.path.join(BUILD_DIR, "systemd-tree")
    try:
        built = booted.ensure_tree(tree, booted.deb_depends(deb))
    except booted.Unavailable as e:
        shutil.rmtree(out)
        booted.skip_or_fail(str(e))
    timings["tree " + ("cached" if built is None else "built")] = built or 0.0


def setUpModule():
    global machine
    machine = booted.Machine(os.path.join(BUILD_DIR, "systemd-tree"),
                             os.path.join(BUILD_DIR, "meson-logs", "systemd-console.log"),
                             binds=[(os.path.dirname(deb), DEB_DIR)])
    try:
        start = time.monotonic()
        machine.boot()
        timings["boot"] = time.monotonic() - start
        machine.run("dpkg", "-i", f"{DEB_DIR}/{os.path.basename(deb)}")
        after_install.update({u: machine.show(u, "ActiveState")["ActiveState"]
                              for u in UNITS})
        machine.enter_network()
    except BaseException:
        # unittest skips tearDownModule when this fails.
        tearDownModule()
        raise
    print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))


def tearDownModule():
    if machine:
        machine.power_off()
    shutil.rmtree(os.path.dirname(deb), ignore_errors=True)


class PackageInstallTest(unittest.TestCase):
    def test_install_enabled_and_started_the_plain_service_only(self):
        self.assertEqual(after_install, {"nullmxd.service": "active",
                                         "nullmxd.socket": "inactive",
                                         "nullmxd-activated.service": "inactive"})
        self.assertEqual(machine.systemctl("is-enabled", "nullmxd.service").stdout.strip(),
                         "enabled")
        r = machine.systemctl("is-enabled", "nullmxd.socket", check=False)
        self.assertEqual(r.stdout.strip(), "disabled")


class StartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # At debug level PID 1 logs each notification it gets and each job it ends.
        machine.run("systemd-analyze", "log-level", "debug")
        cursor = machine.cursor()
        try:
            start_fresh()
        finally:
            machine.run("systemd-analyze", "log-level", "info")
        cls.pid1 = [str(e["MESSAGE"]) for e in machine.journal("_PID=1", after=cursor)]
        cls.props = machine.show("nullmxd.service", "Type", "ActiveState", "SubState",
                                 "MainPID", "DynamicUser", "StatusText")

    def index(self, pattern):
        found = [i for i, m in enumerate(self.pid1) if re.search(pattern, m)]
        self.assertTrue(found, f"PID 1 never logged {pattern!r}:\n" + "\n".join(self.pid1))
        return found[-1]

    def test_start_returns_after_ready(self):
        # systemctl start waits for its job; the job ended on nullmxd's READY=1.
        ready = self.index(r"^nullmxd\.service: Got notification message from PID "
                           rf"{self.props['MainPID']} \(READY=1\)")
        running = self.index(r"^nullmxd\.service: Changed start -> running$")
        done = self.index(r"^nullmxd\.service: Job \d+ nullmxd\.service/start finished, "
                          r"result=done$")
        self.assertLess(ready, running)
        self.assertLess(running, done)
        self.assertEqual(self.props["Type"], "notify")
        self.assertEqual((self.props["ActiveState"], self.props["SubState"]),
                         ("active", "running"))
        self.assertRegex(self.props["StatusText"], r"^\d+ open, \d+ accepted, 2 listeners$")
        reply, _ = smtp_reply()
        self.assertEqual(reply, expected_reply("first reply"))

    def test_runs_as_a_dynamic_user_with_only_the_bind_capability(self):
        pid = self.props["MainPID"]
        self.assertEqual(self.props["DynamicUser"], "yes")
        ids = uids(pid)
        self.assertEqual(len(set(ids)), 1, ids)
        # systemd's range for dynamic users (systemd.exec(5)).
        self.assertTrue(61184 <= ids[0] <= 65519, ids)
        caps = capabilities(pid)
        self.assertEqual(caps["CapEff"], CAP_NET_BIND_SERVICE, caps)
        self.assertEqual(caps["CapBnd"], CAP_NET_BIND_SERVICE, caps)
        for name, value in caps.items():
            self.assertEqual(value & ~CAP_NET_BIND_SERVICE, 0, f"{name} {value:x}")

    def test_status_shows_the_status_text(self):
        out = machine.systemctl("status", "nullmxd.service").stdout
        self.assertRegex(out, r'Status: "\d+ open, \d+ accepted, 2 listeners"')


class ConnectionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        start_fresh()

    def test_v4_and_v6_get_the_521_and_the_journal_has_their_lines(self):
        for host in ["127.0.0.1", "::1"]:
            with self.subTest(host=host):
                reply, port = smtp_reply(host)
                self.assertEqual(reply, expected_reply("first reply"))
                entry = machine.wait_journal(
                    lambda e: f"event=conn client={host} client_port={port} " in e["MESSAGE"],
                    unit="nullmxd.service")
                self.assertIn(" reason=eof", entry["MESSAGE"])
                self.assertEqual(entry["SYSLOG_IDENTIFIER"], "nullmxd")


def log_everything(target):
    """Config lines: the log target, and every connection logged, none refused, so that
    each leaves a line or a count; metrics on."""
    return (f'log = {{ target = "{target}"; per_ip_lines = 0; max_lines_per_second = 0; }};\n'
            "limits = { per_ip_connections = 0; per_ip_rate = 0; };\n"
            f'metrics = {{ listen = "127.0.0.1:{METRICS_PORT}"; }};\n')


class JournalTest(unittest.TestCase):
    """Each log target as the journal files it, and a stopped journald."""

    def test_stderr_lines_carry_their_priority(self):
        cursor = machine.cursor()
        # A warning the daemon logs honestly: a cap above what LimitNOFILE= allows.
        start_fresh(extra="max_connections = 10000000;\n")
        pid = machine.show("nullmxd.service", "MainPID")["MainPID"]
        # Not LimitNOFILE=: nspawn's own limit may be lower, and caps the unit's.
        limits = machine.run("cat", f"/proc/{pid}/limits").stdout
        nofile = int(re.search(r"^Max open files +(\d+)", limits, re.M).group(1))
        _, port = smtp_reply()
        conn = machine.wait_journal(
            lambda e: f"event=conn client=127.0.0.1 client_port={port} " in e["MESSAGE"],
            unit="nullmxd.service", after=cursor)
        self.assertEqual(conn["PRIORITY"], "6")
        self.assertEqual(conn["_TRANSPORT"], "stdout")
        # journald took the "<6>" as the priority, not as text.
        self.assertTrue(conn["MESSAGE"].startswith("ts="), conn["MESSAGE"])
        # The stream keeps its order: the start's warning is in before the conn line.
        warnings = {str(e["MESSAGE"]): e["PRIORITY"] for e in
                    machine.journal("-p", "warning", unit="nullmxd.service", after=cursor)}
        self.assertEqual([m for m in warnings if " event=conn " in m], [])
        cap = nofile - 32  # the descriptors nullmxd keeps for itself
        self.assertEqual([p for m, p in warnings.items() if " event=warning " in m and
                          f"max_connections 10000000 is more than the open-file limit "
                          f"allows; using {cap}" in m], ["4"], warnings)

    def test_journal_target_fields_in_both_services(self):
        for unit, start in [("nullmxd.service", "nullmxd.service"),
                            ("nullmxd-activated.service", "nullmxd.socket")]:
            with self.subTest(unit=unit):
                cursor = machine.cursor()
                start_fresh(start, extra='log = { target = "journal"; };\n')
                _, port = smtp_reply()
                entry = machine.wait_journal(
                    lambda e: True, "NULLMXD_CLIENT=127.0.0.1", "NULLMXD_EVENT=conn",
                    f"NULLMXD_CLIENT_PORT={port}", unit=unit, after=cursor)
                self.assertEqual(
                    {k: entry.get(k) for k in ["_SYSTEMD_UNIT", "_TRANSPORT", "PRIORITY",
                                               "SYSLOG_IDENTIFIER", "NULLMXD_REASON"]},
                    {"_SYSTEMD_UNIT": unit, "_TRANSPORT": "journal", "PRIORITY": "6",
                     "SYSLOG_IDENTIFIER": "nullmxd", "NULLMXD_REASON": "eof"})
                self.assertRegex(entry["MESSAGE"], rf"^ts=\S+ event=conn client=127\.0\.0\.1 "
                                 rf"client_port={port} .* reason=eof$")
                # The activated service's sandbox: a user namespace of its own.
                if unit == "nullmxd-activated.service":
                    self.assertEqual(machine.show(unit, "PrivateUsers")["PrivateUsers"], "yes")
        machine.systemctl("stop", "nullmxd.socket", "nullmxd-activated.service")

    def test_syslog_target_reaches_the_journal_despite_private_devices(self):
        cursor = machine.cursor()
        start_fresh(extra='log = { target = "syslog"; };\n')
        self.assertEqual(machine.show("nullmxd.service", "PrivateDevices")["PrivateDevices"],
                         "yes")
        _, port = smtp_reply()
        entry = machine.wait_journal(
            lambda e: f"event=conn client=127.0.0.1 client_port={port} " in e["MESSAGE"],
            "SYSLOG_IDENTIFIER=nullmxd", unit="nullmxd.service", after=cursor)
        self.assertEqual((entry["_TRANSPORT"], entry["PRIORITY"], entry["SYSLOG_FACILITY"]),
                         ("syslog", "6", "2"))  # facility mail

    def test_a_stopped_journald_stops_no_client(self):
        # journald's rate limit would drop lines too: off, so all it lacks is ours. Not
        # with the unit's LogRateLimitIntervalSec=, which reaches journald through a
        # cgroup xattr that cgroup v1 (this container on some hosts) does not keep.
        machine.run("mkdir", "-p", os.path.dirname(JOURNALD_DROPIN))
        machine.write(JOURNALD_DROPIN, "[Journal]\nRateLimitIntervalSec=0\n")
        self.addCleanup(machine.systemctl, "restart", "systemd-journald.service")
        self.addCleanup(machine.run, "rm", "-f", JOURNALD_DROPIN)
        machine.systemctl("restart", "systemd-journald.service")
        for target in ["stderr", "journal"]:
            with self.subTest(target=target):
                self.stall_journald(target)

    def stall_journald(self, target):
        start_fresh(extra=log_everything(target))
        journald = machine.show("systemd-journald.service", "MainPID")["MainPID"]
        # This process's lines alone, whatever an earlier one still has queued.
        this = "_PID=" + machine.show("nullmxd.service", "MainPID")["MainPID"]
        cursor = machine.cursor()
        machine.run("sh", "-c", 'kill -STOP "$1"', "sh", journald)
        try:
            total, dropped, start = 0, 0, time.monotonic()
            while dropped == 0 and total < STALL_MAX:
                hammer(25, STALL_BATCH)  # every one must get the 521
                total += STALL_BATCH
                settle(METRICS_PORT)  # every connection ended: logged or dropped
                dropped = metric(METRICS_PORT, "nullmxd_log_lines_dropped_total")
            took = time.monotonic() - start
        finally:
            # Whatever failed: the rest of the suite needs a journald that runs.
            machine.run("sh", "-c", 'kill -CONT "$1"', "sh", journald)
        print(f"{target}: {total} connections with journald stopped, in {took:.1f} s; "
              f"{dropped} lines dropped")
        self.assertGreater(dropped, 0)
        report = machine.wait_journal(lambda e: " event=log_dropped " in e["MESSAGE"],
                                      "-p", "warning", this, after=cursor, timeout=60)
        self.assertEqual(report["PRIORITY"], "4")
        count = int(re.search(r" count=(\d+)$", report["MESSAGE"]).group(1))
        self.assertEqual(count, dropped)
        # A last connection: once its line is in, every earlier one is.
        _, port = smtp_reply()
        machine.wait_journal(lambda e: True, "--grep", f" client_port={port} ", this,
                             after=cursor, timeout=60)
        entries = machine.journal(this, after=cursor, fields=["MESSAGE"])
        events = [m.group(1) for m in (re.match(r"ts=\S+ event=(\w+)", str(e.get("MESSAGE")))
                                       for e in entries) if m]
        self.assertEqual(events.count("log_dropped"), 1)
        # The last connection's line is one more.
        self.assertEqual(events.count("conn") - 1 + count, total)
        self.assertEqual(metric(METRICS_PORT, "nullmxd_log_lines_dropped_total"), dropped)
        start = time.monotonic()
        machine.systemctl("stop", "nullmxd.service")
        took = time.monotonic() - start
        print(f"{target}: stop after the stall: {took:.2f} s")
        self.assertLess(took, STOP_MAX_S)
        self.assertEqual(machine.show("nullmxd.service", "Result"), {"Result": "success"})


class ReloadTest(unittest.TestCase):
    def setUp(self):
        start_fresh()
        self.pid = machine.show("nullmxd.service", "MainPID")["MainPID"]

    def wait_active(self, timeout=10):
        """On systemd 252 the unit may show "reloading" a moment after the reload job."""
        deadline = time.monotonic() + timeout
        while True:
            props = machine.show("nullmxd.service", "ActiveState", "SubState", "MainPID")
            if props["ActiveState"] == "active" or time.monotonic() > deadline:
                return props
            time.sleep(0.1)

    def test_reload_serves_the_new_reply_in_the_same_process(self):
        machine.write(CONF, config("second reply"))
        machine.systemctl("reload", "nullmxd.service")
        self.assertEqual(wait_reply(expected_reply("second reply")),
                         expected_reply("second reply"))
        self.assertEqual(self.wait_active(),
                         {"ActiveState": "active", "SubState": "running", "MainPID": self.pid})

    def test_reload_of_a_broken_file_fails_and_the_old_reply_stays(self):
        cursor = machine.cursor()
        machine.write(CONF, 'reply = [ "unterminated"\n')
        r = machine.systemctl("reload", "nullmxd.service", check=False)
        self.assertNotEqual(r.returncode, 0, "systemctl reload accepted a broken file")
        # The check's file:line error, for the operator.
        machine.wait_journal(lambda e: f"{CONF}:2: syntax error" in e.get("MESSAGE", ""),
                             unit="nullmxd.service", after=cursor)
        reply, _ = smtp_reply()
        self.assertEqual(reply, expected_reply("first reply"))
        self.assertEqual(self.wait_active(),
                         {"ActiveState": "active", "SubState": "running", "MainPID": self.pid})


class StopTest(unittest.TestCase):
    def test_stop_with_a_connection_held_open_is_prompt_and_clean(self):
        start_fresh()
        cursor = machine.cursor()
        with socket.create_connection(("127.0.0.1", 25), timeout=10) as held:
            # Read the reply and the FIN, and keep the socket open: nullmxd drains it.
            self.assertEqual(read_until_eof(held), expected_reply("first reply"))
            port = held.getsockname()[1]
            start = time.monotonic()
            machine.systemctl("stop", "nullmxd.service")
            took = time.monotonic() - start
        print(f"stop with a held connection: {took:.2f} s")
        self.assertLess(took, STOP_MAX_S)
        props = machine.show("nullmxd.service", "ActiveState", "Result", "ExecMainCode",
                             "ExecMainStatus")
        # ExecMainCode 1 is CLD_EXITED: an exit, not a signal.
        self.assertEqual(props, {"ActiveState": "inactive", "Result": "success",
                                 "ExecMainCode": "1", "ExecMainStatus": "0"})
        machine.wait_journal(
            lambda e: f"client_port={port} " in e["MESSAGE"]
            and " reason=shutdown" in e["MESSAGE"], unit="nullmxd.service", after=cursor)
        for e in machine.journal(unit="nullmxd.service", after=cursor):
            self.assertNotRegex(str(e.get("MESSAGE")), r"SIGKILL|[Kk]illing|timed out")


class SocketActivationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        start_fresh("nullmxd.socket", "activated reply")

    @classmethod
    def tearDownClass(cls):
        machine.systemctl("stop", "nullmxd.socket", "nullmxd-activated.service")

    def test_nothing_runs_until_a_connection_which_is_answered(self):
        self.assertEqual(machine.show("nullmxd.service", "ActiveState")["ActiveState"],
                         "inactive")
        self.assertEqual(machine.show("nullmxd-activated.service", "ActiveState"),
                         {"ActiveState": "inactive"})
        self.assertEqual(nullmxd_processes(), [])
        reply, port = smtp_reply("::1")
        self.assertEqual(reply, expected_reply("activated reply"))
        props = machine.show("nullmxd-activated.service", "ActiveState", "MainPID")
        self.assertEqual(props["ActiveState"], "active")
        self.assertEqual(nullmxd_processes(), [props["MainPID"]])
        machine.wait_journal(lambda e: f"event=conn client=::1 client_port={port} "
                             in e["MESSAGE"], unit="nullmxd-activated.service")
        reply, _ = smtp_reply("127.0.0.1")
        self.assertEqual(reply, expected_reply("activated reply"))

    def test_the_activated_service_holds_no_capability(self):
        smtp_reply()
        pid = machine.show("nullmxd-activated.service", "MainPID")["MainPID"]
        self.assertNotEqual(pid, "0")
        caps = capabilities(pid)
        self.assertEqual(set(caps.values()), {0}, caps)


class SecurityTest(unittest.TestCase):
    def test_systemd_analyze_security_rates_both_services_ok(self):
        for unit in ["nullmxd.service", "nullmxd-activated.service"]:
            r = machine.run("systemd-analyze", "security", "--no-pager", unit)
            m = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+\.\d+) (\w+)",
                          r.stdout)
            self.assertIsNotNone(m, r.stdout + r.stderr)
            print(f"{unit}: exposure {m.group(1)} {m.group(2)}")
            self.assertLessEqual(float(m.group(1)), EXPOSURE_MAX, r.stdout)


if __name__ == "__main__":
    prepare()
    unittest.main(verbosity=2)
