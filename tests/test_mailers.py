#!/usr/bin/python3
"""Real mail servers over real DNS: what senders do with the records and modes the README
recommends.

In network, mount and PID namespaces of its own (only their loopback; nothing leaves, and
every process ends with the namespace), the test starts NSD as the authoritative server of
example.test, Unbound as the resolver on 127.0.0.1:53 (a resolv.conf saying so is bind-mounted
on /etc/resolv.conf), the built nullmxd ($NULLMXD) on port 25 of three loopback addresses,
and Debian's Postfix with its own config directory and queue, no chroot. Postfix then sends
one message to each name below and the test reads its log, its queue and nullmxd's log.

Needs root: skips (exit 77) with the reason otherwise, but fails under CI=true.
"""

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

from nullmxd_test import Daemon

ZONE = "example.test"
NSD_ADDR = "127.0.0.53"
CLOSE_ADDR = "127.0.0.2"  # nullmxd, mode "close"
RCPT_ADDR = "127.0.0.3"  # nullmxd, mode "rcpt"
NULLMX_ADDR = "127.0.0.4"  # nullmxd, close; only a sender ignoring the null MX gets here
SENDER = "alice@sender.example.test"

# The zone the README's guide describes, one name per case.
ZONE_FILE = f"""$ORIGIN {ZONE}.
$TTL 300
@        IN SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 300
@        IN NS  ns.{ZONE}.
ns       IN A   {NSD_ADDR}
nullmx   IN MX  0 .
nullmx   IN A   {NULLMX_ADDR}
closed   IN A   {CLOSE_ADDR}
strict   IN A   {CLOSE_ADDR}
refused  IN A   {RCPT_ADDR}
mxname   IN MX  10 trap.{ZONE}.
trap     IN A   {RCPT_ADDR}
"""

NULLMXD_CONFIG = f"""
hostname = "nullmxd.{ZONE}";
listen = (
  {{ address = "{CLOSE_ADDR}:25"; mode = "close"; hostname = "closed.{ZONE}"; }},
  {{ address = "{RCPT_ADDR}:25"; mode = "rcpt"; hostname = "trap.{ZONE}"; }},
  {{ address = "{NULLMX_ADDR}:25"; mode = "close"; hostname = "nullmx.{ZONE}"; }}
);
"""

# Every recipient, by what the test expects of it.
NULLMX = f"user@nullmx.{ZONE}"
CLOSED = f"user@closed.{ZONE}"
STRICT = f"user@strict.{ZONE}"  # through a transport with smtp_skip_5xx_greeting = no
REFUSED = f"user@refused.{ZONE}"
MXNAME = f"user@mxname.{ZONE}"
RECIPIENTS = [NULLMX, CLOSED, STRICT, REFUSED, MXNAME]

IN_NAMESPACE = "NULLMXD_MAILERS_NAMESPACE"


def unavailable(reason):
    """Skip (77) with the reason, except under CI, which must run this suite."""
    if os.environ.get("CI") == "true":
        sys.exit(f"test_mailers cannot run under CI: {reason}")
    print(f"SKIP: {reason}")
    sys.exit(77)


def enter_namespace():
    """Re-runs this file as PID 1 of new network, mount and PID namespaces."""
    if os.geteuid() != 0:
        unavailable("needs root (network namespaces, port 25, Postfix)")
    tools = ["unshare", "ip", "mount", "nsd", "unbound", "postfix", "postqueue", "sendmail"]
    missing = [t for t in tools if not (shutil.which(t) or shutil.which(t, path="/usr/sbin"))]
    if missing:
        unavailable("not installed: " + " ".join(missing) + " (scripts/deps test)")
    env = dict(os.environ, **{IN_NAMESPACE: "1"})
    cmd = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
           sys.executable, os.path.abspath(__file__)]
    sys.exit(subprocess.run(cmd, env=env).returncode)


def run(*cmd, **kwargs):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kwargs)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    return p


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def queue_id(line):
    """The queue ID in a Postfix log line: `... postfix/smtp[123]: 4F1A2B3C: to=<...>`."""
    return line.split(": ")[1]


def wait_until(what, probe, timeout=60.0, detail=lambda: ""):
    """probe() until it returns something true; generous for a loaded machine."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{detail()}")
        time.sleep(0.2)


def dns_answer(name, server="127.0.0.1"):
    """(rcode, answer count) for an A query, or None while nothing answers."""
    query = struct.pack(">HHHHHH", 0x4d58, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    query += b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        try:
            s.sendto(query, (server, 53))
            reply = s.recv(512)
        except OSError:
            return None
    flags, _, ancount = struct.unpack(">HHH", reply[2:8])
    return flags & 0xF, ancount


class World:
    """The namespace's servers; every process started is stopped by stop()."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="nullmxd-mailers-")
        os.chmod(self.dir, 0o755)  # Postfix's daemons run as the postfix user
        self.procs = []
        self.logs = {}
        self.postfix_conf = None
        self.daemon = None
        self.stopped = False

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def spawn(self, name, cmd):
        log = open(self.path(name + ".log"), "w")
        self.logs[name] = self.path(name + ".log")
        self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL))
        log.close()

    def log(self, name):
        with open(self.logs[name], errors="replace") as f:
            return f.read()

    def network(self):
        run("ip", "link", "set", "lo", "up")
        resolv = write(self.path("resolv.conf"), "nameserver 127.0.0.1\noptions attempts:3\n")
        # /etc/resolv.conf may be a symlink: bind over whatever file it names.
        run("mount", "--bind", resolv, os.path.realpath("/etc/resolv.conf"))

    def dns(self):
        write(self.path(f"{ZONE}.zone"), ZONE_FILE)
        write(self.path("nsd.conf"), f"""server:
  ip-address: {NSD_ADDR}
  port: 53
  username: ""
  chroot: ""
  zonesdir: "{self.dir}"
  database: ""
  zonelistfile: "{self.path('zone.list')}"
  xfrdfile: "{self.path('xfrd.state')}"
  pidfile: "{self.path('nsd.pid')}"
  server-count: 1
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: "{ZONE}"
  zonefile: "{ZONE}.zone"
""")
        self.spawn("nsd", ["nsd", "-d", "-c", self.path("nsd.conf")])
        write(self.path("unbound.conf"), f"""server:
  interface: 127.0.0.1
  port: 53
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{self.dir}"
  pidfile: ""
  logfile: ""
  use-syslog: no
  num-threads: 1
  do-ip6: no
  do-not-query-localhost: no
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  # Only the test zone resolves; everything else is refused at once.
  local-zone: "." refuse
  local-zone: "{ZONE}." transparent
remote-control:
  control-enable: no
stub-zone:
  name: "{ZONE}"
  stub-addr: {NSD_ADDR}
""")
        self.spawn("unbound", ["unbound", "-d", "-c", self.path("unbound.conf")])
        # Through the resolver, so both servers and the delegation work.
        wait_until("the resolver to answer for closed.example.test",
                   lambda: dns_answer(f"closed.{ZONE}") == (0, 1),
                   detail=lambda: self.log("nsd") + self.log("unbound"))

    def nullmxd(self):
        self.daemon = Daemon(NULLMXD_CONFIG, listeners=3)

    def postfix(self):
        conf = self.postfix_conf = self.path("postfix")
        os.mkdir(conf)
        write(os.path.join(conf, "main.cf"), f"""compatibility_level = 3.6
queue_directory = {self.path('queue')}
data_directory = {self.path('data')}
maillog_file = {self.path('maillog')}
maillog_file_prefixes = {self.dir}
myhostname = sender.{ZONE}
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
smtputf8_enable = no
# Bounces to the sender are created, logged and thrown away.
transport_maps = inline:{{sender.{ZONE}=discard:, strict.{ZONE}=strict:}}
""")
        # No service runs chrooted (5th column "n"): the smtp client reads the
        # namespace's /etc/resolv.conf. No smtpd: this Postfix only sends.
        services = [
            ("pickup", "unix", "n", "n", "60", "1", "pickup"),
            ("cleanup", "unix", "n", "n", "-", "0", "cleanup"),
            ("qmgr", "unix", "n", "n", "300", "1", "qmgr"),
            ("rewrite", "unix", "-", "n", "-", "-", "trivial-rewrite"),
            ("bounce", "unix", "-", "n", "-", "0", "bounce"),
            ("defer", "unix", "-", "n", "-", "0", "bounce"),
            ("trace", "unix", "-", "n", "-", "0", "bounce"),
            ("verify", "unix", "-", "n", "-", "1", "verify"),
            ("flush", "unix", "n", "n", "1000?", "0", "flush"),
            ("proxymap", "unix", "-", "n", "-", "-", "proxymap"),
            ("showq", "unix", "n", "n", "-", "-", "showq"),
            ("error", "unix", "-", "n", "-", "-", "error"),
            ("retry", "unix", "-", "n", "-", "-", "error"),
            ("discard", "unix", "-", "n", "-", "-", "discard"),
            ("anvil", "unix", "-", "n", "-", "1", "anvil"),
            ("scache", "unix", "-", "n", "-", "1", "scache"),
            ("postlog", "unix-dgram", "n", "n", "-", "1", "postlogd"),
            ("smtp", "unix", "-", "n", "-", "-", "smtp"),
            ("strict", "unix", "-", "n", "-", "-", "smtp -o smtp_skip_5xx_greeting=no"),
        ]
        write(os.path.join(conf, "master.cf"), "".join(
            f"{name} {kind} {private} - {chroot} {wake} {limit} {command}\n"
            for name, kind, private, chroot, wake, limit, command in services))
        os.mkdir(self.path("queue"), 0o755)
        run("postfix", "-c", conf, "check")
        run("postfix", "-c", conf, "start")

    def send(self, recipient):
        message = (f"From: <{SENDER}>\nTo: <{recipient}>\nSubject: nullmxd test\n\n"
                   "Where does this go?\n")
        run("sendmail", "-C", self.postfix_conf, "-f", SENDER, "-i", "--", recipient,
            input=message)

    def maillog(self):
        try:
            with open(self.path("maillog"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def delivery(self, recipient):
        """Postfix's log line with the verdict on recipient (sent, bounced, deferred)."""
        def probe():
            for line in self.maillog().splitlines():
                if f"to=<{recipient}>" in line and "status=" in line:
                    return line
            return None
        return wait_until(f"Postfix's verdict on {recipient}", probe,
                          detail=lambda: self.maillog() + self.diagnostics())

    def bounce_notices(self, count):
        """The queue IDs Postfix sent a non-delivery notice for, once there are count."""
        ids = {queue_id(line) for line in self.maillog().splitlines()
               if "sender non-delivery notification" in line}
        return ids if len(ids) >= count else None

    def queue(self):
        """The messages still queued, as `postqueue -j` lists them."""
        out = run("postqueue", "-c", self.postfix_conf, "-j").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def diagnostics(self):
        return "".join(f"--- {name}\n{self.log(name)}" for name in self.logs)

    def stop(self):
        """Postfix, nullmxd (which must exit 0 with a clean log), the DNS servers."""
        if self.stopped:
            return
        self.stopped = True
        errors = []
        if self.postfix_conf:
            subprocess.run(["postfix", "-c", self.postfix_conf, "stop"],
                           capture_output=True, timeout=60)
        if self.daemon:
            try:
                self.daemon.__exit__(None, None, None)
            except AssertionError as e:
                errors.append(str(e))
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise AssertionError("\n".join(errors))


world = None


def setUpModule():
    """Every message is sent and every verdict is in before any test looks at them."""
    global world
    world = World()
    try:
        world.network()
        world.dns()
        world.nullmxd()
        world.postfix()
        for recipient in RECIPIENTS:
            world.send(recipient)
        world.verdicts = {r: world.delivery(r) for r in RECIPIENTS}
        bounced = [r for r in RECIPIENTS if "status=bounced" in world.verdicts[r]]
        world.notices = wait_until("a bounce to the sender for each bounced message",
                                   lambda: world.bounce_notices(len(bounced)),
                                   detail=world.maillog)
        world.deferred = world.queue()
        # Stopping nullmxd writes out every line it still held.
        world.stop()
    except BaseException:
        print(world.maillog() + world.diagnostics(), file=sys.stderr)
        if world.daemon:
            print("--- nullmxd\n" + "\n".join(world.daemon.lines), file=sys.stderr)
        world.stop()
        raise


def nullmxd_events(**fields):
    """nullmxd's parsed log lines with all these field values."""
    return world.daemon.events(lambda f: all(f.get(k) == v for k, v in fields.items()))


class BounceCase(unittest.TestCase):
    def assert_bounced(self, recipient, dsn):
        line = world.verdicts[recipient]
        self.assertIn("status=bounced", line)
        self.assertIn(f"dsn={dsn}", line)
        self.assertIn(queue_id(line), world.notices, "the sender got no bounce")
        return line


class NullMxTest(BounceCase):
    """RFC 7505: a name with `MX 0 .` is refused by the sender itself."""

    def test_bounced_without_connecting(self):
        line = self.assert_bounced(NULLMX, "5.1.0")
        self.assertIn("nullMX", line)
        self.assertIn("relay=none", line)
        # The name's A record leads to a nullmxd listener, which saw no one.
        self.assertEqual(nullmxd_events(event="conn", local=NULLMX_ADDR), [])


class CloseModeTest(BounceCase):
    """An A-only name (implicit MX, RFC 5321 §5.1) whose address answers 521."""

    def test_postfix_defaults_defer_with_the_521_text(self):
        line = world.verdicts[CLOSED]
        self.assertIn("status=deferred", line)
        self.assertIn("dsn=4.3.2", line)
        self.assertIn(f"relay=closed.{ZONE}[{CLOSE_ADDR}]:25", line)
        self.assertIn(f"refused to talk to me: 521-closed.{ZONE} does not accept mail"
                      f" 521 5.3.2 closed.{ZONE} does not accept mail", line)
        queued = [m for m in world.deferred
                  if [r["address"] for r in m["recipients"]] == [CLOSED]]
        self.assertEqual(len(queued), 1, world.deferred)
        self.assertEqual(queued[0]["queue_name"], "deferred")
        self.assertIn("521 5.3.2", queued[0]["recipients"][0]["delay_reason"])

    def test_skip_5xx_greeting_no_bounces(self):
        line = self.assert_bounced(STRICT, "5.3.2")
        self.assertIn(f"521 5.3.2 closed.{ZONE} does not accept mail", line)

    def test_nullmxd_logged_each_connection(self):
        # One from the default transport, one from the strict one; no retry yet.
        conns = nullmxd_events(event="conn", local=CLOSE_ADDR, local_port="25")
        self.assertEqual(len(conns), 2, conns)
        self.assertEqual({c["client"] for c in conns}, {"127.0.0.1"})

    def test_only_bounces_left_the_queue(self):
        self.assertEqual([[r["address"] for r in m["recipients"]] for m in world.deferred],
                         [[CLOSED]])


class RcptModeTest(BounceCase):
    """nullmxd in rcpt mode greets 220 and refuses every RCPT TO with 550 5.1.2."""

    def assert_refused(self, recipient, relay):
        line = self.assert_bounced(recipient, "5.1.2")
        self.assertIn(f"relay={relay}[{RCPT_ADDR}]:25", line)
        self.assertIn(f"550 5.1.2 trap.{ZONE} does not accept mail"
                      " (in reply to RCPT TO command)", line)
        # nullmxd's own record of each refused RCPT (from=, to=) is asserted here.

    def test_a_only_name_bounces(self):
        self.assert_refused(REFUSED, f"refused.{ZONE}")

    def test_mx_naming_the_rcpt_host_bounces(self):
        self.assert_refused(MXNAME, f"trap.{ZONE}")

    def test_nullmxd_logged_each_session(self):
        # Postfix ends the session itself (RSET, QUIT) after the refusal.
        conns = nullmxd_events(event="conn", local=RCPT_ADDR)
        self.assertEqual([c["reason"] for c in conns], ["quit", "quit"], conns)


if __name__ == "__main__":
    if os.environ.get(IN_NAMESPACE) != "1":
        enter_namespace()
    unittest.main(verbosity=2)
