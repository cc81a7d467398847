"""Peers for bench/kinds.sh that no package provides as a server: a Docker Engine API on a
unix socket (ContainerInspect of one running, healthy container) and an RDAP server (one
domain). Usage: python3 bench/kind_peers.py SOCKET_PATH RDAP_PORT"""
import json
import os
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTAINER = json.dumps({
    "Id": "4fa6e0f0c6786287e131c3852c58a2e01cc697a68231826813597e4994f1d6e2",
    "Name": "/web-1",
    "RestartCount": 0,
    "State": {
        "Status": "running", "Running": True, "Paused": False, "Restarting": False,
        "OOMKilled": False, "Dead": False, "Pid": 4242, "ExitCode": 0, "Error": "",
        "StartedAt": "2026-12-01T08:00:00.000000000Z", "FinishedAt": "0001-01-01T00:00:00Z",
        "Health": {"Status": "healthy", "FailingStreak": 0, "Log": []},
    },
}).encode()

DOMAIN = json.dumps({
    "objectClassName": "domain", "ldhName": "EXAMPLE.TEST", "status": ["active"],
    "events": [
        {"eventAction": "registration", "eventDate": "2001-01-01T00:00:00Z"},
        {"eventAction": "expiration", "eventDate": "2031-01-01T00:00:00Z"},
    ],
}).encode()


class Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = DOMAIN if self.path.startswith("/domain/") else CONTAINER
        kind = "application/rdap+json" if body is DOMAIN else "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self):
        return "peer"

    def log_message(self, *args):
        pass


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 4096


socket_path, rdap_port = sys.argv[1], int(sys.argv[2])
if os.path.exists(socket_path):
    os.unlink(socket_path)
docker = UnixServer(socket_path, Answer)
threading.Thread(target=docker.serve_forever, daemon=True).start()
ThreadingHTTPServer(("127.0.0.1", rdap_port), Answer).serve_forever()
