"""The "quit" and "rcpt" session modes, driven by Python's smtplib and by raw sockets."""

import smtplib
import socket
import time
import unittest

from nullmxd_test import Daemon, main, read_until_eof

QUIT_CONFIG = """
listen = [ "127.0.0.1:0", "[::1]:0" ];
hostname = "mx.example.test";
mode = "quit";
idle_timeout = 1;
"""

RCPT_CONFIG = """
listen = [ "127.0.0.1:0", "[::1]:0" ];
hostname = "mx.example.test";
mode = "rcpt";
"""

REPLY_521 = b"521-mx.example.test does not accept mail\r\n521 5.3.2 mx.example.test does not accept mail\r\n"
REPLY_221 = b"221 2.0.0 mx.example.test closing transmission channel\r\n"


def closed(sock):
    """Closes sock, so the daemon's drain ends, and gives the port its log line names."""
    port = sock.getsockname()[1]
    sock.close()
    return port


def smtp_session(port, host="127.0.0.1"):
    """An smtplib client past the greeting, which connect() would refuse to read."""
    client = smtplib.SMTP(timeout=5)
    client.sock = socket.create_connection((host, port), timeout=5)
    client.file = None
    return client, client.getreply()


class QuitModeTest(unittest.TestCase):
    def test_every_command_but_quit_gets_521(self):
        with Daemon(QUIT_CONFIG) as d:
            client, greeting = smtp_session(d.ports["127.0.0.1"])
            self.assertEqual(greeting[0], 521)
            answers = [client.ehlo("client.example")[0], client.helo("client.example")[0],
                       client.docmd("MAIL FROM:<a@client.example>")[0],
                       client.docmd("RCPT TO:<b@mx.example.test>")[0],
                       client.docmd("DATA")[0], client.noop()[0], client.rset()[0],
                       client.verify("b@mx.example.test")[0], client.docmd("XYZZY")[0]]
            self.assertEqual(answers, [521] * 9)
            code, text = client.docmd("QUIT")
            self.assertEqual((code, text), (221, b"2.0.0 mx.example.test closing transmission channel"))
            self.assertEqual(client.sock.recv(100), b"")
            name = client.sock.getsockname()
            client.close()
            line = d.conn_line(name[1])
            self.assertEqual((line["reason"], line["commands"]), ("quit", "10"))

    def test_pipelined_commands_are_answered_in_order(self):
        with Daemon(QUIT_CONFIG) as d:
            s = d.connect()
            s.sendall(b"ehlo a\r\nNOOP\nquit  \r\nNOOP\r\n")
            self.assertEqual(read_until_eof(s), REPLY_521 * 3 + REPLY_221)
            line = d.conn_line(closed(s))
            self.assertEqual((line["reason"], line["commands"]), ("quit", "3"))

    def test_commands_split_across_writes(self):
        with Daemon(QUIT_CONFIG) as d:
            s = d.connect()
            for piece in (b"NO", b"OP\r", b"\nQU", b"IT\r\n"):
                s.sendall(piece)
                time.sleep(0.05)
            self.assertEqual(read_until_eof(s), REPLY_521 * 2 + REPLY_221)
            s.close()

    def test_idle_client_is_closed_with_521(self):
        with Daemon(QUIT_CONFIG) as d:
            s = d.connect()
            started = time.monotonic()
            self.assertEqual(read_until_eof(s), REPLY_521 * 2)
            self.assertLess(time.monotonic() - started, 3)
            self.assertEqual(d.conn_line(closed(s))["reason"], "idle_timeout")

    def test_session_time_is_bounded_even_for_a_busy_client(self):
        config = QUIT_CONFIG.replace("idle_timeout = 1;", "idle_timeout = 2; session_timeout = 1.5;")
        with Daemon(config) as d:
            s = d.connect()
            for _ in range(8):
                try:
                    s.sendall(b"NOOP\r\n")
                except OSError:
                    break
                time.sleep(0.25)
            self.assertEqual(d.conn_line(closed(s))["reason"], "session_timeout")

    def test_too_many_commands_end_the_session(self):
        with Daemon(QUIT_CONFIG + "max_commands = 3;") as d:
            s = d.connect()
            s.sendall(b"NOOP\r\n" * 10)
            data = read_until_eof(s)
            self.assertTrue(data.startswith(REPLY_521) and data.endswith(REPLY_521))
            self.assertNotIn(b"221", data)
            self.assertEqual(d.conn_line(closed(s))["reason"], "max_commands")

    def test_overlong_line_ends_the_session_with_500(self):
        with Daemon(QUIT_CONFIG) as d:
            s = d.connect()
            s.sendall(b"NOOP " + b"x" * 600 + b"\r\nQUIT\r\n")
            self.assertEqual(read_until_eof(s), REPLY_521 + b"500 5.5.2 Line too long\r\n")
            self.assertEqual(d.conn_line(closed(s))["reason"], "line_too_long")

    def test_client_that_never_reads_cannot_pile_up_replies(self):
        with Daemon(QUIT_CONFIG + "max_commands = 10000; drain_timeout = 1;") as d:
            s = d.connect()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.setblocking(False)
            sent = 0
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and sent < 8 * 1024 * 1024:
                try:
                    sent += s.send(b"NOOP\r\n" * 1000)
                except BlockingIOError:
                    time.sleep(0.05)
                except OSError:
                    break
            # The daemon stopped reading while its replies could not go out, so the
            # client's sends stalled long before 8 MiB; the session still ends.
            self.assertLess(sent, 8 * 1024 * 1024)
            line = d.conn_line(s.getsockname()[1], timeout=10)
            self.assertIn(line["reason"], ("idle_timeout", "max_commands", "timeout"))
            s.close()
            other = d.connect()
            self.assertTrue(read_until_eof(other).startswith(b"521-"))
            other.close()


class RcptModeTest(unittest.TestCase):
    def test_sendmail_is_refused_per_recipient_with_550(self):
        with Daemon(RCPT_CONFIG) as d:
            client = smtplib.SMTP("127.0.0.1", d.ports["127.0.0.1"], timeout=5)
            code, ehlo = client.ehlo("client.example")
            self.assertEqual(code, 250)
            self.assertNotIn(b"STARTTLS", ehlo)
            self.assertNotIn(b"AUTH", ehlo)
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
                client.sendmail("a@client.example", ["b@mx.example.test", "c@mx.example.test"],
                                "Subject: hi\r\n\r\nhello\r\n")
            self.assertEqual(cm.exception.recipients, {
                "b@mx.example.test": (550, b"5.1.2 mx.example.test does not accept mail"),
                "c@mx.example.test": (550, b"5.1.2 mx.example.test does not accept mail"),
            })
            self.assertEqual(client.quit()[0], 221)
            line = d.wait_for(lambda f: f.get("event") == "conn")[0]
            self.assertEqual(line["reason"], "quit")

    def test_configured_rcpt_reply_and_sequence_errors(self):
        config = RCPT_CONFIG + 'rcpt_reply = "554 5.7.1 %h is a send-only host";\n'
        with Daemon(config) as d:
            client = smtplib.SMTP("::1", d.ports["::1"], timeout=5)
            codes = [client.docmd("DATA")[0], client.docmd("RCPT TO:<b@x.example>")[0],
                     client.helo("client.example")[0], client.docmd("MAIL FROM:<>")[0],
                     client.docmd("MAIL FROM:<>")[0]]
            self.assertEqual(codes, [503, 503, 250, 250, 503])
            self.assertEqual(client.docmd("RCPT TO:<b@mx.example.test>"),
                             (554, b"5.7.1 mx.example.test is a send-only host"))
            self.assertEqual(client.docmd("DATA")[0], 554)
            self.assertEqual([client.rset()[0], client.noop()[0], client.docmd("STARTTLS")[0],
                              client.docmd("BOGUS")[0]], [250, 250, 502, 500])
            client.quit()

    def test_no_reply_is_ever_temporary(self):
        with Daemon(RCPT_CONFIG + "max_commands = 5;") as d:
            s = d.connect()
            s.sendall(b"EHLO a\r\nMAIL FROM:<>\r\nRCPT TO:<b@c>\r\nDATA\r\nFOO\r\nNOOP\r\nNOOP\r\n")
            replies = read_until_eof(s).decode().split("\r\n")[:-1]
            self.assertTrue(replies[0].startswith("220 mx.example.test "))
            self.assertTrue(all(r[0] in "25" for r in replies), replies)
            self.assertTrue(replies[-1].startswith("521 5.3.2 "))
            self.assertEqual(d.conn_line(closed(s))["reason"], "max_commands")


class ListenerIdentityTest(unittest.TestCase):
    def test_each_address_announces_its_own_name_and_mode(self):
        config = """
        hostname = "mx.example.test";
        listen = ( "127.0.0.1:0",
                   { address = "127.0.0.2:0"; hostname = "second.example.test"; },
                   { address = "[::1]:0"; mode = "rcpt"; hostname = "six.example.test"; } );
        """
        with Daemon(config, listeners=3) as d:
            greetings = {}
            for host in ("127.0.0.1", "127.0.0.2", "::1"):
                s = socket.create_connection((host, d.ports[host]), timeout=5)
                greetings[host] = s.recv(200).split(b"\r\n")[0]
                s.close()
            self.assertEqual(greetings, {
                "127.0.0.1": b"521-mx.example.test does not accept mail",
                "127.0.0.2": b"521-second.example.test does not accept mail",
                "::1": b"220 six.example.test ESMTP accepts no mail",
            })


if __name__ == "__main__":
    main()
