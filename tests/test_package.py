"""The Debian package: built by scripts/package, installed with apt, checked, purged.

It changes the machine's package set, so it runs only as root, only where nullmxd is
not installed already, and only without a running systemd (where installing would
start the service); it always purges what it installed.
"""

import os
import shutil
import subprocess
import tempfile
import unittest

from nullmxd_test import main

SOURCE_DIR = os.environ["SOURCE_DIR"]
UNITDIR = "/lib/systemd/system"
UNITS = ["nullmxd.service", "nullmxd-activated.service", "nullmxd.socket"]


def run(*args, check=True):
    r = subprocess.run(args, capture_output=True, text=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r


def installed():
    r = run("dpkg-query", "-W", "-f=${db:Status-Status}", "nullmxd", check=False)
    return r.returncode == 0 and r.stdout not in ("", "not-installed", "config-files")


def why_not():
    if os.geteuid() != 0:
        return "installing a package needs root"
    if not shutil.which("dpkg") or not shutil.which("apt-get"):
        return "not a Debian system"
    if os.path.isdir("/run/systemd/system"):
        return "systemd is running: installing would start nullmxd on port 25"
    if run("dpkg-query", "-W", "nullmxd", check=False).returncode == 0:
        return "a nullmxd package is already on this machine: not touching it"
    return None


@unittest.skipIf(why_not(), why_not())
class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = tempfile.mkdtemp()
        r = run(os.path.join(SOURCE_DIR, "scripts", "package"), cls.out, check=False)
        cls.lintian = r.stderr
        if r.returncode != 0:
            shutil.rmtree(cls.out)
            raise AssertionError(f"scripts/package failed:\n{r.stdout}{r.stderr}")
        cls.deb = r.stdout.strip().splitlines()[-1]
        run("apt-get", "install", "-y", "-q", "--no-install-recommends", cls.deb)

    @classmethod
    def tearDownClass(cls):
        run("apt-get", "purge", "-y", "-q", "nullmxd", check=False)
        shutil.rmtree(cls.out, ignore_errors=True)

    def test_lintian_reports_no_error(self):
        self.assertNotIn("\nE: ", "\n" + self.lintian, self.lintian)

    def test_installed_binary_checks_the_installed_config(self):
        r = run("/usr/sbin/nullmxd", "-t")
        self.assertIn("config /etc/nullmxd/nullmxd.conf\n", r.stdout)

    def test_config_is_a_conffile_and_files_are_in_place(self):
        r = run("dpkg-query", "-W", "-f=${Conffiles}", "nullmxd")
        self.assertIn("/etc/nullmxd/nullmxd.conf ", r.stdout)
        files = set(run("dpkg", "-L", "nullmxd").stdout.split())
        for path in ["/usr/sbin/nullmxd", "/usr/share/man/man8/nullmxd.8.gz",
                     "/usr/share/man/man8/nullmxd-check-dns.8.gz",
                     "/usr/share/man/man5/nullmxd.conf.5.gz",
                     *(f"{UNITDIR}/{u}" for u in UNITS)]:
            self.assertIn(path, files)

    def test_plain_service_enabled_the_debian_way_and_socket_pair_not(self):
        wants = "/etc/systemd/system/multi-user.target.wants"
        self.assertEqual(os.readlink(f"{wants}/nullmxd.service"),
                         f"{UNITDIR}/nullmxd.service")
        self.assertFalse(os.path.lexists("/etc/systemd/system/sockets.target.wants/"
                                         "nullmxd.socket"))

    def test_installed_units_verify(self):
        r = run("systemd-analyze", "verify", "--man=no", *(f"{UNITDIR}/{u}" for u in UNITS),
                check=False)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_nothing_left_running(self):
        # A container (the systemd suite's) has /usr/sbin/nullmxd of its own: only
        # processes that see this machine's root run the package installed here.
        root = os.stat("/")
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                exe = os.readlink(f"/proc/{pid}/exe")
                their_root = os.stat(f"/proc/{pid}/root/")
            except OSError:
                continue
            if (their_root.st_dev, their_root.st_ino) != (root.st_dev, root.st_ino):
                continue
            self.assertNotEqual(exe, "/usr/sbin/nullmxd", f"pid {pid} runs the package")


if __name__ == "__main__":
    main()
