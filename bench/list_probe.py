"""Paced latency of task lists: python3 bench/list_probe.py PORT KEY -> JSON of p50/p99 (ms)."""
import http.client
import json
import sys
import time

from benchlib import pct

PATHS = ["/tasks", "/tasks?state=Success", "/api/tasks", "/api/tasks?states=Failed"]


def probe(port, key, path, n=1000):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    values = []
    for _ in range(n):
        t0 = time.perf_counter()
        c.request("GET", path, headers={"X-Octopus-ApiKey": key})
        r = c.getresponse()
        r.read()
        assert r.status == 200, (path, r.status)
        values.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.002)
    return [round(pct(values, 0.5), 3), round(pct(values, 0.99), 3)]


def probe_all(port, key):
    return {p: probe(port, key, p) for p in PATHS}


if __name__ == "__main__":
    print(json.dumps(probe_all(int(sys.argv[1]), sys.argv[2])))
