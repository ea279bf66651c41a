"""pyxs (its own wire protocol code, no libxenstore) against a XenStore
server: reads, writes, listing, permissions, a transaction, a watch, domain
queries and error names. Prints one line per check and "pyxs: ok" last.

usage: pyxs_client.py SOCKET
"""
import sys

from pyxs import Client, PyXSError

sock = sys.argv[1]


def check(what, got, want):
    if got != want:
        print(f"pyxs: FAIL {what}: got {got!r}, want {want!r}")
        sys.exit(1)
    print(f"pyxs: {what}: {got!r}")


with Client(unix_socket_path=sock) as c:
    c.write(b"/py/a", b"1")
    c.mkdir(b"/py/dir")
    check("read", c.read(b"/py/a"), b"1")
    check("list", sorted(c.list(b"/py")), [b"a", b"dir"])
    check("exists", c.exists(b"/py/nope"), False)
    c.set_perms(b"/py/a", [b"n0", b"r3"])
    check("get_perms", c.get_perms(b"/py/a"), [b"n0", b"r3"])
    try:
        c.read(b"/py/nope")
        check("read missing", "no error", "ENOENT")
    except PyXSError as e:
        check("read missing", e.args[0], 2)  # ENOENT
    check("is_domain_introduced 0", c.is_domain_introduced(0), True)
    check("get_domain_path 7", c.get_domain_path(7), b"/local/domain/7")
    tx = c.transaction()
    check("transaction id", tx > 0, True)
    c.write(b"/py/t", b"in-tx")
    c.commit()
    check("committed", c.read(b"/py/t"), b"in-tx")
    c.delete(b"/py/dir")
    check("rm", c.exists(b"/py/dir"), False)

with Client(unix_socket_path=sock) as c, c.monitor() as m:
    m.watch(b"/py", b"tok")
    events = m.wait()
    first = next(events)
    check("watch registration", (first.path, first.token), (b"/py", b"tok"))
    with Client(unix_socket_path=sock) as other:
        other.write(b"/py/b", b"2")
    second = next(events)
    check("watch event", (second.path, second.token), (b"/py/b", b"tok"))
    m.unwatch(b"/py", b"tok")

print("pyxs: ok")
