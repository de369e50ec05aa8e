"""A Debian 12 system booted under systemd-nspawn, for tests that need a real systemd.

The tree comes from debootstrap, from the mirror this machine's apt sources name, with
systemd and the packages the .deb depends on (the container has no network to fetch
them). It is cached in the build directory and rebuilt only when that list or the
mirror changes. Every boot starts from the same tree: --volatile=overlay puts a tmpfs
over it, so whatever a test installs or writes is gone at power-off.

The container runs with --private-network (its port 25 clashes with nothing) and
--register=no --keep-unit (no systemd needed on the host). Tests run commands in it
with nsenter, and talk to its port 25 from this process after enter_network().
"""

import ctypes
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

SUITE = "bookworm"  # Debian 12
TREE_PACKAGES = ["systemd"]
# Commands inside get this environment, not the test's.
INSIDE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
              "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0", "TERM": "dumb"}
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1


class Unavailable(Exception):
    """This machine cannot boot the tree: a reason to skip, except under CI."""


def skip_or_fail(reason):
    """Meson's skip status, or a failure where CI=true demands the suite runs."""
    if os.environ.get("CI") == "true":
        print(f"FAIL: CI=true, and the booted systemd cannot run: {reason}")
        sys.exit(1)
    print(f"SKIP: {reason}")
    sys.exit(77)


def apt_mirror(suite=SUITE):
    """The first URI that the apt sources name for suite (one-line or deb822 format)."""
    lists = ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]
    for path in lists:
        for line in _lines(path):
            words = [w for w in line.split() if not w.startswith("[")]
            # "deb [opts] URI SUITE COMPONENT...": the options are dropped above.
            if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                return words[1]
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for stanza in "\n".join(_lines(path)).split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.split()
            if ("deb" in fields.get("types", []) and suite in fields.get("suites", [])
                    and fields.get("enabled", ["yes"]) != ["no"] and fields.get("uris")):
                return fields["uris"][0]
    return None


def _lines(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return []
    # Comment lines go, without leaving a blank line that would split a deb822 stanza.
    return [l.split("#", 1)[0].rstrip() for l in text.splitlines()
            if not l.lstrip().startswith("#")]


def why_not():
    if os.geteuid() != 0:
        return "booting a container needs root"
    for tool, package in [("systemd-nspawn", "systemd-container"),
                          ("debootstrap", "debootstrap"), ("nsenter", "util-linux")]:
        if not shutil.which(tool):
            return f"{tool} is not installed (package {package})"
    if not apt_mirror():
        return f"no apt source names a Debian mirror for {SUITE}"
    return None


def deb_depends(deb):
    """The package names a .deb depends on (the first of each alternative)."""
    out = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True,
                         text=True, check=True).stdout
    return [d.split("|")[0].split("(")[0].split(":")[0].strip()
            for d in out.split(",") if d.strip()]


def ensure_tree(path, packages):
    """A bootable tree at path with packages in it; returns seconds spent building
    it, or None when the cached one served. Raises Unavailable when debootstrap
    fails (no mirror reachable, most likely)."""
    mirror = apt_mirror()
    packages = sorted(set(TREE_PACKAGES + packages))
    stamp = f"{SUITE} {mirror} {','.join(packages)}\n"
    try:
        with open(path + ".stamp") as f:
            if f.read() == stamp and os.path.isfile(os.path.join(path, "usr/lib/systemd/systemd")):
                return None
    except OSError:
        pass
    start = time.monotonic()
    shutil.rmtree(path, ignore_errors=True)
    building = path + ".new"
    shutil.rmtree(building, ignore_errors=True)
    with open(path + ".log", "w") as log:
        r = subprocess.run(["debootstrap", "--variant=minbase",
                            "--include=" + ",".join(packages), SUITE, building, mirror],
                           stdout=log, stderr=subprocess.STDOUT, timeout=900)
    if r.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        with open(path + ".log") as f:
            tail = "".join(f.readlines()[-15:])
        raise Unavailable(f"debootstrap {SUITE} from {mirror} failed ({path}.log):\n{tail}")
    os.rename(building, path)
    with open(path + ".stamp", "w") as f:
        f.write(stamp)
    return time.monotonic() - start


def _stop_with_parent():
    """The container powers off if the test dies, even by SIGKILL (meson's timeout):
    nspawn gets SIGTERM when its parent ends (prctl PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Machine:
    """The booted container: boot(), then run() commands in it, power_off() at the end."""

    def __init__(self, tree, console_log, binds=()):
        """binds: (host path, container path) pairs, mounted read-only."""
        self.tree = tree
        self.console_log = console_log
        self.binds = list(binds)
        self.proc = None
        self.leader = None

    def boot(self, timeout=120):
        args = ["systemd-nspawn", "--directory", self.tree, "--boot", "--register=no",
                "--keep-unit", "--private-network", "--volatile=overlay",
                "--console=read-only", "--quiet"]
        args += [f"--bind-ro={host}:{inside}" for host, inside in self.binds]
        with open(self.console_log, "w") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT,
                                         preexec_fn=_stop_with_parent)
        deadline = time.monotonic() + timeout
        while self.leader is None:
            self._check_alive(deadline)
            self.leader = self._find_leader()
            time.sleep(0.05)
        # Until PID 1 listens, systemctl cannot connect: retry.
        while True:
            self._check_alive(deadline)
            r = self.run("systemctl", "is-system-running", "--wait", check=False,
                         timeout=max(1, deadline - time.monotonic()))
            state = r.stdout.strip()
            if state in ("running", "degraded"):
                return state
            # "offline" is also what systemctl says before PID 1 listens: retried.
            if state in ("maintenance", "stopping"):
                raise AssertionError(f"the container did not boot: {state}\n"
                                     + self.console_tail())
            time.sleep(0.2)

    def _check_alive(self, deadline):
        if self.proc.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited {self.proc.returncode}:\n"
                                 + self.console_tail())
        if time.monotonic() > deadline:
            raise AssertionError("the container did not boot in time:\n" + self.console_tail())

    def _find_leader(self):
        """nspawn's child that is PID 1 of its own PID namespace: the container's init."""
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                children = f.read().split()
        except OSError:
            return None
        for pid in children:
            try:
                with open(f"/proc/{pid}/status") as f:
                    nspid = [l.split()[1:] for l in f if l.startswith("NSpid:")][0]
            except (OSError, IndexError):
                continue
            if len(nspid) > 1 and nspid[-1] == "1":
                return int(pid)
        return None

    def console_tail(self, lines=40):
        with open(self.console_log, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def run(self, *cmd, input=None, check=True, timeout=60):
        """cmd in every namespace of the container; check: fail unless it exits 0."""
        r = subprocess.run(["nsenter", "--target", str(self.leader), "--all", "--", *cmd],
                           input=input, capture_output=True, text=True, env=INSIDE_ENV,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"in the container, {' '.join(cmd)} exited {r.returncode}:\n"
                                 f"{r.stdout}{r.stderr}")
        return r

    def write(self, path, text, mode="0644"):
        self.run("sh", "-c", 'umask 022 && cat >"$1" && chmod "$2" "$1"', "sh", path, mode,
                 input=text)

    def systemctl(self, *args, check=True, timeout=60):
        return self.run("systemctl", "--no-pager", *args, check=check, timeout=timeout)

    def show(self, unit, *props):
        """systemctl show's properties of unit, as a dict of strings."""
        out = self.systemctl("show", unit, *(f"--property={p}" for p in props)).stdout
        return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)

    def cursor(self):
        """A journal position: journal(..., after=) then sees only what came later."""
        out = self.run("journalctl", "--show-cursor", "-n", "0", "-q").stdout
        return out.strip().rpartition("cursor: ")[2]

    def journal(self, *matches, unit=None, after=None, fields=None):
        """Journal entries (dicts of fields), optionally of unit, after a cursor, and
        matching journalctl's FIELD=value matches or options ("-p", "warning");
        fields: only these (and the cursor and timestamps), for many entries."""
        args = ["journalctl", "--no-pager", "-o", "json", "--all"]
        if unit:
            args += ["--unit", unit]
        if after:
            # Not --after-cursor: with matches, systemd 252 skips the first entry that
            # matches when the cursor's own entry does not.
            args += ["--cursor", after]
        if fields:
            args += ["--output-fields", ",".join(fields)]
        out = self.run(*args, *matches).stdout
        entries = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        return [e for e in entries if e["__CURSOR"] != after]

    def wait_journal(self, pred, *matches, unit=None, after=None, timeout=15):
        """The first entry pred accepts, waiting for it: stderr reaches the journal
        through a stream, a little after the event."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.journal(*matches, unit=unit, after=after)
            found = [e for e in entries if pred(e)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError("no such journal entry; the journal has:\n"
                                     + "\n".join(str(e.get("MESSAGE")) for e in entries))
            time.sleep(0.2)

    def enter_network(self):
        """Moves this process into the container's network namespace: its sockets then
        reach the container's loopback. Python 3.11 (Debian 12) has no os.setns."""
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/proc/{self.leader}/ns/net", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns: {os.strerror(err)}")
        finally:
            os.close(fd)

    def power_off(self, timeout=60):
        """nspawn turns SIGTERM into a clean shutdown of the container."""
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
