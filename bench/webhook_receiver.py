"""A webhook receiver for bench/webhooks.py, in a process of its own (so that the
driver's threads do not slow it): answers 200 after `delay` seconds and appends, per
delivery, the receipt time and the event's `Occurred` to `out`. Prints its port."""
import http.server
import json
import sys
import threading
import time

delay, out = float(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
sink = open(out, "a", buffering=1)


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        at = time.time()
        if delay:
            time.sleep(delay)
        occurred = json.loads(body)["Payload"]["Event"]["Occurred"]
        with lock:
            sink.write(f"{at} {occurred}\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


# A node sends up to 8 deliveries at once: Python's default listen backlog of 5 would
# drop the other connections' SYNs, which TCP then resends a second later.
http.server.ThreadingHTTPServer.request_queue_size = 128
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
print(server.server_address[1], flush=True)
server.serve_forever()
