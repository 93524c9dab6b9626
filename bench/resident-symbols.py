#!/usr/bin/env python3
"""Which parts of a running binary are resident: maps /proc/PID/pagemap to the symbols of the
executable (nm), so footprint work knows what to cut. Usage: resident-symbols.py PID UNSTRIPPED_BINARY [N]
(the unstripped build of the binary PID runs: .build/static/lifeguard.unstripped)"""
import bisect, collections, subprocess, sys

pid, binary = int(sys.argv[1]), sys.argv[2]
exe = open(f"/proc/{pid}/maps").read().splitlines()
executable = __import__("os").readlink(f"/proc/{pid}/exe")
symbols = []
for line in subprocess.run(["nm", "-n", "--defined-only", "-C", binary], capture_output=True, text=True).stdout.splitlines():
    parts = line.split(" ", 2)
    if len(parts) == 3:
        try: symbols.append((int(parts[0], 16), parts[2]))
        except ValueError: pass
addresses = [s[0] for s in symbols]
page = 4096
resident = collections.Counter()
regions = collections.Counter()
with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
    for line in exe:
        fields = line.split()
        if len(fields) < 6 or fields[5] != executable: continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        offset = int(fields[2], 16)
        for address in range(start, end, page):
            pagemap.seek(address // page * 8)
            entry = int.from_bytes(pagemap.read(8), "little")
            if entry >> 63 & 1:
                regions[fields[1]] += 4
                # Symbol addresses are file virtual addresses (non-PIE static binary: identical).
                i = bisect.bisect_right(addresses, address) - 1
                name = symbols[i][1] if i >= 0 else "?"
                resident[name.split("(")[0][:90]] += 4
print("resident KiB by permission:", dict(regions))
for name, kib in resident.most_common(int(sys.argv[3]) if len(sys.argv) > 3 else 60):
    print(f"{kib:6d} KiB  {name}")
