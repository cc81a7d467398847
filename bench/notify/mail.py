#!/usr/bin/env python3
"""The e-mail half of bench/notify.sh: N subscribers through the real double opt-in, then one
incident mailed to all of them through a real SMTP server (scripts/smtp_sink.py, aiosmtpd).

    mail.py HOST:PORT TOKEN N SINK_DIR UPKEEP_PID SINK_PID

1. N `POST /subscribe` {"email": "reader-i@example.com"}, each from its own loopback source
   address (127.10.x.y: the route's per-address quota is 3 at once), expecting 202;
2. waits for the N confirmation mails at the sink, reads the link out of each, `POST`s it
   (expecting 200);
3. opens one incident and times until N more mails have arrived and the outbox is empty;
   checks that each reader got exactly one, each with its own `Upkeep-Delivery` id and a
   `List-Unsubscribe` header.
Prints `key=value` lines. CPU seconds of upkeep and of the sink are read from /proc.
"""

import email
import email.policy
import http.client
import json
import os
import re
import sys
import time

CLK = os.sysconf("SC_CLK_TCK")


def cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def count(sink: str) -> int:
    try:
        with open(os.path.join(sink, "envelopes.jsonl"), "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def main() -> int:
    addr, token, n, sink, upid, spid = sys.argv[1:7]
    n, upid, spid = int(n), int(upid), int(spid)
    host, port = addr.rsplit(":", 1)
    port = int(port)
    out = {}

    # 1. Subscribe, each from its own source address.
    t0 = time.monotonic()
    for i in range(1, n + 1):
        src = f"127.10.{i // 250}.{i % 250 + 1}"
        c = http.client.HTTPConnection(host, port, timeout=30, source_address=(src, 0))
        c.request("POST", "/subscribe", body=json.dumps({"email": f"reader-{i}@example.com"}),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        body = r.read()
        c.close()
        if r.status != 202:
            sys.stderr.write(f"subscribe {i}: HTTP {r.status}: {body[:200]!r}\n")
            return 1
    out["subscribe_s"] = time.monotonic() - t0

    # 2. Confirmation mails, then confirm each.
    while count(sink) < n:
        if time.monotonic() - t0 > 900:
            sys.stderr.write(f"only {count(sink)} of {n} confirmation mails\n")
            return 1
        time.sleep(0.05)
    out["confirmation_mails_s"] = time.monotonic() - t0
    link = re.compile(rb"/subscribe/confirm/([0-9a-f]{48})")
    c = http.client.HTTPConnection(host, port, timeout=30)
    tokens = set()
    for k in range(1, n + 1):
        with open(os.path.join(sink, f"{k}.eml"), "rb") as f:
            msg = email.message_from_bytes(f.read(), policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",)).get_content().encode()
        m = link.search(text)
        if not m:
            sys.stderr.write(f"no confirmation link in mail {k}\n")
            return 1
        tokens.add(m.group(1).decode())
    t1 = time.monotonic()
    for tok in sorted(tokens):
        c.request("POST", f"/subscribe/confirm/{tok}", body=b"", headers={"Content-Length": "0"})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            sys.stderr.write(f"confirm: HTTP {r.status}\n")
            return 1
    out["confirm_s"] = time.monotonic() - t1
    out["confirmed"] = len(tokens)
    time.sleep(1.0)

    # 3. One incident to all of them.
    auth = {"Authorization": f"Bearer {token}"}
    base = count(sink)
    cpu_u0, cpu_s0 = cpu(upid), cpu(spid)
    rss_max = 0
    t0 = time.monotonic()
    c.request("POST", "/api/v1/incidents", headers={**auth, "Content-Type": "application/json"},
              body=json.dumps({
                  "title": "Elevated error rates on the public API (mail)",
                  "status": "investigating",
                  "body": "We are investigating **elevated error rates** on the public API. "
                          "Some requests fail with 503.",
                  "components": [{"id": "api", "status": "partial_outage"}],
              }))
    r = c.getresponse()
    r.read()
    if r.status != 201:
        sys.stderr.write(f"incident: HTTP {r.status}\n")
        return 1
    first = None
    while True:
        got = count(sink) - base
        rss_max = max(rss_max, rss_kb(upid))
        if got > 0 and first is None:
            first = time.monotonic() - t0
        if got >= n:
            break
        if time.monotonic() - t0 > 900:
            sys.stderr.write(f"only {got} of {n} incident mails\n")
            return 1
        time.sleep(0.02)
    out["first_mail_s"] = first
    out["last_mail_s"] = time.monotonic() - t0
    while True:
        c.request("GET", "/api/v1/outbox", headers=auth)
        r = c.getresponse()
        ob = json.loads(r.read())
        if ob["pending"] + ob["unfanned"] == 0:
            break
        time.sleep(0.02)
    out["outbox_empty_s"] = time.monotonic() - t0
    out["upkeep_cpu_s"] = cpu(upid) - cpu_u0
    out["sink_cpu_s"] = cpu(spid) - cpu_s0
    out["rss_max_mb"] = rss_max / 1024

    # Checks.
    ids, rcpts, sizes, unsub = set(), set(), [], 0
    for k in range(base + 1, base + n + 1):
        with open(os.path.join(sink, f"{k}.eml"), "rb") as f:
            raw = f.read()
        sizes.append(len(raw))
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        ids.add(str(msg["Upkeep-Delivery"]))
        rcpts.add(str(msg["To"]))
        unsub += msg["List-Unsubscribe"] is not None
    time.sleep(0.5)
    extra = count(sink) - base - n
    out["mails"] = n
    out["unique_ids"] = len(ids)
    out["unique_rcpts"] = len(rcpts)
    out["with_list_unsubscribe"] = unsub
    out["extra"] = extra
    out["mean_mail_bytes"] = sum(sizes) / len(sizes)
    out["ok"] = len(ids) == n and len(rcpts) == n and unsub == n and extra == 0 and len(tokens) == n
    for k, v in out.items():
        print(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
