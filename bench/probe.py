"""Latency probe for bench/run.sh: GET PATH at a steady RATE per second for SECONDS
seconds on one keep-alive connection, as a user would, rather than as fast as possible
(which measures queueing under saturation). Prints p50 and p99 in milliseconds and the
number of requests."""
import http.client
import sys
import time

port, path, rate, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
latencies = []
interval = 1.0 / rate
next_at = time.perf_counter()
end = next_at + seconds
while next_at < end:
    now = time.perf_counter()
    if now < next_at:
        time.sleep(next_at - now)
    start = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    latencies.append((time.perf_counter() - start) * 1000)
    if response.status != 200:
        sys.exit(f"{path} answered {response.status}")
    next_at += interval
latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
print(f"{pick(0.50):.3f} {pick(0.99):.3f} {len(latencies)}")
