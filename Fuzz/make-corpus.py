#!/usr/bin/env python3
"""Writes WireFuzz's seed corpus into corpus/ (replacing what is there).

Each file is one client connection: a control byte (whether the client is
dom0 or domain 5, whether the rest is a raw stream or records, how the
stream is cut into reads; see Sources/WireFuzz/WireFuzz.swift), then the
requests. In a raw file they are as libxenstore sends them (xs_wire.h: four
uint32 in host order, then the payload; packed here with struct,
independently of the Swift codec under test). In a "-framed" file the same
requests are records, type and transaction bytes then the payload, which
the target turns into messages: mutations there keep the framing intact.
"""
import os
import struct
import sys

TYPES = dict(
    CONTROL=0, DIRECTORY=1, READ=2, GET_PERMS=3, WATCH=4, UNWATCH=5, TRANSACTION_START=6,
    TRANSACTION_END=7, INTRODUCE=8, RELEASE=9, GET_DOMAIN_PATH=10, WRITE=11, MKDIR=12, RM=13,
    SET_PERMS=14, WATCH_EVENT=15, ERROR=16, IS_DOMAIN_INTRODUCED=17, RESUME=18, SET_TARGET=19,
    RESTRICT=20, RESET_WATCHES=21, DIRECTORY_PART=22,
)

WHOLE, BYTE_BY_BYTE, SMALL_READS, ODD_READS, FRAMED, GUEST = 0x00, 0x08, 0x0A, 0x06, 0x40, 0x80
SEPARATOR = b"\xfe\xed\xfa\xce"


def strings(*parts):
    return b"".join((p if isinstance(p, bytes) else p.encode()) + b"\0" for p in parts)


class Session:
    """Requests with increasing request ids, as one libxenstore handle sends them."""

    def __init__(self):
        self.out = b""
        self.req = 0
        self.records = []
        self.framable = True

    def raw(self, type_, payload, tx=0, length=None):
        self.req += 1
        t = TYPES[type_] if isinstance(type_, str) else type_
        n = len(payload) if length is None else length
        self.out += struct.pack("=IIII", t, self.req, tx, n) + payload
        # Records hold what a well-formed header can say.
        self.framable = self.framable and length is None and tx < 256
        self.records.append(bytes([t % 32, tx]) + payload)
        return self

    def framed(self):
        return SEPARATOR.join(self.records)

    def __call__(self, type_, *args, tx=0):
        return self.raw(type_, strings(*args), tx=tx)

    def write(self, path, value, tx=0):
        # xs_write: the path with its NUL, then the value without one.
        return self.raw("WRITE", strings(path) + (value if isinstance(value, bytes) else value.encode()), tx=tx)


def corpus():
    c = {}

    # Every type once, as libxenstore forms it (or close, for the ones it
    # never sends), and the reply-only and unknown types.
    one = {
        "read": Session()("READ", "/local"),
        "write": Session().write("/a", "value"),
        "mkdir": Session()("MKDIR", "/a/b"),
        "rm": Session()("RM", "/a"),
        "directory": Session()("DIRECTORY", "/"),
        "directory-part": Session()("DIRECTORY_PART", "/", "0"),
        "get-perms": Session()("GET_PERMS", "/"),
        "set-perms": Session()("MKDIR", "/p")("SET_PERMS", "/p", "n0", "r0"),
        "watch": Session()("WATCH", "/w", "token"),
        "unwatch": Session()("UNWATCH", "/w", "token"),
        "transaction-start": Session()("TRANSACTION_START", ""),
        "transaction-end": Session()("TRANSACTION_END", "T", tx=1),
        "introduce": Session()("INTRODUCE", "5", "4096", "12"),
        "release": Session()("RELEASE", "5"),
        "get-domain-path": Session()("GET_DOMAIN_PATH", "5"),
        "is-domain-introduced": Session()("IS_DOMAIN_INTRODUCED", "0"),
        "reset-watches": Session()("RESET_WATCHES", ""),
        "control": Session()("CONTROL", "print", "hello"),
        "resume": Session()("RESUME", "5"),
        "set-target": Session()("SET_TARGET", "5", "6"),
        "restrict": Session()("RESTRICT", "5"),
        "watch-event": Session()("WATCH_EVENT", "/w", "token"),
        "error": Session()("ERROR", "EINVAL"),
        "unknown-type": Session().raw(0xFFFF, strings("/a")),
    }
    for name, s in one.items():
        c["type-" + name] = (WHOLE, s)

    # Conversations.
    c["write-read-rm"] = (WHOLE, Session().write("/local/pci/x", "1")("READ", "/local/pci/x")
                          ("DIRECTORY", "/local/pci")("RM", "/local/pci")("READ", "/local/pci/x"))
    c["binary-value"] = (WHOLE, Session().write("/bin", bytes(range(256)))("READ", "/bin"))
    c["relative-paths"] = (WHOLE, Session().write("data/x", "1")("READ", "data/x")("DIRECTORY", "data")
                           ("GET_PERMS", "data")("RM", "data"))
    c["permissions"] = (WHOLE, Session()("INTRODUCE", "5", "0", "1")("MKDIR", "/p")
                        ("SET_PERMS", "/p", "n5", "r0", "b5")("GET_PERMS", "/p")
                        ("SET_PERMS", "@releaseDomain", "n0", "r5")("GET_PERMS", "@releaseDomain"))
    c["watch-write-unwatch"] = (WHOLE, Session()("WATCH", "/w", "t")("WATCH", "w", "rel").write("/w/a", "1")
                                .write("/local/domain/0/w/b", "2")("RM", "/w")("UNWATCH", "/w", "t")
                                ("UNWATCH", "w", "rel").write("/w/c", "3"))
    c["watch-special"] = (WHOLE, Session()("WATCH", "@introduceDomain", "i")("WATCH", "@releaseDomain", "r")
                          ("INTRODUCE", "7", "0", "3")("IS_DOMAIN_INTRODUCED", "7")("RELEASE", "7")
                          ("IS_DOMAIN_INTRODUCED", "7"))
    c["transaction-commit"] = (WHOLE, Session()("TRANSACTION_START", "")("READ", "/", tx=1)
                               .write("/t/x", "1", tx=1)("MKDIR", "/t/y", tx=1)("DIRECTORY", "/t", tx=1)
                               ("TRANSACTION_END", "T", tx=1)("READ", "/t/x"))
    c["transaction-abort"] = (WHOLE, Session()("TRANSACTION_START", "").write("/t/x", "1", tx=1)
                              ("TRANSACTION_END", "F", tx=1)("READ", "/t/x"))
    # Two transactions of one client: the second commit conflicts (EAGAIN).
    c["transaction-conflict"] = (WHOLE, Session().write("/c", "0")("TRANSACTION_START", "")
                                 ("TRANSACTION_START", "")("READ", "/c", tx=1).write("/c", "2", tx=2)
                                 ("TRANSACTION_END", "T", tx=2).write("/c", "1", tx=1)
                                 ("TRANSACTION_END", "T", tx=1))
    c["transaction-nested"] = (WHOLE, Session()("TRANSACTION_START", "")("TRANSACTION_START", "", tx=1)
                               ("TRANSACTION_END", "T", tx=7)("RESET_WATCHES", "")("READ", "/", tx=1))
    # A child list over 4096 bytes (12 long names, so the input stays
    # small): DIRECTORY says E2BIG, then the parts, from a name's start, from
    # the middle of one and from past the end.
    big = Session()
    for i in range(12):
        big("MKDIR", "/big/%02d-%s" % (i, "x" * 397))
    big("DIRECTORY", "/big")("DIRECTORY_PART", "/big", "0")("DIRECTORY_PART", "/big", "4010")
    big("DIRECTORY_PART", "/big", "3")("DIRECTORY_PART", "/big", "99999")
    c["directory-part-long"] = (WHOLE, big)
    c["domains"] = (WHOLE, Session()("GET_DOMAIN_PATH", "0")("GET_DOMAIN_PATH", "32751")
                    ("INTRODUCE", "9", "123", "4")("INTRODUCE", "9", "123", "4")("RELEASE", "9")("RELEASE", "0"))
    long_token = "t" * 4000
    c["watch-long-token"] = (WHOLE, Session()("MKDIR", "/w")("WATCH", "/w", long_token)
                             .write("/w/" + "n" * 100, "")("MKDIR", "/w/s"))
    c["value-at-the-limit"] = (WHOLE, Session().write("/v", b"v" * (4096 - 3))("READ", "/v"))

    # Malformed requests (EINVAL), each after a good one.
    bad = Session()("MKDIR", "/ok")
    bad.raw("READ", b"/no-nul")
    bad("READ", "/a", "/b")
    bad.raw("READ", b"/\xff\xfe\0")
    bad.raw("WRITE", b"/no-nul-after-path")
    bad("WATCH", "/w")
    bad("WATCH", "/w", "t", "extra")
    bad("TRANSACTION_END", "maybe")
    bad("RELEASE", "dom5")
    bad("GET_DOMAIN_PATH", "-1")
    bad("IS_DOMAIN_INTRODUCED", "99999")
    bad("INTRODUCE", "5", "0", "0")
    bad("DIRECTORY_PART", "/", "-1")
    bad("DIRECTORY_PART", "/", "zero")
    bad("SET_PERMS", "/ok")
    bad("SET_PERMS", "/ok", "x0")
    bad("READ", "a//b")
    bad("READ", "")
    c["malformed"] = (WHOLE, bad)

    # Broken streams: the session stops at the header.
    c["oversize-header"] = (WHOLE, Session()("MKDIR", "/before").raw("WRITE", b"", length=4097)("MKDIR", "/after"))
    c["huge-header"] = (WHOLE, Session().raw("READ", b"", length=0xFFFFFFFF))
    c["truncated"] = (WHOLE, Session()("MKDIR", "/x").raw("WRITE", strings("/half"), length=100))

    # The same conversations cut into reads in other ways, and as domain 5.
    for name in ["write-read-rm", "watch-write-unwatch", "transaction-conflict", "malformed", "oversize-header"]:
        control, s = c[name]
        c[name + "-bytewise"] = (BYTE_BY_BYTE, s)
        c[name + "-small-reads"] = (SMALL_READS, s)
        c[name + "-odd-reads"] = (ODD_READS, s)
    for name in ["write-read-rm", "relative-paths", "permissions", "watch-write-unwatch", "watch-special",
                 "transaction-commit", "domains", "malformed"]:
        control, s = c[name]
        c[name + "-guest"] = (GUEST | SMALL_READS, s)
    # Records for everything that has them.
    for name, (control, s) in list(c.items()):
        if s.framable and control in (WHOLE, GUEST | SMALL_READS):
            c[name + "-framed"] = (control | FRAMED, s)
    return c


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "corpus")
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.remove(os.path.join(out, f))
    for name, (control, s) in sorted(corpus().items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([control]) + (s.framed() if control & FRAMED else s.out))
    print("%d seeds in %s" % (len(os.listdir(out)), out), file=sys.stderr)


if __name__ == "__main__":
    main()
