"""A root start binds, then serves as the configured unprivileged user."""

import grp
import os
import pwd
import shutil
import signal
import tempfile
import unittest

from nullmxd_test import BASE_CONFIG, DEFAULT_REPLY, Daemon, main, read_until_eof, \
    run_nullmxd, write_config

ROOT = os.geteuid() == 0


def status_of(pid):
    """Uid, Gid, Groups and CapEff lines of /proc/PID/status, split into fields."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return fields


def default_account():
    try:
        pw = pwd.getpwnam("nullmxd")
    except KeyError:
        pw = pwd.getpwnam("nobody")
    return pw.pw_name, pw.pw_uid, pw.pw_gid


@unittest.skipUnless(ROOT, "privilege drop tests need root")
class RootStartTest(unittest.TestCase):
    def assert_serving_as(self, d, uid, gid):
        st = status_of(d.proc.pid)
        self.assertEqual(st["Uid"], [str(uid)] * 4)
        self.assertEqual(st["Gid"], [str(gid)] * 4)
        self.assertEqual(st["Groups"], [])
        self.assertEqual(int(st["CapEff"][0], 16), 0)
        self.assertEqual(int(st["CapPrm"][0], 16), 0)
        with d.connect() as s:
            self.assertEqual(read_until_eof(s), DEFAULT_REPLY)

    def test_default_drop_clears_ids_groups_and_capabilities(self):
        name, uid, gid = default_account()
        with Daemon() as d:
            line = d.wait_for(lambda f: f.get("event") == "privdrop")[0]
            self.assertEqual((line["user"], line["uid"], line["gid"]),
                             (name, str(uid), str(gid)))
            self.assert_serving_as(d, uid, gid)
            # Reload reads the file again as the unprivileged user.
            d.send_signal(signal.SIGHUP)
            d.wait_for(lambda f: f.get("event") == "reload" and f.get("status") == "ok")
            self.assertEqual(d.stop(), 0)

    def test_configured_user_and_group(self):
        daemon, group = pwd.getpwnam("daemon"), grp.getgrnam("nogroup")
        with Daemon(BASE_CONFIG + 'user = "daemon";\ngroup = "nogroup";\n') as d:
            line = d.wait_for(lambda f: f.get("event") == "privdrop")[0]
            self.assertEqual((line["user"], line["group"]), ("daemon", "nogroup"))
            self.assert_serving_as(d, daemon.pw_uid, group.gr_gid)

    def test_root_only_when_the_config_says_so_and_then_warned(self):
        with Daemon(BASE_CONFIG + 'user = "root";\n') as d:
            warning = d.wait_for(lambda f: f.get("event") == "warning")[0]["msg"]
            self.assertTrue(warning.startswith("serving as root, as the config says"), warning)
            self.assertEqual(status_of(d.proc.pid)["Uid"], ["0"] * 4)
            self.assertEqual(d.events(lambda f: f.get("event") == "privdrop"), [])

    def test_config_the_user_cannot_read_is_reported_at_start(self):
        private = tempfile.mkdtemp()  # 0700: nobody cannot reach the file inside
        saved, tempfile.tempdir = tempfile.tempdir, private
        try:
            with Daemon() as d:
                warning = d.wait_for(lambda f: f.get("event") == "warning")[0]["msg"]
                self.assertEqual(warning, f"{d.config_path}: user {default_account()[0]} "
                                 "cannot read it, so reloads (SIGHUP) will fail: "
                                 "Permission denied")
        finally:
            tempfile.tempdir = saved
            shutil.rmtree(private)


class ConfigKeysTest(unittest.TestCase):
    def test_unknown_user_and_group_are_file_line_errors(self):
        path = write_config(BASE_CONFIG + 'user = "no-such-user-here";\ngroup = 5;\n')
        r = run_nullmxd("-t", "-c", path)
        self.assertEqual(r.returncode, 78)
        self.assertEqual(r.stderr.splitlines(), [
            f"{path}:4: user: no user named 'no-such-user-here' on this system",
            f"{path}:5: group must be a string, not an integer",
        ])

    def test_check_config_prints_the_account(self):
        path = write_config(BASE_CONFIG + 'user = "daemon";\n')
        r = run_nullmxd("-t", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("user daemon\ngroup auto (the user's primary group)\n", r.stdout)


if __name__ == "__main__":
    main()
