#!/usr/bin/python3
"""Real mail servers over real DNS: what senders do with the records and modes the README
recommends.

In network, mount and PID namespaces of its own (only their loopback; nothing leaves, and
every process ends with the namespace), the test starts NSD as the authoritative server of
example.test, Unbound as the resolver on 127.0.0.1:53 (a resolv.conf saying so is bind-mounted
on /etc/resolv.conf), the built nullmxd ($NULLMXD) on port 25 of three loopback addresses,
Debian's Postfix with its own config directory and queue, no chroot, and Exim run from its
unpacked .deb (it conflicts with Postfix; scripts/deps downloads it). Each sender sends one
message to each name below, from an address of its own, and the test reads its log, its
queue and nullmxd's log.

Needs root: skips (exit 77) with the reason otherwise, but fails under CI=true.
"""

import glob
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

from dnsservers import Nsd, Unbound, enter_namespace, find, unavailable
from nullmxd_test import Daemon

ZONE = "example.test"
NSD_ADDR = "127.0.0.53"
CLOSE_ADDR = "127.0.0.2"  # nullmxd, mode "close"
RCPT_ADDR = "127.0.0.3"  # nullmxd, mode "rcpt"
NULLMX_ADDR = "127.0.0.4"  # nullmxd, close; only a sender ignoring the null MX gets here
POSTFIX_ADDR = "127.0.0.8"  # where each sender connects from
EXIM_ADDR = "127.0.0.9"
SENDER = f"alice@sender.{ZONE}"

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
REPLY_521 = (f"521-closed.{ZONE} does not accept mail"
             f" 521 5.3.2 closed.{ZONE} does not accept mail")
REPLY_550 = f"550 5.1.2 trap.{ZONE} does not accept mail"

# Every recipient, by what the test expects of it.
NULLMX = f"user@nullmx.{ZONE}"
CLOSED = f"user@closed.{ZONE}"
STRICT = f"user@strict.{ZONE}"  # Postfix only: a transport with smtp_skip_5xx_greeting = no
REFUSED = f"user@refused.{ZONE}"
MXNAME = f"user@mxname.{ZONE}"

IN_NAMESPACE = "NULLMXD_MAILERS_NAMESPACE"
EXIM_DEBS = "/var/cache/apt/archives/exim4-daemon-light_*.deb"


def check_tools():
    """Everything this test runs is installed, or it is unavailable."""
    if os.geteuid() != 0:
        unavailable("needs root (network namespaces, port 25, Postfix)")
    tools = ["unshare", "ip", "mount", "nsd", "unbound", "postfix", "postqueue", "sendmail",
             "dpkg-deb"]
    missing = [t for t in tools if not find(t)]
    if not glob.glob(EXIM_DEBS):
        missing.append(EXIM_DEBS)
    if missing:
        unavailable("not installed: " + " ".join(missing) + " (scripts/deps test)")


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


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def message(recipient):
    return (f"From: <{SENDER}>\nTo: <{recipient}>\nSubject: nullmxd test\n\n"
            "Where does this go?\n")


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


class Postfix:
    """Debian's Postfix with its own config directory and queue under `base`."""

    recipients = [NULLMX, CLOSED, STRICT, REFUSED, MXNAME]

    def __init__(self, base):
        self.conf = os.path.join(base, "conf")
        self.logfile = os.path.join(base, "maillog")
        os.makedirs(self.conf)
        os.mkdir(os.path.join(base, "queue"), 0o755)
        write(os.path.join(self.conf, "main.cf"), f"""compatibility_level = 3.6
queue_directory = {base}/queue
data_directory = {base}/data
maillog_file = {self.logfile}
maillog_file_prefixes = {base}
myhostname = sender.{ZONE}
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
smtp_bind_address = {POSTFIX_ADDR}
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
        write(os.path.join(self.conf, "master.cf"), "".join(
            f"{name} {kind} {private} - {chroot} {wake} {limit} {command}\n"
            for name, kind, private, chroot, wake, limit, command in services))
        run("postfix", "-c", self.conf, "check")
        run("postfix", "-c", self.conf, "start")

    def send(self, recipient):
        run("sendmail", "-C", self.conf, "-f", SENDER, "-i", "--", recipient,
            input=message(recipient))

    def log(self):
        return read(self.logfile)

    def verdict(self, recipient):
        """The log line with the verdict on recipient (sent, bounced, deferred), or None."""
        for line in self.log().splitlines():
            if f"to=<{recipient}>" in line and "status=" in line:
                return line
        return None

    @staticmethod
    def failed(verdict):
        return "status=bounced" in verdict

    @staticmethod
    def message_id(line):
        """`... postfix/smtp[123]: 4F1A2B3C: to=<...>` -> 4F1A2B3C."""
        return line.split(": ")[1]

    def bounced_ids(self):
        """The messages the sender got a non-delivery notice for."""
        return {self.message_id(line) for line in self.log().splitlines()
                if "sender non-delivery notification" in line}

    def queue(self):
        """The messages still queued, as `postqueue -j` lists them."""
        out = run("postqueue", "-c", self.conf, "-j").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def stop(self):
        subprocess.run(["postfix", "-c", self.conf, "stop"], capture_output=True, timeout=60)


class Exim:
    """Exim 4 from its .deb, unpacked under `base`, delivering at once (-odi) from a spool
    there. It runs as Debian-exim, which the namespace's /etc/passwd gets if needed."""

    recipients = [NULLMX, CLOSED, REFUSED, MXNAME]

    def __init__(self, base):
        os.makedirs(base)
        deb = sorted(glob.glob(EXIM_DEBS))[-1]
        run("dpkg-deb", "-x", deb, os.path.join(base, "root"))
        self.binary = os.path.join(base, "root/usr/sbin/exim4")
        uid, gid = add_system_user("Debian-exim", base)
        spool = os.path.join(base, "spool")
        os.mkdir(spool, 0o750)
        os.chown(spool, uid, gid)
        self.logfile = os.path.join(spool, "mainlog")
        self.conf = write(os.path.join(base, "exim.conf"), f"""primary_hostname = sender.{ZONE}
exim_path = {self.binary}
keep_environment =
spool_directory = {spool}
log_file_path = {spool}/%slog
local_interfaces = 127.0.0.1

begin routers
# Bounces to the sender are created, logged and thrown away.
sink:
  driver = redirect
  domains = sender.{ZONE}
  data = :blackhole:
dnslookup:
  driver = dnslookup
  transport = remote_smtp
  no_more

begin transports
remote_smtp:
  driver = smtp
  interface = {EXIM_ADDR}

begin retry
* * F,4d,1h
""")

    def send(self, recipient):
        # -odi: delivered, or bounced, before exim returns.
        run(self.binary, "-C", self.conf, "-odi", "-f", SENDER, "--", recipient,
            input=message(recipient))

    def log(self):
        return read(self.logfile)

    def verdict(self, recipient):
        """The log line with the verdict: `** rcpt` failed, `== rcpt` deferred, `=> rcpt`."""
        for line in self.log().splitlines():
            fields = line.split()
            if (len(fields) > 4 and fields[3] in ("**", "==", "=>")
                    and fields[4].rstrip(":") == recipient):
                return line
        return None

    @staticmethod
    def failed(verdict):
        return verdict.split()[3] == "**"

    @staticmethod
    def message_id(line):
        """`2026-11-30 05:30:00 1tAbCd-000123-Xy ** ...` -> 1tAbCd-000123-Xy."""
        return line.split()[2]

    def bounced_ids(self):
        """The messages a bounce (`<= <> R=ID`) was generated for."""
        return {line.split(" R=")[1].split()[0] for line in self.log().splitlines()
                if " <= <> R=" in line}

    def stop(self):
        pass


def add_system_user(name, directory):
    """(uid, gid) of name; if it has no account, the namespace's /etc/passwd and
    /etc/group get one: copies in directory, bind-mounted, so the machine's files are
    untouched."""
    try:
        pw = run("getent", "passwd", name).stdout.split(":")
        return int(pw[2]), int(pw[3])
    except AssertionError:
        pass
    used = {int(line.split(":")[2]) for f in ("/etc/passwd", "/etc/group")
            for line in read(f).splitlines() if line.count(":") >= 3}
    uid = next(i for i in range(999, 100, -1) if i not in used)
    for path, entry in (("/etc/passwd", f"{name}:x:{uid}:{uid}::/nonexistent:/bin/false\n"),
                        ("/etc/group", f"{name}:x:{uid}:\n")):
        copy = write(os.path.join(directory, os.path.basename(path)), read(path) + entry)
        run("mount", "--bind", copy, path)
    return uid, uid


class World:
    """The namespace's servers; every process started is stopped by stop()."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="nullmxd-mailers-")
        os.chmod(self.dir, 0o755)  # the senders' processes run as their own users
        self.servers = []
        self.logs = {}
        self.senders = {}
        self.verdicts = {}
        self.bounced = {}
        self.daemon = None
        self.stopped = False

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def serve(self, start):
        """A DNS server started, with its log among the diagnostics."""
        server = start()
        self.servers.append(server)
        self.logs[server.name] = server.log
        return server

    def network(self):
        run("ip", "link", "set", "lo", "up")
        resolv = write(self.path("resolv.conf"), "nameserver 127.0.0.1\noptions attempts:3\n")
        # /etc/resolv.conf may be a symlink: bind over whatever file it names.
        run("mount", "--bind", resolv, os.path.realpath("/etc/resolv.conf"))

    def dns(self):
        zonefile = write(self.path(f"{ZONE}.zone"), ZONE_FILE)
        nsd = self.serve(lambda: Nsd(self.dir, ZONE, zonefile, 1, addr=NSD_ADDR, port=53))
        self.serve(lambda: Unbound(self.dir, ZONE, nsd, port=53))
        # Through the resolver, so both servers and the delegation work.
        wait_until("the resolver to answer for closed.example.test",
                   lambda: dns_answer(f"closed.{ZONE}") == (0, 1),
                   detail=self.diagnostics)

    def nullmxd(self):
        self.daemon = Daemon(NULLMXD_CONFIG, listeners=3)

    def send_all(self, name, sender):
        """Every message from one sender, then its verdicts and its bounces."""
        self.senders[name] = sender
        for recipient in sender.recipients:
            sender.send(recipient)
        verdicts = {r: wait_until(f"{name}'s verdict on {r}", lambda: sender.verdict(r),
                                  detail=self.diagnostics)
                    for r in sender.recipients}
        failed = [line for line in verdicts.values() if sender.failed(line)]

        def all_bounced():
            ids = sender.bounced_ids()
            return ids if len(ids) >= len(failed) else None
        ids = wait_until(f"a bounce to the sender from {name} for each failed message",
                         all_bounced, detail=self.diagnostics)
        self.verdicts[name] = verdicts
        self.bounced[name] = ids

    def diagnostics(self):
        out = "".join(f"--- {name}\n{read(path)}" for name, path in self.logs.items())
        out += "".join(f"--- {name}\n{s.log()}" for name, s in self.senders.items())
        if self.daemon:
            out += "--- nullmxd\n" + "\n".join(self.daemon.lines)
        return out

    def stop(self):
        """The senders, nullmxd (which must exit 0 with a clean log), the DNS servers."""
        if self.stopped:
            return
        self.stopped = True
        errors = []
        for sender in self.senders.values():
            sender.stop()
        if self.daemon:
            try:
                self.daemon.__exit__(None, None, None)
            except AssertionError as e:
                errors.append(str(e))
        for server in self.servers:
            server.stop()
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
        world.send_all("postfix", Postfix(world.path("postfix")))
        world.postfix_queue = world.senders["postfix"].queue()
        world.send_all("exim", Exim(world.path("exim")))
        # Stopping nullmxd writes out every line it still held.
        world.stop()
    except BaseException:
        print(world.diagnostics(), file=sys.stderr)
        world.stop()
        raise


def nullmxd_events(**fields):
    """nullmxd's parsed log lines with all these field values."""
    return world.daemon.events(lambda f: all(f.get(k) == v for k, v in fields.items()))


class SenderCase(unittest.TestCase):
    sender = None  # "postfix", "exim"
    client = None  # the address it connects from

    def verdict(self, recipient):
        return world.verdicts[self.sender][recipient]

    def assert_bounce_sent(self, line):
        message_id = world.senders[self.sender].message_id(line)
        self.assertIn(message_id, world.bounced[self.sender], "the sender got no bounce")

    def assert_refusal_logged(self, line, recipient, host):
        """The sender's log line says nullmxd refused recipient at host."""
        raise NotImplementedError

    def assert_refused(self, recipient, host):
        """rcpt mode: the sender bounced, and nullmxd saw both of its sessions end."""
        line = self.verdict(recipient)
        self.assert_refusal_logged(line, recipient, host)
        self.assert_bounce_sent(line)
        sessions = nullmxd_events(event="conn", local=RCPT_ADDR, client=self.client)
        self.assertEqual([s["reason"] for s in sessions], ["quit", "quit"], sessions)
        # nullmxd's own record of the refused RCPT: who tried to send to whom.
        rejects = nullmxd_events(event="reject", local=RCPT_ADDR, client=self.client,
                                 to=f"<{recipient}>", **{"from": f"<{SENDER}>"})
        self.assertEqual([r["code"] for r in rejects], ["550"], rejects)

    def test_rcpt_mode_a_only_name_bounced(self):
        self.assert_refused(REFUSED, f"refused.{ZONE}")

    def test_rcpt_mode_mx_name_bounced(self):
        self.assert_refused(MXNAME, f"trap.{ZONE}")

    def test_null_mx_nullmxd_never_reached(self):
        # The null-MX name's A record leads to a nullmxd listener, which saw no one.
        self.assertEqual(nullmxd_events(event="conn", local=NULLMX_ADDR), [])


class PostfixTest(SenderCase):
    sender = "postfix"
    client = POSTFIX_ADDR

    def test_null_mx_bounced_without_connecting(self):
        line = self.verdict(NULLMX)
        self.assertIn("relay=none", line)
        self.assertIn("dsn=5.1.0, status=bounced", line)
        self.assertIn(f"Domain nullmx.{ZONE} does not accept mail (nullMX)", line)
        self.assert_bounce_sent(line)

    def test_close_mode_deferred_with_the_521_text(self):
        line = self.verdict(CLOSED)
        self.assertIn(f"relay=closed.{ZONE}[{CLOSE_ADDR}]:25", line)
        self.assertIn("dsn=4.3.2, status=deferred", line)
        self.assertIn(f"refused to talk to me: {REPLY_521}", line)
        queued = [m for m in world.postfix_queue
                  if [r["address"] for r in m["recipients"]] == [CLOSED]]
        self.assertEqual(len(queued), 1, world.postfix_queue)
        self.assertEqual(queued[0]["queue_name"], "deferred")
        self.assertIn("521 5.3.2", queued[0]["recipients"][0]["delay_reason"])

    def test_close_mode_with_skip_5xx_greeting_no_bounced(self):
        line = self.verdict(STRICT)
        self.assertIn("dsn=5.3.2, status=bounced", line)
        self.assertIn(f"refused to talk to me: {REPLY_521}", line)
        self.assert_bounce_sent(line)

    def test_close_mode_nullmxd_logged_each_connection(self):
        # The default transport and the strict one, each once: no retry yet.
        conns = nullmxd_events(event="conn", local=CLOSE_ADDR, client=self.client)
        self.assertEqual(len(conns), 2, conns)

    def test_only_the_deferred_message_is_queued(self):
        self.assertEqual([[r["address"] for r in m["recipients"]] for m in world.postfix_queue],
                         [[CLOSED]])

    def assert_refusal_logged(self, line, recipient, host):
        self.assertIn(f"relay={host}[{RCPT_ADDR}]:25", line)
        self.assertIn("dsn=5.1.2, status=bounced", line)
        self.assertIn(f"said: {REPLY_550} (in reply to RCPT TO command)", line)


class EximTest(SenderCase):
    sender = "exim"
    client = EXIM_ADDR

    def test_null_mx_bounced_without_connecting(self):
        line = self.verdict(NULLMX)
        self.assertIn(f"** {NULLMX}: an MX or SRV record indicated no SMTP service", line)
        self.assert_bounce_sent(line)

    def test_close_mode_bounced(self):
        line = self.verdict(CLOSED)
        self.assertIn(f"** {CLOSED} R=dnslookup T=remote_smtp H=closed.{ZONE} [{CLOSE_ADDR}]",
                      line)
        self.assertIn("SMTP error from remote mail server after initial connection", line)
        self.assertIn(f"521 5.3.2 closed.{ZONE} does not accept mail", line)
        self.assert_bounce_sent(line)
        conns = nullmxd_events(event="conn", local=CLOSE_ADDR, client=self.client)
        self.assertEqual(len(conns), 1, conns)

    def assert_refusal_logged(self, line, recipient, host):
        self.assertIn(f"** {recipient} R=dnslookup T=remote_smtp H={host} [{RCPT_ADDR}]", line)
        self.assertIn(f"SMTP error from remote mail server after RCPT TO:<{recipient}>: "
                      f"{REPLY_550}", line)


del SenderCase  # its tests run once per sender, not on their own

if __name__ == "__main__":
    if os.environ.get(IN_NAMESPACE) != "1":
        check_tools()
        enter_namespace(__file__, IN_NAMESPACE)
    unittest.main(verbosity=2)
