#!/usr/bin/python3
"""nullmxd check-dns against a real DNS server (unbound) that this test starts on loopback.

The binary comes from $NULLMXD. unbound serves only the zone below and refuses every
other name, so nothing is ever resolved outside this machine. Exit 77 (skip) only when
unbound is not installed.
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

ZONE = "example.test"

# name -> records, each as unbound local-data takes it (owner, type, rdata)
RECORDS = [
    ("null", "MX", "0 ."),
    ("mixed", "MX", "0 ."),
    ("mixed", "MX", "10 mx.example.test."),
    ("addr", "A", "192.0.2.1"),
    ("addr", "AAAA", "2001:db8::1"),
    ("local", "A", "127.0.0.1"),
    ("real", "MX", "10 mx.example.test."),
    ("mx", "A", "192.0.2.25"),
    ("realhere", "MX", "10 mxhere.example.test."),
    ("mxhere", "A", "127.0.0.1"),
    ("sender", "MX", "0 ."),
    ("sender", "TXT", '"v=spf1 ip4:192.0.2.0/24 include:spf.example.net -all"'),
    ("quiet", "MX", "0 ."),
    ("quiet", "TXT", '"v=spf1 -all"'),
    ("_dmarc.quiet", "TXT", '"v=DMARC1; p=reject;"'),
    ("soft", "MX", "0 ."),
    ("soft", "TXT", '"v=spf1 mx ~all"'),
    ("_dmarc.soft", "TXT", '"v=DMARC1; p=none"'),
    ("pref", "MX", "10 ."),
    ("empty", "TXT", '"not an spf record"'),
]

passed = 0
failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}" + (f"\n{detail}" if detail else ""), file=sys.stderr)


def fqdn(label):
    return f"{label}.{ZONE}"


def free_port(host, family):
    """A port free for both UDP and TCP on host, for unbound to bind."""
    for _ in range(20):
        with socket.socket(family, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port = u.getsockname()[1]
            with socket.socket(family, socket.SOCK_STREAM) as t:
                try:
                    t.bind((host, port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def unbound_config(workdir, port, ipv6):
    lines = [
        "server:",
        "  interface: 127.0.0.1",
        "  interface: ::1" if ipv6 else "",
        f"  port: {port}",
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
        # Nothing outside our zone is ever looked up elsewhere.
        '  local-zone: "." refuse',
        f'  local-zone: "{ZONE}." static',
        '  local-zone: "refused.test." always_refuse',
    ]
    for owner, rtype, rdata in RECORDS:
        lines.append(f"  local-data: '{fqdn(owner)}. 300 IN {rtype} {rdata}'")
    lines += ["remote-control:", "  control-enable: no", ""]
    path = os.path.join(workdir, "unbound.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def dns_ready(port):
    """One A query over UDP; True once unbound answers."""
    query = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(p)]) + p.encode() for p in fqdn("null").split("."))
    query += b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(query, ("127.0.0.1", port))
            return s.recv(512)[:2] == b"\x42\x42"
        except OSError:
            return False


def start_unbound(unbound, workdir, ipv6):
    port = free_port("127.0.0.1", socket.AF_INET)
    conf = unbound_config(workdir, port, ipv6)
    log = open(os.path.join(workdir, "unbound.log"), "w")
    proc = subprocess.Popen([unbound, "-d", "-c", conf], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if dns_ready(port):
            return proc, port
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    log.close()
    with open(os.path.join(workdir, "unbound.log")) as f:
        sys.exit("unbound did not start:\n" + f.read())


def run(*args, timeout=30):
    start = time.monotonic()
    p = subprocess.run(
        [os.environ["NULLMXD"], "check-dns", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return p, time.monotonic() - start


def check_text(resolver, label, verdict, status, phrases=(), suggested=()):
    name = fqdn(label)
    p, _ = run("--resolver", resolver, name)
    out = p.stdout
    check(p.returncode == status, f"{label}: exit {p.returncode}, want {status}", out + p.stderr)
    check(out.startswith(f"{name}: {verdict}\n"), f"{label}: verdict {verdict}", out)
    for phrase in phrases:
        check(phrase in out, f"{label}: text has {phrase!r}", out)
    records = [l for l in out.splitlines() if l and not l.startswith((" ", ";", name + ":"))]
    check(records == list(suggested), f"{label}: suggested {list(suggested)}", out)
    return out


def check_json(resolver, label, verdict, status, codes=(), suggested=()):
    name = fqdn(label)
    p, _ = run("--json", "--resolver", resolver, name)
    check(p.returncode == status, f"{label} json: exit {p.returncode}, want {status}", p.stdout)
    try:
        doc = json.loads(p.stdout)
    except ValueError as e:
        check(False, f"{label} json: parses ({e})", p.stdout)
        return
    check(isinstance(doc, list) and len(doc) == 1, f"{label} json: one object", p.stdout)
    obj = doc[0]
    check(obj.get("name") == name, f"{label} json: name", p.stdout)
    check(obj.get("verdict") == verdict, f"{label} json: verdict {verdict}", p.stdout)
    got_codes = [f["code"] for f in obj.get("findings", [])]
    for code in codes:
        check(code in got_codes, f"{label} json: finding {code}", p.stdout)
    for f in obj.get("findings", []):
        check(set(f) == {"severity", "code", "message"}, f"{label} json: finding keys", p.stdout)
    check(obj.get("suggested") == list(suggested), f"{label} json: suggested", p.stdout)


def suggested_quiet(label, mx=False):
    name = fqdn(label)
    recs = [f"{name}. IN MX 0 ."] if mx else []
    return recs + [f'{name}. IN TXT "v=spf1 -all"', f'_dmarc.{name}. IN TXT "v=DMARC1; p=reject;"']


# label, verdict, exit status, phrases in the text, codes in JSON, suggested records
CASES = [
    ("null", "ok", 0, ["only MX", "no SPF record"], ["null-mx", "spf-missing", "dmarc-missing"],
     suggested_quiet("null")),
    ("mixed", "error", 2, ["must be the only MX", "RFC 7505 section 3"], ["null-mx-mixed"],
     [f'{fqdn("mixed")}. IN TXT "v=spf1 -all"', f'_dmarc.{fqdn("mixed")}. IN TXT "v=DMARC1; p=reject;"']),
    ("addr", "warning", 1, ["192.0.2.1, 2001:db8::1 are an implicit MX", "RFC 5321 section 5.1",
     "none of these addresses is this host's"], ["implicit-mx", "not-this-host"],
     suggested_quiet("addr", mx=True)),
    ("local", "warning", 1, ["127.0.0.1 is an implicit MX", "127.0.0.1 is an address of this host"],
     ["implicit-mx", "this-host"], suggested_quiet("local", mx=True)),
    ("real", "ok", 0, ["receives mail at its MX mx.example.test. (10)"], ["real-mx"], []),
    ("realhere", "error", 2, ["127.0.0.1, which is this host's", "RFC 1846 section 4.3"],
     ["real-mx", "mx-is-this-host"], []),
    ("sender", "warning", 1, ["authorizes senders (ip4:192.0.2.0/24)", "550 5.7.27",
     "RFC 7505 section 4.2", "Return-Path"], ["null-mx-sender"], []),
    ("quiet", "ok", 0, ['SPF "v=spf1 -all" authorizes no sender', "DMARC"],
     ["null-mx", "spf-no-sender", "dmarc-reject"], []),
    ("soft", "ok", 0, ["does not end in -all", "p=none"], ["spf-not-fail", "dmarc-weak"],
     [f'{fqdn("soft")}. IN TXT "v=spf1 -all"', f'_dmarc.{fqdn("soft")}. IN TXT "v=DMARC1; p=reject;"']),
    ("pref", "warning", 1, ["preference 10"], ["null-mx-preference"], suggested_quiet("pref", mx=True)),
    ("empty", "warning", 1, ["no MX and no A/AAAA records"], ["no-mx-no-address"],
     suggested_quiet("empty", mx=True)),
    ("nothing", "warning", 1, ["does not exist (NXDOMAIN)"], ["nxdomain"], []),
]


def test_cases(resolver):
    for label, verdict, status, phrases, codes, suggested in CASES:
        check_text(resolver, label, verdict, status, phrases, suggested)
        check_json(resolver, label, verdict, status, codes, suggested)


def test_all_ok_ones_verdict_quiet(resolver):
    quiet = check_text(resolver, "quiet", "ok", 0)
    check("warning" not in quiet and "info" not in quiet, "quiet: only ok findings", quiet)


def test_many_names(resolver):
    p, _ = run("--resolver", resolver, fqdn("null"), fqdn("quiet") + ".", fqdn("real"))
    check(p.returncode == 0, "ok names together exit 0", p.stdout)
    p, _ = run("--resolver", resolver, fqdn("null"), fqdn("sender"))
    check(p.returncode == 1, "a warning among ok names exits 1", p.stdout)
    p, _ = run("--json", "--resolver", resolver, fqdn("sender"), fqdn("mixed"), fqdn("null"))
    check(p.returncode == 2, "an error among others exits 2", p.stdout)
    doc = json.loads(p.stdout)
    check([o["verdict"] for o in doc] == ["warning", "error", "ok"], "json keeps name order", p.stdout)


def test_refused(resolver):
    p, _ = run("--resolver", resolver, "x.refused.test")
    check(p.returncode == 69, f"REFUSED exits 69, got {p.returncode}", p.stdout + p.stderr)
    check("unknown: MX lookup for x.refused.test. failed: the resolver answered REFUSED" in p.stdout,
          "REFUSED is reported", p.stdout)
    p, _ = run("--resolver", resolver, "x.refused.test", fqdn("null"))
    check(p.returncode == 69 and f"{fqdn('null')}: ok" in p.stdout,
          "a REFUSED name does not stop the next", p.stdout)


def test_ipv6_resolver(port):
    p, _ = run("--resolver", f"[::1]:{port}", fqdn("null"))
    check(p.returncode == 0 and "null MX" in p.stdout, "IPv6 resolver [::1]:PORT", p.stdout + p.stderr)


def test_usage():
    for args in ([], ["--json"], ["--bogus", "a.test"], ["bad name!"], ["a..test"],
                 ["--resolver", "resolver.example", "a.test"], ["--resolver", "127.0.0.1:99999", "a.test"],
                 ["--resolver", "[::1", "a.test"], ["--resolver"]):
        p, elapsed = run(*args, timeout=10)
        check(p.returncode == 64, f"usage {args}: exit {p.returncode}, want 64", p.stdout + p.stderr)
        check(p.stdout == "" and p.stderr != "", f"usage {args}: message on stderr only", p.stderr)
        check(elapsed < 2, f"usage {args}: no lookup ({elapsed:.1f}s)")
    p, _ = run("--help")
    check(p.returncode == 0 and "usage: nullmxd check-dns" in p.stdout, "--help", p.stdout)


def test_dead_resolver():
    port = free_port("127.0.0.1", socket.AF_INET)
    p, elapsed = run("--resolver", f"127.0.0.1:{port}", fqdn("null"), fqdn("quiet"), timeout=30)
    check(p.returncode == 69, f"dead resolver exits 69, got {p.returncode}", p.stdout + p.stderr)
    check("no answer from the resolver" in p.stdout, "dead resolver: says no answer", p.stdout)
    check("not checked" in p.stdout, "dead resolver: later names are not tried", p.stdout)
    check(elapsed < 8, f"dead resolver fails in a few seconds ({elapsed:.1f}s)")
    p, _ = run("--json", "--resolver", f"127.0.0.1:{port}", fqdn("null"), timeout=30)
    doc = json.loads(p.stdout)
    check(p.returncode == 69 and doc[0]["verdict"] == "unknown", "dead resolver json: unknown", p.stdout)


def main():
    unbound = shutil.which("unbound") or shutil.which("unbound", path="/usr/sbin:/sbin")
    if not unbound:
        print("unbound is not installed: skipping")
        return 77
    if "NULLMXD" not in os.environ:
        print("NULLMXD is not set", file=sys.stderr)
        return 1
    ipv6 = have_ipv6_loopback()
    with tempfile.TemporaryDirectory(prefix="nullmxd-dns-") as workdir:
        proc, port = start_unbound(unbound, workdir, ipv6)
        try:
            resolver = f"127.0.0.1:{port}"
            test_usage()
            test_cases(resolver)
            test_all_ok_ones_verdict_quiet(resolver)
            test_many_names(resolver)
            test_refused(resolver)
            if ipv6:
                test_ipv6_resolver(port)
            test_dead_resolver()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
