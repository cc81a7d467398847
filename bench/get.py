"""GET PATH N times over one keep-alive connection to 127.0.0.1:PORT (Accept-Encoding ENC, or
none for "identity"); every answer must be 200. Used by bench/statuspage.sh to drive a server
under callgrind, where a Python client is fast enough."""
import http.client
import sys

port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
enc = sys.argv[4] if len(sys.argv) > 4 else "identity"
headers = {} if enc == "identity" else {"Accept-Encoding": enc}
conn = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"GET {path}: {response.status}")
