"""Real DNS servers for the tests, in a network namespace of the test's own.

NSD serves one zone; unbound is a recursive resolver in front of it (a stub zone) that
refuses every other name, so nothing is ever resolved outside the test. enter_namespace()
re-runs a test as PID 1 of new network, mount and PID namespaces: only their loopback
(and what the test adds) exists there, and every process ends with the namespace.
"""

import os
import shutil
import socket
import struct
import subprocess
import sys
import time


def unavailable(reason):
    """Skip (77) with the reason, except under CI, which must run every test."""
    if os.environ.get("CI") == "true":
        sys.exit(f"{os.path.basename(sys.argv[0])} cannot run under CI: {reason}")
    print(f"SKIP: {reason}")
    sys.exit(77)


def find(prog):
    return shutil.which(prog) or shutil.which(prog, path="/usr/sbin:/sbin")


def enter_namespace(script, flag):
    """Re-runs script as PID 1 of new namespaces, with flag=1 in its environment; exits
    with its status. Needs root and unshare; a test without them is unavailable."""
    if os.geteuid() != 0:
        unavailable("needs root (network namespaces)")
    if not find("unshare") or not find("ip"):
        unavailable("not installed: unshare, ip (util-linux, iproute2)")
    env = dict(os.environ, **{flag: "1"})
    cmd = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
           sys.executable, os.path.abspath(script)]
    sys.exit(subprocess.run(cmd, env=env).returncode)


def query(server, port, name, rtype):
    """One query over UDP; the reply's raw bytes, or None while nothing answers."""
    q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    q += b"\0" + struct.pack(">HH", rtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        try:
            s.sendto(q, (server, port))
            reply = s.recv(4096)
        except OSError:
            return None
    return reply if reply[:2] == b"\x42\x42" else None


def skip_name(msg, off):
    while msg[off] and msg[off] < 0xC0:
        off += msg[off] + 1
    return off + (2 if msg[off] else 1)


def soa_serial(server, port, zone):
    """The zone's SOA serial as the server answers it, or None."""
    reply = query(server, port, zone, 6)
    if not reply or reply[3] & 0xF or struct.unpack(">H", reply[6:8])[0] < 1:
        return None
    off = skip_name(reply, 12) + 4          # the question
    off = skip_name(reply, off) + 10        # the SOA's owner, type, class, TTL, length
    off = skip_name(reply, skip_name(reply, off))  # MNAME, RNAME
    return struct.unpack(">I", reply[off:off + 4])[0]


def free_port(host):
    """A port free for both UDP and TCP on host (IPv4), for a server to bind."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind((host, port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


class Server:
    """A server run in the foreground, its output in workdir/NAME.log."""

    def __init__(self, name, argv, workdir, ready, timeout=30):
        self.name = name
        self.log = os.path.join(workdir, f"{name}.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if ready():
                return
            time.sleep(0.1)
        self.stop()
        with open(self.log, errors="replace") as f:
            raise RuntimeError(f"{name} did not start:\n{f.read()}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Nsd(Server):
    """NSD serving zone from zonefile on addr:port (a free one when port is None), ready
    once it answers with serial."""

    def __init__(self, workdir, zone, zonefile, serial, addr="127.0.0.1", port=None):
        self.addr, self.port = addr, port or free_port(addr)
        conf = os.path.join(workdir, "nsd.conf")
        with open(conf, "w") as f:
            f.write(f"""server:
  ip-address: {addr}
  port: {self.port}
  username: ""
  chroot: ""
  zonesdir: "{workdir}"
  database: ""
  zonelistfile: "{workdir}/zone.list"
  xfrdfile: "{workdir}/xfrd.state"
  xfrdir: "{workdir}"
  pidfile: "{workdir}/nsd.pid"
  server-count: 1
  round-robin: no
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: "{zone}"
  zonefile: "{zonefile}"
""")
        super().__init__("nsd", [find("nsd") or "nsd", "-d", "-c", conf], workdir,
                         lambda: soa_serial(self.addr, self.port, zone) == serial)


class Unbound(Server):
    """unbound on addr:port (a free one when port is None), resolving only zone, from
    nsd; extra: more lines for its server: section."""

    def __init__(self, workdir, zone, nsd, addr="127.0.0.1", port=None, ipv6=False,
                 extra=()):
        self.addr, self.port = addr, port or free_port(addr)
        lines = [
            "server:",
            f"  interface: {addr}",
            *(["  interface: ::1"] if ipv6 else ["  do-ip6: no"]),
            f"  port: {self.port}",
            "  do-daemonize: no",
            '  username: ""',
            '  chroot: ""',
            f'  directory: "{workdir}"',
            '  pidfile: ""',
            '  logfile: ""',
            "  use-syslog: no",
            "  num-threads: 1",
            "  so-reuseport: no",
            "  do-not-query-localhost: no",
            '  module-config: "iterator"',
            "  access-control: 127.0.0.0/8 allow",
            "  access-control: ::1/128 allow",
            # Nothing outside the zone is ever looked up elsewhere.
            '  local-zone: "." refuse',
            f'  local-zone: "{zone}." transparent',
            *(f"  {line}" for line in extra),
            "stub-zone:",
            f'  name: "{zone}."',
            f"  stub-addr: {nsd.addr}@{nsd.port}",
            "remote-control:",
            "  control-enable: no",
            "",
        ]
        conf = os.path.join(workdir, "unbound.conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines))
        super().__init__("unbound", [find("unbound") or "unbound", "-d", "-c", conf], workdir,
                         lambda: soa_serial(self.addr, self.port, zone) is not None)
