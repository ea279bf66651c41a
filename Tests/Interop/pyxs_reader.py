"""A Python daemon's view of the PCI database, through pyxs (which has no
XS_DIRECTORY_PART): walk every directory level, read every device's state,
then watch /local/pci and report the first device event.

usage: pyxs_reader.py SOCKET EXPECTED_DEVICES
prints one JSON line with what it listed, then "watching", then the watch event.
"""
import json
import sys

from pyxs import Client

sock, expected = sys.argv[1], int(sys.argv[2])
with Client(unix_socket_path=sock) as c:
    root = b"/local/pci/devices"
    devices, biggest = 0, 0
    states = {}
    for seg in c.list(root):
        segp = root + b"/" + seg
        buses = c.list(segp)
        biggest = max(biggest, sum(len(b) + 1 for b in buses))
        for bus in buses:
            busp = segp + b"/" + bus
            names = c.list(busp)
            biggest = max(biggest, sum(len(n) + 1 for n in names))
            for name in names:
                state = c.read(busp + b"/" + name + b"/state").decode()
                states[state] = states.get(state, 0) + 1
                devices += 1
    print(json.dumps({"devices": devices, "states": states, "largest_directory_bytes": biggest}), flush=True)
    if devices != expected:
        sys.exit(1)

    with c.monitor() as m:
        m.watch(b"/local/pci/devices", b"pcistore-test")
        events = m.wait()
        first = next(events)  # the registration event
        print("watching", first[0].decode(), flush=True)
        for path, token in events:
            p = path.decode()
            if p.endswith("/state"):
                value = c.read(path).decode()
                print("event", p, value, flush=True)
                break
