"""Command line, config check, reload and stop, and real SMTP clients."""

import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest

from nullmxd_test import (BASE_CONFIG, DEFAULT_REPLY, NULLMXD, Daemon, main, man_section,
                          read_until_eof, reply_codes, run_nullmxd, write_config)


def man_options():
    """Every option nullmxd(8) lists in its SYNOPSIS and OPTIONS: "Fl htV" is -h -t -V,
    "Fl Fl json" and "Fl \\-config" are --json and --config."""
    found = set()
    text = man_section("nullmxd.8", "SYNOPSIS") + man_section("nullmxd.8", "OPTIONS")
    for long, name in re.findall(r"\bFl\s+(Fl\s+|\\-)?([A-Za-z][\w\\-]*)", text):
        if long:
            found.add("--" + name.replace("\\-", "-"))
        else:
            found.update("-" + c for c in name)
    return found


class CheckConfigTest(unittest.TestCase):
    def test_good_config_prints_listeners_and_exact_reply_lines(self):
        path = write_config(BASE_CONFIG)
        r = run_nullmxd("-t", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        listener = ("  hostname mx.example.test\n"
                    "  mode close\n"
                    "  reply 521-mx.example.test does not accept mail\n"
                    "  reply 521 5.3.2 mx.example.test does not accept mail\n")
        self.assertIn(f"listen 127.0.0.1:0\n{listener}listen [::1]:0\n{listener}", r.stdout)
        self.assertEqual(r.stderr, "")

    def test_proxy_sources_print_as_networks_in_one_spelling(self):
        path = write_config('hostname = "mx.example.test";\n'
                            'listen = ( { address = "127.0.0.1:0"; proxy = "v2";\n'
                            '  proxy_from = [ "127.0.0.1", "2001:DB8:0::/48", "10.0.0.0/8" ]; } );\n')
        r = run_nullmxd("-t", "-c", path)
        os.unlink(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("  proxy v2 from 127.0.0.1/32 2001:db8::/48 10.0.0.0/8\n", r.stdout)

    def test_the_man_pages_example_is_what_nullmxd_prints(self):
        options = man_section("nullmxd.8", "OPTIONS")
        example = re.search(r"For example:\n\.Bd -literal -offset 2n\n(.*?)\.Ed\n", options,
                            re.S).group(1)
        path = write_config(
            'hostname = "mx1.example.com";\n'
            'listen = ( "192.0.2.25:25", { address = "127.0.0.1:10025"; proxy = "v2";\n'
            '  proxy_from = [ "127.0.0.1/32" ]; hostname = "mx.example.com"; mode = "rcpt"; } );\n')
        r = run_nullmxd("-t", "-c", path)
        os.unlink(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.replace(path, "/etc/nullmxd/nullmxd.conf"), example)

    def test_every_error_is_reported_with_its_line(self):
        path = write_config('hostname = "mx.example.test";\n'
                            'drain_bytes = -5;\n'
                            'color = "blue";\n'
                            'listen = [ "nowhere:25" ];\n')
        r = run_nullmxd("-t", "-c", path)
        self.assertEqual(r.returncode, 78)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr.splitlines(), [
            f"{path}:3: unknown key 'color'",
            f"{path}:2: drain_bytes must be between 0 and 1048576, not -5",
            f"{path}:4: listen: bad address 'nowhere:25' (want ADDR:PORT, IPv6 as [ADDR]:PORT)",
        ])

    def test_syntax_error_and_missing_file(self):
        path = write_config('hostname = "a.example"\nlisten = ;\n')
        r = run_nullmxd("-t", "-c", path)
        self.assertEqual(r.returncode, 78)
        self.assertEqual(r.stderr, f"{path}:2: syntax error\n")
        r = run_nullmxd("-t", "-c", "/nonexistent/nullmxd.conf")
        self.assertEqual(r.returncode, 78)
        self.assertEqual(r.stderr,
                         "/nonexistent/nullmxd.conf:0: cannot read: No such file or directory\n")

    def test_config_that_is_not_a_regular_file_is_refused_at_once(self):
        d = tempfile.mkdtemp()
        try:
            fifo = os.path.join(d, "nullmxd.conf")
            os.mkfifo(fifo)
            for path in (fifo, "/dev/zero", d):
                r = run_nullmxd("-t", "-c", path)
                self.assertEqual(r.returncode, 78)
                self.assertEqual(r.stderr, f"{path}:0: cannot read: not a regular file\n")
        finally:
            shutil.rmtree(d)

    def test_custom_reply_that_breaks_conventions_only_warns(self):
        path = write_config(BASE_CONFIG + 'reply = "go away";\n')
        r = run_nullmxd("-t", "-c", path)
        self.assertEqual(r.returncode, 0)
        self.assertIn("  reply 521 go away\n", r.stdout)
        warnings = r.stderr.splitlines()
        self.assertEqual(len(warnings), 2)
        self.assertTrue(all(w.startswith(f"{path}:4: warning: reply: ") for w in warnings))

    def test_default_hostname_comes_from_the_system(self):
        path = write_config('listen = [ "127.0.0.1:0" ];\n')
        r = run_nullmxd("-t", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        host = r.stdout.split("  hostname ", 1)[1].split("\n", 1)[0]
        self.assertTrue(host.startswith(socket.gethostname()), host)
        self.assertIn(f"  reply 521-{host} does not accept mail\n", r.stdout)

    def test_help_and_the_man_page_list_the_same_options(self):
        r = run_nullmxd("--help")
        self.assertEqual(r.returncode, 0)
        in_help = set(re.findall(r"(?:^|(?<=[\s\[,]))(--?[A-Za-z][\w-]*)", r.stdout))
        self.assertEqual(in_help, man_options())

    def test_usage_errors_exit_64(self):
        for args in (["--bogus"], ["extra-argument"], ["-c"]):
            r = run_nullmxd(*args)
            self.assertEqual(r.returncode, 64, args)
            self.assertIn("usage: nullmxd", r.stderr)
        r = run_nullmxd("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--check-config", r.stdout)
        r = run_nullmxd("--version")
        self.assertRegex(r.stdout, r"^nullmxd \d+\.\d+\.\d+\n$")

    def test_check_dns_without_its_program_says_so(self):
        # nullmxd check-dns execs nullmxd-check-dns from its own directory.
        with tempfile.TemporaryDirectory() as d:
            alone = os.path.join(d, "nullmxd")
            shutil.copy(NULLMXD, alone)
            r = subprocess.run([alone, "check-dns", "example.org"], capture_output=True,
                               text=True, timeout=10)
            if r.returncode != 69:  # an installed nullmxd-check-dns answered instead
                self.assertNotIn("cannot run", r.stderr)
                self.skipTest("nullmxd-check-dns is installed system-wide")
            self.assertIn("nullmxd: cannot run nullmxd-check-dns: No such file or directory",
                          r.stderr)

    def test_address_in_use_exits_71(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            path = write_config(f'listen = [ "127.0.0.1:{port}" ];\nhostname = "a.example";\n')
            r = run_nullmxd("-c", path)
            self.assertEqual(r.returncode, 71)
            self.assertIn(f"cannot listen on 127.0.0.1:{port}", r.stderr)


class SignalTest(unittest.TestCase):
    def fetch(self, d):
        s = d.connect()
        data = read_until_eof(s)
        s.close()
        return data

    def assert_reload_refused(self, d, msg):
        """A SIGHUP whose file is refused with msg: the old text is still served."""
        d.send_signal(signal.SIGHUP)
        d.wait_for(lambda f: f.get("event") == "reload" and f.get("status") == "refused")
        err = d.wait_for(lambda f: f.get("event") == "warning")[0]
        self.assertEqual(err["msg"], msg)
        self.assertEqual(self.fetch(d), DEFAULT_REPLY)
        self.assertIsNone(d.proc.poll())

    def test_reload_applies_new_text_to_new_connections(self):
        with Daemon() as d:
            self.assertEqual(self.fetch(d), DEFAULT_REPLY)
            with open(d.config_path, "a") as f:
                f.write('reply = [ "%h is send-only", "5.3.2 no mail here, 100%% sure" ];\n')
            d.send_signal(signal.SIGHUP)
            d.wait_for(lambda f: f.get("event") == "reload" and f.get("status") == "ok")
            self.assertEqual(self.fetch(d), b"521-mx.example.test is send-only\r\n"
                                            b"521 5.3.2 no mail here, 100% sure\r\n")

    def test_reload_with_changed_listen_keeps_listeners_and_applies_the_rest(self):
        with Daemon() as d:
            with open(d.config_path, "w") as f:
                f.write('listen = [ "127.0.0.1:0" ];\nhostname = "other.example.test";\n')
            d.send_signal(signal.SIGHUP)
            d.wait_for(lambda f: f.get("event") == "reload" and f.get("status") == "ok")
            warn = d.wait_for(lambda f: f.get("event") == "warning")[0]
            self.assertIn("listen changed", warn["msg"])
            # The listener still in the file takes the new text; the one that left it
            # stays bound until a restart and keeps its own.
            for family, name in ((socket.AF_INET, b"other"), (socket.AF_INET6, b"mx")):
                s = d.connect(family)
                self.assertIn(b"521-" + name + b".example.test ", read_until_eof(s))
                s.close()

    def test_broken_config_is_refused_and_old_text_still_served(self):
        with Daemon() as d:
            with open(d.config_path, "a") as f:
                f.write('drain_timeout = "soon";\n')
            self.assert_reload_refused(d, f"{d.config_path}:4: drain_timeout must be a "
                                          "number of seconds, not a string")

    def test_include_of_a_directory_is_refused_and_the_daemon_lives(self):
        with Daemon() as d:
            with open(d.config_path, "a") as f:
                f.write('@include ""\n')
            self.assert_reload_refused(d, f'{d.config_path}:4: @include "": not a regular file')

    def test_config_replaced_by_a_fifo_is_refused_and_the_loop_keeps_serving(self):
        with Daemon() as d:
            os.unlink(d.config_path)
            os.mkfifo(d.config_path, 0o644)
            self.assert_reload_refused(d, f"{d.config_path}:0: cannot read: not a regular file")

    def test_signals_during_exit_do_not_kill_it(self):
        with Daemon() as d:
            held = d.connect()
            held.recv(len(DEFAULT_REPLY), socket.MSG_WAITALL)
            pid = d.proc.pid
            os.kill(pid, signal.SIGTERM)
            # Until it has exited (not reaped: the pid stays its own), the whole way out.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                for _ in range(100):
                    os.kill(pid, signal.SIGUSR1)
                    os.kill(pid, signal.SIGTERM)
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                    break
            self.assertEqual(d.stop(), 0)  # each SIGUSR1 logged a stats line, some dropped
            held.close()

    def test_sigterm_with_open_connections_exits_0_within_a_second(self):
        with Daemon(BASE_CONFIG + "drain_timeout = 60;") as d:
            held = [d.connect() for _ in range(3)]
            for s in held:
                s.recv(len(DEFAULT_REPLY), socket.MSG_WAITALL)
            d.wait_for(lambda f: True, count=3)  # start and both listen lines
            started = time.monotonic()
            self.assertEqual(d.stop(signal.SIGTERM), 0)
            self.assertLess(time.monotonic() - started, 2.0)
            reasons = [f["reason"] for f in d.events(lambda f: f.get("event") == "conn")]
            self.assertEqual(reasons, ["shutdown"] * 3)
            self.assertEqual(d.events(lambda f: f.get("event") == "exit")[0]["status"], "0")
            for s in held:
                self.assertEqual(read_until_eof(s), b"")
                s.close()


class ClosedStderrTest(unittest.TestCase):
    """Started with stderr closed (`2>&-`), nullmxd must not take descriptor 2 for one
    of its own: log lines would go to the epoll descriptor or to a client's socket."""

    def test_it_serves_and_writes_no_line_into_its_own_descriptors(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = write_config('listen = [ "127.0.0.1:%d" ];\nhostname = "mx.example.test";\n'
                              'mode = "rcpt";\nlimits = { per_ip_connections = 0; };\n' % port)
        proc = subprocess.Popen([NULLMXD, "-c", config], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, preexec_fn=lambda: os.close(2))
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    held = socket.create_connection(("127.0.0.1", port), timeout=10)
                    break
                except ConnectionRefusedError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.05)
            greeting = b"220 mx.example.test ESMTP accepts no mail\r\n"
            self.assertEqual(held.recv(len(greeting), socket.MSG_WAITALL), greeting)
            # Sessions that start and end while one stays open: each writes log lines.
            for _ in range(5):
                with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                    s.sendall(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nQUIT\r\n")
                    self.assertEqual(reply_codes(read_until_eof(s)), [220, 250, 550, 221])
            held.sendall(b"QUIT\r\n")
            self.assertEqual(read_until_eof(held), REPLY_221)
            held.close()
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(20), 0)
            self.assertEqual(proc.stdout.read(), b"")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            os.unlink(config)


REPLY_221 = b"221 2.0.0 mx.example.test closing transmission channel\r\n"


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"),
                     "a slow start needs root for a mount and UTS namespace")
class SlowStartTest(unittest.TestCase):
    """Signals that come while the config loads: with no hostname in the file, the
    system's (no dot in it) is looked up, here through a resolver nobody answers."""

    def silent_resolver(self):
        """A DNS server on a loopback address that reads queries and never answers."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for last in range(2, 250):
            try:
                sock.bind((f"127.53.{os.getpid() % 250}.{last}", 53))
                break
            except OSError:
                continue
        self.addCleanup(sock.close)
        return sock

    def namespace_wrapper(self, resolver):
        etc = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, etc)
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write(f"nameserver {resolver}\noptions timeout:30 attempts:1\n")
        with open(os.path.join(etc, "nsswitch.conf"), "w") as f:
            f.write("hosts: files dns\n")
        script = ("hostname nullmxd-slow-start && "
                  f"mount --bind {etc}/resolv.conf /etc/resolv.conf && "
                  f"mount --bind {etc}/nsswitch.conf /etc/nsswitch.conf && "
                  'exec "$0" "$@"')
        return ("unshare", "--mount", "--uts", "--propagation", "private", "sh", "-c", script)

    def test_hup_and_usr1_during_config_load_wait_and_are_taken(self):
        dns = self.silent_resolver()
        dns.settimeout(30)
        with Daemon('listen = [ "127.0.0.1:0", "[::1]:0" ];\n', listeners=0,
                    wrapper=self.namespace_wrapper(dns.getsockname()[0])) as d:
            # The hostname's query has arrived: nullmxd is loading its config, and no
            # handler is installed yet. Without one, either signal ends a process.
            query, _ = dns.recvfrom(512)
            self.assertIn(b"\x12nullmxd-slow-start", query)
            d.send_signal(signal.SIGHUP)
            d.send_signal(signal.SIGUSR1)
            d.wait_for(lambda f: f.get("event") == "listen", count=2, timeout=30)
            d.ports = {f["addr"]: int(f["port"])
                       for f in d.events(lambda f: f.get("event") == "listen")}
            d.wait_for(lambda f: f.get("event") == "reload" and f.get("status") == "ok",
                       timeout=30)
            d.wait_for(lambda f: f.get("event") == "stats", timeout=30)
            with d.connect() as s:
                self.assertIn(b"521 5.3.2 nullmxd-slow-start ", read_until_eof(s))
            self.assertIsNone(d.proc.poll())


class RealClientTest(unittest.TestCase):
    def test_python_smtplib_sees_521(self):
        with Daemon() as d:
            with self.assertRaises(smtplib.SMTPConnectError) as cm:
                smtplib.SMTP("127.0.0.1", d.ports["127.0.0.1"], timeout=5)
            self.assertEqual(cm.exception.smtp_code, 521)
            self.assertIn(b"5.3.2 mx.example.test does not accept mail", cm.exception.smtp_error)
            d.wait_for(lambda f: f.get("event") == "conn" and f.get("reason") == "eof")

    def test_swaks_sees_521_and_exits_21(self):
        with Daemon() as d:
            for host in ("127.0.0.1", "::1"):
                r = subprocess.run(["swaks", "--server", host, "--port", str(d.ports[host]),
                                    "--to", "probe@example.com", "--timeout", "5"],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 21, r.stdout + r.stderr)
                self.assertIn("<** 521 5.3.2 mx.example.test does not accept mail", r.stdout)
            lines = d.wait_for(lambda f: f.get("event") == "conn", count=2)
            # A drain ends when a look sees the client's end: the lines may come in
            # either order.
            self.assertEqual(sorted(f["client"] for f in lines), ["127.0.0.1", "::1"])


if __name__ == "__main__":
    main()
