#!/usr/bin/env python3
"""A real SMTP server for tests (aiosmtpd) that keeps every message it accepts.

    smtp_sink.py --host 127.0.0.1 --port P --dir D
                 [--auth USER:PASS]
                 [--tls-cert CERT --tls-key KEY]            # implicit TLS (TLS from the first byte)
                 [--starttls-cert CERT --starttls-key KEY]  # STARTTLS offered and required

Every accepted message is written to D/<n>.eml (n = 1, 2, ...; written to a temporary file and
renamed, so a reader never sees half a message), then one JSON line is appended to
D/envelopes.jsonl: {"n", "file", "mail_from", "rcpt_tos", "auth_login", "tls"}.

With --auth, AUTH PLAIN/LOGIN is offered and required before MAIL (530 otherwise); only
USER:PASS is accepted (535 otherwise). With STARTTLS, AUTH is offered only after the upgrade;
without TLS it is allowed over plain text (a test sink only).

Prints "ready" on stdout once listening, then runs until killed (SIGTERM/SIGINT exit cleanly).
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import sys
import threading
import warnings

try:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
except ImportError:  # pragma: no cover - reported to the test that started us
    sys.stderr.write(
        "smtp_sink: the Python package aiosmtpd is missing "
        "(python3 -m pip install 'aiosmtpd>=1.4,<2', or run scripts/test-deps.sh)\n"
    )
    sys.exit(3)


class Sink:
    """The aiosmtpd handler: stores messages."""

    def __init__(self, directory, implicit_tls):
        self.directory = directory
        self.implicit_tls = implicit_tls
        self.lock = threading.Lock()
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        auth = session.auth_data
        login = None
        if isinstance(auth, LoginPassword):
            login = auth.login.decode("utf-8", "replace")
        with self.lock:
            self.count += 1
            n = self.count
            name = f"{n}.eml"
            path = os.path.join(self.directory, name)
            tmp = os.path.join(self.directory, f".{name}.tmp")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, path)
            line = {
                "n": n,
                "file": name,
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "auth_login": login,
                "tls": self.implicit_tls or session.ssl is not None,
            }
            with open(os.path.join(self.directory, "envelopes.jsonl"), "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
                f.flush()
        return "250 OK stored as " + name


def server_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def main():
    p = argparse.ArgumentParser(description="SMTP sink for tests")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--auth", help="USER:PASS accepted by AUTH (then AUTH is required)")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--starttls-cert")
    p.add_argument("--starttls-key")
    args = p.parse_args()

    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if bool(args.starttls_cert) != bool(args.starttls_key):
        p.error("--starttls-cert and --starttls-key go together")
    if args.tls_cert and args.starttls_cert:
        p.error("choose implicit TLS or STARTTLS, not both")
    os.makedirs(args.dir, exist_ok=True)

    implicit = server_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    starttls = server_context(args.starttls_cert, args.starttls_key) if args.starttls_cert else None
    handler = Sink(args.dir, implicit is not None)

    kwargs = {
        "hostname": "upkeep-sink",
        "enable_SMTPUTF8": True,
        "decode_data": False,
    }
    if starttls is not None:
        kwargs["tls_context"] = starttls
        kwargs["require_starttls"] = True
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep:
            p.error("--auth takes USER:PASS")
        expected = (user.encode(), password.encode())

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and (auth_data.login, auth_data.password) == expected
            )
            if ok:
                return AuthResult(success=True, auth_data=auth_data)
            # handled=False: aiosmtpd answers 535 5.7.8 itself.
            return AuthResult(success=False, handled=False)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        # With STARTTLS, aiosmtpd's default applies: AUTH only after the upgrade. A plain-text
        # sink allows AUTH without TLS. Under implicit TLS the connection is encrypted from the
        # first byte, but aiosmtpd only knows of TLS it negotiated itself (STARTTLS) and would
        # never offer AUTH, so the check is turned off there too.
        if starttls is None:
            kwargs["auth_require_tls"] = False

    # A plain-text sink with AUTH is what the tests want; keep stderr for real problems.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        return SMTP(handler, loop=loop, **kwargs)

    server = loop.run_until_complete(
        loop.create_server(factory, host=args.host, port=args.port, ssl=implicit)
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    try:
        loop.run_until_complete(stop.wait())
    finally:
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()


if __name__ == "__main__":
    main()
