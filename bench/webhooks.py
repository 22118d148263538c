"""What notifications cost and how fast they arrive (bench/webhooks.sh), in one run on
one server:

1. A slow receiver does not slow a change: `POST /api/deployments` (scheduled for
   tomorrow, so nothing runs) timed with no subscription, then with one whose receiver
   takes 2 s to answer each delivery, alternated in rounds of 50; ratio slow / none.
2. Delivery to a fast receiver (a process of its own): `n` events (environments
   created) paced at `rate` a second, then `n` as fast as four clients can make them;
   receipts per second from the first event to the last receipt, and the time from each
   event (its `Occurred`) to its receipt, p50 and p99."""
import atexit
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime

from benchlib import call_json, pct

port, key, n, rounds, rate = (
    int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
H = {"X-Octopus-ApiKey": key, "Content-Type": "application/json"}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def call(method, path, body=None, c=None):
    status, data = call_json(c or conn, method, path, body, H)
    assert status in (200, 201, 204), (method, path, status, data)
    return data


work = tempfile.mkdtemp(prefix="drydock-hooks.")


def receiver(delay):
    """A receiver process answering after `delay` s: (its URL, the file it writes)."""
    out = f"{work}/received-{delay}"
    p = subprocess.Popen([sys.executable, "webhook_receiver.py", str(delay), out],
                         stdout=subprocess.PIPE, text=True)
    atexit.register(p.kill)
    return f"http://127.0.0.1:{p.stdout.readline().strip()}/hook", out


def lines(path):
    try:
        with open(path) as f:
            return [l.split() for l in f.read().splitlines() if l]
    except FileNotFoundError:
        return []


slow_hook, _ = receiver(2.0)
fast_hook, fast_out = receiver(0.0)

env = call("POST", "/api/environments", {"Name": "Production"})["Id"]
project = call("POST", "/api/projects", {"Name": "Web", "DeploymentScript": "true"})["Id"]
release = call("POST", "/api/releases", {"ProjectId": project, "Version": "1"})["Id"]
tomorrow = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 86400))


def subscription(name, categories, hook):
    return call("POST", "/api/subscriptions", {"Name": name, "EventNotificationSubscription": {
        "WebhookURI": hook, "WebhookTimeout": "00:00:10",
        "Filter": {"EventCategories": categories}}})["Id"]


# 1. POST latency: none, then a 2 s receiver for every deployment queued.
posts = {"none": [], "slow": []}
slow = None
for r in range(rounds):
    for kind in ("none", "slow"):
        if kind == "slow" and slow is None:
            slow = subscription("Slow", ["DeploymentQueued"], slow_hook)
        if kind == "none" and slow is not None:
            call("DELETE", f"/api/subscriptions/{slow}")
            slow = None
        for _ in range(50):
            started = time.perf_counter()
            call("POST", "/api/deployments", {"ReleaseId": release, "EnvironmentId": env, "QueueTime": tomorrow})
            posts[kind].append((time.perf_counter() - started) * 1000)
if slow is not None:
    call("DELETE", f"/api/subscriptions/{slow}")
time.sleep(3)  # the slow receiver's last answers drain (not measured)

# 2. Delivery to a fast receiver: n events at `rate` a second (paced), then n more as
# fast as four clients can make them (a burst); each time the receipts per second from
# the first event to the last receipt, and event-to-receipt latency.
subscription("Fast", ["EnvironmentCreated"], fast_hook)


def measure(label, paced):
    before = len(lines(fast_out))
    first = time.time()

    def creator(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(k, n, 4):
            if paced:
                wait = first + i / rate - time.time()
                if wait > 0:
                    time.sleep(wait)
            call("POST", "/api/environments", {"Name": f"{label} {i}"}, c)

    threads = [threading.Thread(target=creator, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.time() + 300
    while len(lines(fast_out)) < before + n and time.time() < deadline:
        time.sleep(0.05)
    done = lines(fast_out)[before:]
    last = max(float(at) for at, _ in done)
    lat = [(float(at) - datetime.fromisoformat(o).timestamp()) * 1000 for at, o in done]
    return {"events": len(done), "per_s": round(len(done) / (last - first), 1),
            "p50_ms": round(pct(lat, 0.5), 1), "p99_ms": round(pct(lat, 0.99), 1)}


paced = measure("Paced", True)
burst = measure("Burst", False)

mean = {k: sum(v) / len(v) for k, v in posts.items()}
print(json.dumps({
    "post_ms": {k: [round(mean[k], 3), round(pct(v, 0.5), 3), round(pct(v, 0.99), 3)] for k, v in posts.items()},
    "post_ratio": round(mean["slow"] / mean["none"], 3),
    "rate": rate, "paced": paced, "burst": burst,
}))
