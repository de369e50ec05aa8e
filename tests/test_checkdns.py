#!/usr/bin/python3
"""nullmxd check-dns against real DNS servers that this test starts on loopback.

NSD is the authoritative server of the zone below; unbound is a recursive resolver in
front of it (a stub zone) that refuses every other name, so nothing is ever resolved
outside this machine. Every case runs through unbound and again asking NSD directly, as
the man page invites before caches catch up; a name delegated away from NSD's zone is a
referral there. The suggested records are then applied to the zone, NSD reloads it, and
every name they were suggested for must come out ok. The binary comes from $NULLMXD.

As root the test runs in network, mount and PID namespaces of its own (dnsservers.py),
where an interface of its own holds HOST: the cases of an MX that is this host always run.
Exit 77 (skip), with the reason, when NSD or unbound is not installed, or without root
after every other case; under CI=true that is a failure instead.
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from dnsservers import (Nsd, Unbound, enter_namespace, find, free_port, soa_serial,
                        unavailable)

ZONE = "example.test"

# A name of 250 characters: its "_dmarc." owner would be longer than DNS allows.
LONG_LABELS = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 45])
LONG = f"{LONG_LABELS}.{ZONE}"
# An SPF record of about 690 bytes in three strings; what decides comes after byte 449.
NO_PASS = " ".join(f"-ip4:198.51.100.{i}" for i in range(1, 41))
LONG_SENDS = f"v=spf1 {NO_PASS} include:spf.example.net -all"
LONG_QUIET = f"v=spf1 {NO_PASS} -all"


def txt(text):
    """Zone-file TXT data: quoted strings of at most 255 bytes, as the checker prints."""
    parts = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
    return " ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)


IN_NAMESPACE = "NULLMXD_CHECKDNS_NAMESPACE"
# This host's address in the test's namespace (on d0); None outside it.
HOST = "203.0.113.2" if os.environ.get(IN_NAMESPACE) == "1" else None


# owner (relative to ZONE), type, rdata: the zone NSD serves. TTL 0: nothing is cached,
# so unbound sees a reloaded zone at once.
RECORDS = [
    ("null", "MX", "0 ."),
    ("mixed", "MX", "0 ."),
    ("mixed", "MX", "10 mx.example.test."),
    ("addr", "A", "192.0.2.1"),
    ("addr", "AAAA", "2001:db8::1"),
    ("local", "A", "127.0.0.1"),
    ("real", "MX", "10 mx.example.test."),
    ("mx", "A", "192.0.2.25"),
    ("realhere", "MX", "10 localhost.example.test."),
    ("localhost", "A", "127.0.0.1"),
    ("localhost", "AAAA", "::1"),
    ("sender", "MX", "0 ."),
    ("sender", "TXT", '"v=spf1 ip4:192.0.2.0/24 include:spf.example.net -all"'),
    ("quiet", "MX", "0 ."),
    ("quiet", "TXT", '"v=spf1 -all"'),
    ("_dmarc.quiet", "TXT", '"v=DMARC1; p=reject;"'),
    ("soft", "MX", "0 ."),
    ("soft", "TXT", '"v=spf1 mx ~all"'),
    ("_dmarc.soft", "TXT", '"v=DMARC1; p=none; rua=mailto:d@example.test"'),
    ("pref", "MX", "10 ."),
    ("empty", "TXT", '"not an spf record"'),
    # 1. a name whose _dmarc owner cannot exist
    (LONG_LABELS, "MX", "0 ."),
    (LONG_LABELS, "TXT", '"v=spf1 -all"'),
    # 2. long SPF records
    ("longsends", "MX", "0 ."),
    ("longsends", "TXT", txt(LONG_SENDS)),
    ("longquiet", "MX", "0 ."),
    ("longquiet", "TXT", txt(LONG_QUIET)),
    # 3. two DMARC records
    ("dmarc2", "MX", "0 ."),
    ("dmarc2", "TXT", '"v=spf1 -all"'),
    ("_dmarc.dmarc2", "TXT", '"v=DMARC1; p=reject"'),
    ("_dmarc.dmarc2", "TXT", '"v=DMARC1; p=none"'),
    # 4. aliases
    ("alias", "CNAME", "target.example.test."),
    ("target", "A", "192.0.2.7"),
    ("alias2", "CNAME", "target2.example.test."),
    ("target2", "MX", "0 ."),
    ("target2", "TXT", '"v=spf1 ~all"'),
    ("_dmarc.alias2", "TXT", '"v=DMARC1; p=reject"'),
    ("outalias", "CNAME", "www.elsewhere.test."),
    # 5. terms after all
    ("afterall", "MX", "0 ."),
    ("afterall", "TXT", '"v=spf1 -all include:spf.example.net"'),
    # 6. blanks around "="
    ("spaced", "MX", "0 ."),
    ("spaced", "TXT", '"v=spf1 -all"'),
    ("_dmarc.spaced", "TXT", '"v=DMARC1; p = reject"'),
    # 7. five MX hosts, the last in zone order (NSD's answer order) the local host
    ("manymx", "MX", "10 mx1.example.test."),
    ("manymx", "MX", "20 mx2.example.test."),
    ("manymx", "MX", "30 mx3.example.test."),
    ("manymx", "MX", "40 mx4.example.test."),
    ("manymx", "MX", "5 localhost.example.test."),
    ("mx1", "A", "192.0.2.11"),
    ("mx2", "A", "192.0.2.12"),
    ("mx3", "A", "192.0.2.13"),
    ("mx4", "A", "192.0.2.14"),
    # 8. MX hosts that cannot be used
    ("deadmx", "MX", "10 nohost.example.test."),
    ("deadmx", "MX", "20 empty.example.test."),
    ("halfmx", "MX", "10 mx.example.test."),
    ("halfmx", "MX", "20 nohost.example.test."),
    # 9. an unknown SPF mechanism
    ("badspf", "MX", "0 ."),
    ("badspf", "TXT", '"v=spf1 ipv4:192.0.2.1 -all"'),
    # 10. a delegation: NSD refers, it does not answer
    ("sub", "NS", "ns.sub.example.test."),
    ("ns.sub", "A", "127.0.0.1"),
    # 8. more MX hosts than are checked, the first 16 unusable
    *[("many18", "MX", f"{i} gone{i}.example.test.") for i in range(1, 17)],
    ("many18", "MX", "20 mx.example.test."),
    ("many18", "MX", "30 mx1.example.test."),
    # 8. an MX host in a zone NSD delegated: asked directly, its lookup fails
    ("refmx", "MX", "10 mx.sub.example.test."),
    # 8. the resolver stops answering after the first MX host (test_resolver_dies)
    ("cutmx", "MX", "10 nohost.example.test."),
    ("cutmx", "MX", "20 mx.example.test."),
    # JSON independent of RRset order
    ("many", "A", "192.0.2.44"),
    ("many", "A", "192.0.2.41"),
    ("many", "A", "192.0.2.43"),
    ("many", "A", "192.0.2.42"),
]
if HOST:
    RECORDS += [
        ("realhost", "MX", "10 mxlocal.example.test."),
        ("mxlocal", "A", HOST),
        # README setup c: every MX this host, in rcpt mode (--rcpt-mode)
        ("rcptquiet", "MX", "10 mxlocal.example.test."),
        ("rcptquiet", "TXT", '"v=spf1 -all"'),
        ("_dmarc.rcptquiet", "TXT", '"v=DMARC1; p=reject"'),
        ("rcptmixed", "MX", "10 mxlocal.example.test."),
        ("rcptmixed", "MX", "20 mx.example.test."),
        ("rcptsender", "MX", "10 mxlocal.example.test."),
        ("rcptsender", "TXT", '"v=spf1 ip4:192.0.2.0/24 -all"'),
        # 16 MX hosts this host, then two elsewhere that check-dns does not look up
        *[("rcptmany", "MX", f"{i} here{i}.example.test.") for i in range(1, 17)],
        *[(f"here{i}", "A", HOST) for i in range(1, 17)],
        ("rcptmany", "MX", "20 mx.example.test."),
        ("rcptmany", "MX", "30 mx1.example.test."),
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


def zone_line(owner, rtype, rdata):
    return f"{fqdn(owner)}. IN {rtype} {rdata}"


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Zone:
    def __init__(self, workdir):
        self.path = os.path.join(workdir, f"{ZONE}.zone")
        self.lines = [zone_line(*r) for r in RECORDS]
        self.serial = 1

    def write(self):
        head = [
            "$TTL 0",
            f"{ZONE}. IN SOA ns.{ZONE}. hostmaster.{ZONE}. {self.serial} 3600 600 86400 0",
            f"{ZONE}. IN NS ns.{ZONE}.",
            f"ns.{ZONE}. IN A 127.0.0.1",
        ]
        with open(self.path, "w") as f:
            f.write("\n".join(head + self.lines) + "\n")
        # NSD rereads a zone file on SIGHUP only when its mtime changed.
        os.utime(self.path, (self.serial * 1000, self.serial * 1000))


def run(*args, timeout=30):
    start_time = time.monotonic()
    p = subprocess.run(
        [os.environ["NULLMXD"], "check-dns", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return p, time.monotonic() - start_time


def suggestion_lines(suggested):
    lines = []
    for record, replaces in suggested:
        lines += [f"; replace: {old}" for old in replaces] + [record]
    return lines


def check_text(resolver, name, verdict, status, phrases=(), suggested=(), tag="", opts=()):
    p, _ = run(*opts, "--resolver", resolver, name)
    out = p.stdout
    what = f"{name[:40]}{tag}"
    check(p.returncode == status, f"{what}: exit {p.returncode}, want {status}", out + p.stderr)
    check(out.startswith(f"{name}: {verdict}\n"), f"{what}: verdict {verdict}", out)
    for phrase in phrases:
        check(phrase in out, f"{what}: text has {phrase!r}", out)
    lines = out.splitlines()
    block = []
    if f"; suggested records for {name}" in lines:
        block = lines[lines.index(f"; suggested records for {name}") + 1:]
    check(block == suggestion_lines(suggested), f"{what}: suggested {list(suggested)}", out)
    return out


def check_json(resolver, name, verdict, status, codes=(), suggested=(), tag="", opts=()):
    p, _ = run(*opts, "--json", "--resolver", resolver, name)
    what = f"{name[:40]}{tag} json"
    check(p.returncode == status, f"{what}: exit {p.returncode}, want {status}", p.stdout)
    try:
        doc = json.loads(p.stdout)
    except ValueError as e:
        check(False, f"{what}: parses ({e})", p.stdout)
        return None
    check(isinstance(doc, list) and len(doc) == 1, f"{what}: one object", p.stdout)
    obj = doc[0]
    check(obj.get("name") == name, f"{what}: name", p.stdout)
    check(obj.get("verdict") == verdict, f"{what}: verdict {verdict}", p.stdout)
    got_codes = [f["code"] for f in obj.get("findings", [])]
    for code in codes:
        if code.startswith("!"):
            check(code[1:] not in got_codes, f"{what}: no finding {code[1:]}", p.stdout)
        else:
            check(code in got_codes, f"{what}: finding {code}", p.stdout)
    for f in obj.get("findings", []):
        check(set(f) == {"severity", "code", "message"}, f"{what}: finding keys", p.stdout)
    want = [{"record": rec, "replaces": list(reps)} for rec, reps in suggested]
    check(obj.get("suggested") == want, f"{what}: suggested {want}", p.stdout)
    return obj


def add(owner, rtype, rdata):
    return (f"{owner}. IN {rtype} {rdata}", [])


def replace(owner, rtype, rdata, *old):
    return (f"{owner}. IN {rtype} {rdata}", [f"{owner}. IN {rtype} {o}" for o in old])


def suggested_quiet(label, mx=True, at=None):
    """MX, SPF and DMARC for a name that never sends; at: its CNAME's target."""
    owner = fqdn(at or label)
    recs = [add(owner, "MX", "0 .")] if mx else []
    return recs + [add(owner, "TXT", '"v=spf1 -all"'),
                   add(f"_dmarc.{fqdn(label)}", "TXT", '"v=DMARC1; p=reject;"')]


# name, verdict, exit status, phrases in the text, codes in JSON ("!code": absent),
# suggested records as (record, [records it replaces])
CASES = [
    (fqdn("null"), "ok", 0, ["only MX", "no SPF record"], ["null-mx", "spf-missing", "dmarc-missing"],
     suggested_quiet("null", mx=False)),
    (fqdn("mixed"), "error", 2, ["must be the only MX", "RFC 7505 section 3"], ["null-mx-mixed"],
     suggested_quiet("mixed", mx=False)),
    (fqdn("addr"), "warning", 1, ["192.0.2.1, 2001:db8::1 are an implicit MX", "RFC 5321 section 5.1",
     "none of these addresses is this host's"], ["implicit-mx", "not-this-host"],
     suggested_quiet("addr")),
    (fqdn("local"), "warning", 1, ["127.0.0.1 is an implicit MX", "127.0.0.1 is an address of this host"],
     ["implicit-mx", "this-host"], suggested_quiet("local")),
    (fqdn("real"), "ok", 0, ["receives mail at its MX mx.example.test. (10)"], ["real-mx"], []),
    # MX 10 localhost.: said once, as a loopback address, not per address of this host
    (fqdn("realhere"), "error", 2, ["MX host localhost.example.test. (10) has a loopback address",
     "loops back", 'replace its MX records with "realhere.example.test. IN MX 0 ."'],
     ["mx-loopback", "mx-unusable", "!mx-is-this-host", "!real-mx"], []),
    (fqdn("sender"), "warning", 1, ["authorizes senders (ip4:192.0.2.0/24)", "550 5.7.27",
     "RFC 7505 section 4.2", "Return-Path"], ["null-mx-sender"], []),
    (fqdn("quiet"), "ok", 0, ['SPF "v=spf1 -all" authorizes no sender', "DMARC"],
     ["null-mx", "spf-no-sender", "dmarc-reject"], []),
    # 11. replacements, not a second record; DMARC keeps its other tags
    (fqdn("soft"), "ok", 0, ["does not end in -all", "p=none"], ["spf-not-fail", "dmarc-weak"],
     [replace(fqdn("soft"), "TXT", '"v=spf1 -all"', '"v=spf1 mx ~all"'),
      replace("_dmarc." + fqdn("soft"), "TXT", '"v=DMARC1; p=reject; rua=mailto:d@example.test"',
              '"v=DMARC1; p=none; rua=mailto:d@example.test"')]),
    (fqdn("pref"), "warning", 1, ["preference 10"], ["null-mx-preference"],
     [replace(fqdn("pref"), "MX", "0 .", "10 .")] + suggested_quiet("pref", mx=False)),
    (fqdn("empty"), "warning", 1, ["no MX and no A/AAAA records"], ["no-mx-no-address"],
     suggested_quiet("empty")),
    (fqdn("nothing"), "warning", 1, ["does not exist (NXDOMAIN)"], ["nxdomain"], []),
    # 1. no DMARC lookup for a name whose _dmarc owner cannot exist
    (LONG, "ok", 0, ["no DMARC record can exist", "RFC 1035 section 2.3.4"],
     ["dmarc-name-too-long", "spf-no-sender", "!lookup-failed"], []),
    # 2. SPF records read whole
    (fqdn("longsends"), "warning", 1, ["authorizes senders (include:spf.example.net)"],
     ["null-mx-sender"], []),
    (fqdn("longquiet"), "ok", 0, [f'SPF "{LONG_QUIET}" authorizes no sender'],
     ["spf-no-sender", "!spf-not-fail"], suggested_quiet("longquiet", mx=False)[1:]),
    # 3. two DMARC records, whatever the order
    (fqdn("dmarc2"), "warning", 1, ["2 DMARC records", "RFC 7489 section 6.6.3"], ["dmarc-multiple"],
     [replace("_dmarc." + fqdn("dmarc2"), "TXT", '"v=DMARC1; p=reject"', '"v=DMARC1; p=none"',
              '"v=DMARC1; p=reject"')]),
    # 4. records for an alias go at its target
    (fqdn("alias"), "warning", 1, ["alias (CNAME) of target.example.test.", "192.0.2.7 is an implicit MX"],
     ["alias", "implicit-mx"], suggested_quiet("alias", at="target")),
    (fqdn("alias2"), "ok", 0, ["alias (CNAME) of target2.example.test."], ["alias", "spf-not-fail"],
     [replace(fqdn("target2"), "TXT", '"v=spf1 -all"', '"v=spf1 ~all"')]),
    # 5. terms after all are ignored
    (fqdn("afterall"), "ok", 0, ["authorizes no sender"], ["spf-no-sender", "!null-mx-sender"],
     suggested_quiet("afterall", mx=False)[1:]),
    # 6. p = reject
    (fqdn("spaced"), "ok", 0, ["DMARC \"v=DMARC1; p = reject\""], ["dmarc-reject"], []),
    # 7. every MX host, in preference order
    (fqdn("manymx"), "error", 2, ["mx1.example.test. (10)", "localhost.example.test. (5)"],
     ["mx-loopback", "real-mx"], []),
    # 8. MX hosts that cannot be used
    (fqdn("deadmx"), "warning", 1, ["nohost.example.test. (10) does not exist",
     "empty.example.test. (20) has no A or AAAA record", "RFC 5321 section 5.1",
     'replace its MX records with "deadmx.example.test. IN MX 0 ."'],
     ["mx-host-unusable", "mx-unusable", "!real-mx"], []),
    (fqdn("halfmx"), "warning", 1, ["nohost.example.test. (20) does not exist"],
     ["mx-host-unusable", "real-mx", "!mx-unusable"], []),
    # Beyond 16 MX hosts nothing is looked up: the name does not pass for one that
    # receives mail.
    (fqdn("many18"), "warning", 1, ["gone16.example.test. (16) does not exist",
     "has 18 MX hosts: the first 16 in preference order cannot receive mail",
     "the rest (2) were not looked up"],
     ["mx-host-unusable", "mx-too-many", "!real-mx", "!mx-unusable"], []),
    # 9. an unknown mechanism makes the record a permanent error
    (fqdn("badspf"), "warning", 1, ['unknown mechanism, "ipv4:192.0.2.1"', "RFC 7208 section 4.6"],
     ["spf-invalid"], []),
]
if HOST:
    CASES += [
        (fqdn("realhost"), "error", 2, [f"has address {HOST}, which is this host's",
         "must not be an MX", "--rcpt-mode"], ["mx-is-this-host", "!real-mx", "!rcpt-mx"], []),
        # Without --rcpt-mode, setup c is still a 521 host named as an MX.
        (fqdn("rcptquiet"), "error", 2, [], ["mx-is-this-host", "!rcpt-mx", "!spf-no-sender",
                                             "!real-mx"], []),
        (fqdn("rcptmany"), "error", 2, [], ["mx-is-this-host", "!real-mx", "!mx-too-many"], []),
    ]

# With --rcpt-mode: an MX naming this host is README setup c. Names whose MX is
# elsewhere are judged as without it (RCPT_SAME).
RCPT_CASES = []
if HOST:
    RCPT_CASES = [
        (fqdn("realhost"), "ok", 0, [f"MX host mxlocal.example.test. has address {HOST}",
         "refuses every RCPT TO permanently", "no SPF record"],
         ["rcpt-mx", "spf-missing", "dmarc-missing", "!mx-is-this-host", "!real-mx"],
         suggested_quiet("realhost", mx=False)),
        (fqdn("rcptquiet"), "ok", 0, ['SPF "v=spf1 -all" authorizes no sender'],
         ["rcpt-mx", "spf-no-sender", "dmarc-reject", "!real-mx"], []),
        # A sender reaching mx.example.test. delivers, one reaching this host bounces.
        (fqdn("rcptmixed"), "error", 2, ["MX hosts both here", "mxlocal.example.test. (10), "
         "mx.example.test. (20)"], ["rcpt-mx", "rcpt-mx-mixed", "!real-mx"], []),
        # A bounce domain must not point its MX at a host that refuses all mail.
        (fqdn("rcptsender"), "warning", 1, ["authorizes senders (ip4:192.0.2.0/24)",
         "refuses every recipient", "bounce (Return-Path) domain"],
         ["rcpt-mx", "rcpt-mx-sender", "!null-mx-sender"], []),
        # The 17th MX host may be elsewhere: not ok, as check-dns cannot tell.
        (fqdn("rcptmany"), "warning", 1, ["the first 16 in preference order are this host",
         "the rest (2) were not looked up"],
         ["rcpt-mx", "mx-too-many", "!rcpt-mx-mixed", "!real-mx"], []),
        # This host's address as an implicit MX: refused at RCPT TO, not with 521.
        (fqdn("local"), "warning", 1, ["senders connect and are refused at RCPT TO"],
         ["implicit-mx", "this-host"], suggested_quiet("local")),
    ]
RCPT_SAME = [c for c in CASES
             if c[0] not in {fqdn(n) for n in ("realhost", "rcptquiet", "rcptmany", "local")}]

# The names whose suggestions, applied, must leave them ok.
# (Not mixed: which of its MX records go is the operator's choice.)
FIXABLE = [fqdn(n) for n in ("null", "addr", "local", "pref", "empty", "soft", "longquiet",
                             "dmarc2", "alias", "alias2", "afterall")]
# With --rcpt-mode: SPF and DMARC for a name whose every MX is this host, no null MX.
FIXABLE_RCPT = [fqdn("realhost")] if HOST else []


def test_cases(resolver, tag, cases=CASES, opts=()):
    for name, verdict, status, phrases, codes, suggested in cases:
        check_text(resolver, name, verdict, status, phrases, suggested, tag, opts)
        check_json(resolver, name, verdict, status, codes, suggested, tag, opts)


def test_rcpt_mode(resolver, tag):
    opts = ("--rcpt-mode",)
    test_cases(resolver, f"{tag} --rcpt-mode", RCPT_CASES + RCPT_SAME, opts)
    p, _ = run("--json", "--rcpt-mode", "--resolver", resolver, fqdn("null"), fqdn("real"))
    check(p.returncode == 0, "--rcpt-mode: ok names together exit 0", p.stdout)
    if HOST:
        p, _ = run("--rcpt-mode", "--resolver", resolver, fqdn("rcptquiet"), fqdn("rcptsender"))
        check(p.returncode == 1, "--rcpt-mode: a bounce domain at this host exits 1", p.stdout)


def test_all_ok_ones_verdict_quiet(resolver):
    quiet = check_text(resolver, fqdn("quiet"), "ok", 0)
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


def test_long_name_keeps_resolver(resolver):
    """The long name's impossible lookup does not mark the resolver dead (item 1)."""
    p, _ = run("--resolver", resolver, LONG, fqdn("quiet"))
    check(p.returncode == 0, f"long name then another: exit {p.returncode}", p.stdout)
    check(f"{fqdn('quiet')}: ok" in p.stdout and "not checked" not in p.stdout,
          "long name: the next name is checked", p.stdout)


def test_order_independent(resolver):
    """unbound rotates RRsets: messages list them sorted, so runs agree byte for byte."""
    outs = {run("--json", "--resolver", resolver, fqdn("many"), fqdn("manymx"), fqdn("dmarc2"))[0].stdout
            for _ in range(6)}
    check(len(outs) == 1, f"json is the same across RRset orders ({len(outs)} variants)",
          "\n".join(outs))
    check("192.0.2.41, 192.0.2.42, 192.0.2.43, 192.0.2.44 are an implicit MX" in min(outs),
          "addresses are sorted", min(outs))


def test_referral(nsd_resolver):
    """NSD asked about a name it delegated: a referral, not NODATA (item 10)."""
    name = "x.sub." + ZONE
    p, _ = run("--resolver", nsd_resolver, name)
    check(p.returncode == 69, f"referral exits 69, got {p.returncode}", p.stdout + p.stderr)
    check(p.stdout.startswith(f"{name}: unknown\n") and "referral" in p.stdout
          and "suggested" not in p.stdout, "referral is reported, nothing suggested", p.stdout)
    check_json(nsd_resolver, name, "unknown", 69, ["referral"], [], " (nsd)")
    p, _ = run("--resolver", nsd_resolver, name, fqdn("null"))
    check(f"{fqdn('null')}: ok" in p.stdout, "a referral does not stop the next name", p.stdout)
    # NSD stops a CNAME chain at the edge of its zone: the target is asked for, not
    # taken for a name without records.
    check_json(nsd_resolver, fqdn("outalias"), "unknown", 69, ["alias", "lookup-failed"], [],
               " (nsd)")
    # An MX host there: its lookup is a referral, so whether the name receives mail is
    # not known (item 8).
    check_text(nsd_resolver, fqdn("refmx"), "unknown", 69,
               ["not every MX host of refmx.example.test was looked up (1 of 1"], [], " (nsd)")
    check_json(nsd_resolver, fqdn("refmx"), "unknown", 69, ["referral", "mx-not-checked",
               "!real-mx"], [], " (nsd)")


class Cutoff:
    """A resolver that relays some questions to NSD and leaves every other unanswered:
    it stops answering partway through a check, as a resolver that dies does, whatever
    the timing."""

    def __init__(self, nsd_port, answered):
        self.nsd_port, self.answered = nsd_port, answered
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.serve)
        self.thread.start()

    @staticmethod
    def question(query):
        """(name, type) of a query, the name with its final dot, lower case."""
        off, labels = 12, []
        while query[off]:
            labels.append(query[off + 1:off + 1 + query[off]].decode().lower())
            off += query[off] + 1
        return ".".join(labels) + ".", struct.unpack(">H", query[off + 1:off + 3])[0]

    def serve(self):
        while not self.stopping:
            try:
                query, client = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            if self.question(query) not in self.answered:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(10)
                up.sendto(query, ("127.0.0.1", self.nsd_port))
                self.sock.sendto(up.recv(65535), client)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.thread.join()
        self.sock.close()


def test_resolver_dies(nsd_port):
    """Answered: the MX lookup and the first MX host's (it does not exist); then silence.
    The name is unknown, never a name that receives mail (item 8), and the next name is
    not checked."""
    name = fqdn("cutmx")
    answered = {(name + ".", 15), (fqdn("nohost") + ".", 1), (fqdn("nohost") + ".", 28)}
    with Cutoff(nsd_port, answered) as server:
        p, _ = run("--json", "--resolver", f"127.0.0.1:{server.port}", name, fqdn("null"))
    what = "resolver dies mid-check"
    check(p.returncode == 69, f"{what}: exit {p.returncode}, want 69", p.stdout + p.stderr)
    doc = json.loads(p.stdout)
    codes = [[f["code"] for f in obj["findings"]] for obj in doc]
    check(doc[0]["verdict"] == "unknown", f"{what}: unknown", p.stdout)
    check({"mx-host-unusable", "lookup-failed", "mx-not-checked"} <= set(codes[0])
          and "real-mx" not in codes[0], f"{what}: MX hosts not all checked", p.stdout)
    check("not every MX host of cutmx.example.test was looked up (1 of 2" in p.stdout,
          f"{what}: says how many", p.stdout)
    check(codes[1] == ["not-checked"], f"{what}: the next name is not checked", p.stdout)


def test_refused(resolver):
    p, _ = run("--resolver", resolver, "x.refused.test")
    check(p.returncode == 69, f"REFUSED exits 69, got {p.returncode}", p.stdout + p.stderr)
    check("unknown: MX lookup for x.refused.test. failed:" in p.stdout and "answered REFUSED" in p.stdout,
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
                 ["--resolver", "[::1", "a.test"], ["--resolver"], ["--resolver", "::1:5353", "a.test"],
                 ["bücher.example"], ["a" * 254 + ".test"]):
        p, elapsed = run(*args, timeout=10)
        check(p.returncode == 64, f"usage {args}: exit {p.returncode}, want 64", p.stdout + p.stderr)
        check(p.stdout == "" and p.stderr != "", f"usage {args}: message on stderr only", p.stderr)
        check(elapsed < 2, f"usage {args}: no lookup ({elapsed:.1f}s)")
    p, _ = run("--resolver", "::1:5353", "a.test")
    check("[::1]:5353" in p.stderr, "::1:5353 hints at [::1]:5353", p.stderr)
    p, _ = run("bücher.example")
    check("xn--bcher-kva.example" in p.stderr, "a UTF-8 name gets its IDNA form", p.stderr)
    p, _ = run("--help")
    check(p.returncode == 0 and "usage: nullmxd check-dns" in p.stdout, "--help", p.stdout)


def test_dead_resolver():
    # Nothing listens on this port: queries are lost or refused, never answered.
    port = free_port("127.0.0.1")
    p, elapsed = run("--resolver", f"127.0.0.1:{port}", fqdn("null"), fqdn("quiet"), timeout=30)
    check(p.returncode == 69, f"dead resolver exits 69, got {p.returncode}", p.stdout + p.stderr)
    check("no answer from 127.0.0.1 port" in p.stdout, "dead resolver: says no answer", p.stdout)
    check("not checked" in p.stdout, "dead resolver: later names are not tried", p.stdout)
    check(elapsed < 15, f"dead resolver fails in a few seconds ({elapsed:.1f}s)")
    p, _ = run("--json", "--resolver", f"127.0.0.1:{port}", fqdn("null"), timeout=30)
    doc = json.loads(p.stdout)
    check(p.returncode == 69 and doc[0]["verdict"] == "unknown", "dead resolver json: unknown", p.stdout)


def test_timeout():
    """A server that reads and never answers: the message says it timed out, and where."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        p, _ = run("--resolver", f"127.0.0.1:{port}", fqdn("null"), timeout=30)
    check(p.returncode == 69, f"timeout exits 69, got {p.returncode}", p.stdout)
    check(re.search(rf"timed out: no answer from 127\.0\.0\.1 port {port} in \d+\.\d s", p.stdout),
          "timeout: says timed out, the server and how long", p.stdout)


def apply_suggestions(zone, resolver, names, opts=()):
    """Every suggestion for names, applied: its replaced records deleted, it added."""
    p, _ = run(*opts, "--json", "--resolver", resolver, *names)
    doc = json.loads(p.stdout)
    norm = lambda l: " ".join(l.split()).lower()
    for obj in doc:
        check(obj["suggested"], f"{obj['name']}: something to apply", p.stdout)
        for s in obj["suggested"]:
            for old in s["replaces"]:
                hits = [l for l in zone.lines if norm(l) == norm(old)]
                check(len(hits) == 1, f"{obj['name']}: replaced record {old!r} is in the zone")
                zone.lines = [l for l in zone.lines if norm(l) != norm(old)]
            zone.lines.append(s["record"])


def test_suggestions_fix(nsd, zone, nsd_port, resolvers):
    """Applied as printed, the suggestions leave a valid zone, and every name ok."""
    apply_suggestions(zone, resolvers[0], FIXABLE)
    if FIXABLE_RCPT:
        apply_suggestions(zone, resolvers[0], FIXABLE_RCPT, ("--rcpt-mode",))
    zone.serial += 1
    zone.write()
    chk = subprocess.run([shutil.which("nsd-checkzone", path="/usr/sbin:/sbin") or "nsd-checkzone",
                          ZONE, zone.path], capture_output=True, text=True, timeout=30)
    check(chk.returncode == 0, "the zone with the suggestions applied loads", chk.stdout + chk.stderr)
    nsd.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and soa_serial("127.0.0.1", nsd_port, ZONE) != zone.serial:
        time.sleep(0.1)
    check(soa_serial("127.0.0.1", nsd_port, ZONE) == zone.serial, "NSD reloaded the zone")
    for resolver in resolvers:
        for names, opts in ((FIXABLE, ()), (FIXABLE_RCPT, ("--rcpt-mode",))):
            if not names:
                continue
            p, _ = run(*opts, "--json", "--resolver", resolver, *names)
            doc = json.loads(p.stdout)
            check(p.returncode == 0, f"after the suggestions, exit 0 via {resolver} {opts}",
                  p.stdout)
            for obj in doc:
                check(obj["verdict"] == "ok" and obj["suggested"] == [],
                      f"{obj['name']}: ok with nothing more to suggest via {resolver} {opts}",
                      json.dumps(obj))


def network():
    """In the namespace: loopback up, and HOST on an interface of its own, as this host's.
    A veth pair, as kernels without the dummy module have veth."""
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1"],
                ["ip", "addr", "add", f"{HOST}/24", "dev", "d0"],
                ["ip", "link", "set", "d0", "up"], ["ip", "link", "set", "d1", "up"]):
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def main():
    if not find("nsd") or not find("unbound"):
        print("nsd or unbound is not installed: skipping")
        return 77
    if "NULLMXD" not in os.environ:
        print("NULLMXD is not set", file=sys.stderr)
        return 1
    if HOST:
        network()
    elif os.geteuid() == 0:
        enter_namespace(__file__, IN_NAMESPACE)
    ipv6 = have_ipv6_loopback()
    with tempfile.TemporaryDirectory(prefix="nullmxd-dns-") as workdir:
        zone = Zone(workdir)
        zone.write()
        nsd = Nsd(workdir, ZONE, zone.path, zone.serial)
        unbound = None
        try:
            unbound = Unbound(workdir, ZONE, nsd, ipv6=ipv6,
                              extra=['local-zone: "refused.test." always_refuse'])
            resolver, direct = f"127.0.0.1:{unbound.port}", f"127.0.0.1:{nsd.port}"
            test_usage()
            test_cases(resolver, "")
            test_cases(direct, " (nsd)")
            test_rcpt_mode(resolver, "")
            test_rcpt_mode(direct, " (nsd)")
            test_all_ok_ones_verdict_quiet(resolver)
            test_many_names(resolver)
            test_long_name_keeps_resolver(resolver)
            test_order_independent(resolver)
            test_referral(direct)
            test_refused(resolver)
            if ipv6:
                test_ipv6_resolver(unbound.port)
            test_dead_resolver()
            test_timeout()
            test_resolver_dies(nsd.port)
            test_suggestions_fix(nsd.proc, zone, nsd.port, [resolver, direct])
        finally:
            if unbound:
                unbound.stop()
            nsd.stop()
    print(f"{passed} passed, {failed} failed")
    if failed:
        return 1
    if not HOST:
        unavailable("the cases of an MX that is this host need root: they run in a network "
                    "namespace with an address of its own")
    return 0


if __name__ == "__main__":
    sys.exit(main())
