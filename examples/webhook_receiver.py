#!/usr/bin/env python3
"""A Standard Webhooks receiver for trying assetgate's webhooks on a laptop.

Python 3 standard library only. It verifies every delivery's signature with
the endpoint's secret and prints one JSON line per event:

    WEBHOOK_SECRET=whsec_… python3 examples/webhook_receiver.py 9000

Answers 204 to a verified delivery, 401 to anything else (assetgate then
retries it with the same webhook-id).
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = base64.b64decode(os.environ["WEBHOOK_SECRET"].removeprefix("whsec_"))


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        msg_id = self.headers.get("webhook-id", "")
        ts = self.headers.get("webhook-timestamp", "0")
        signed = f"{msg_id}.{ts}.".encode() + body
        expected = base64.b64encode(hmac.new(SECRET, signed, hashlib.sha256).digest()).decode()
        sigs = [s.removeprefix("v1,") for s in self.headers.get("webhook-signature", "").split()]
        fresh = abs(time.time() - int(ts)) <= 300
        if not fresh or not any(hmac.compare_digest(s, expected) for s in sigs):
            self.send_response(401)
            self.end_headers()
            print(json.dumps({"refused": msg_id}), flush=True)
            return
        event = json.loads(body)  # {"type", "timestamp", "environment", "data": OrderItem}
        print(json.dumps({"webhook-id": msg_id, "type": event["type"], "data": event["data"]}), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    print(f"listening on http://127.0.0.1:{port}/hooks/assetgate", file=sys.stderr, flush=True)
    HTTPServer(("127.0.0.1", port), Hook).serve_forever()
