#!/usr/bin/env python3
"""Registers N webhook subscribers through upkeep's admin API, on one keep-alive connection.

    register.py HOST:PORT TOKEN N HOOK_BASE

POSTs /api/v1/subscribers {"url": "HOOK_BASE/i"} for i = 1..N (distinct URLs: each subscriber
is its own destination and order key). Exits non-zero unless every answer is 201. Prints the
count and the elapsed seconds.
"""

import http.client
import json
import sys
import time


def main() -> int:
    addr, token, n, hook_base = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    t0 = time.monotonic()
    for i in range(1, n + 1):
        body = json.dumps({"url": f"{hook_base}/{i}"})
        conn.request("POST", "/api/v1/subscribers", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 201:
            sys.stderr.write(f"subscriber {i}: HTTP {resp.status}: {data[:300]!r}\n")
            return 1
    elapsed = time.monotonic() - t0
    print(f"{n} {elapsed:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
