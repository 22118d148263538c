"""Write cost (bench/writes.sh): sequential requests on one keep-alive connection, mean
and p50 per request, for POST /api/environments, POST /api/deployments queued now (their
scripts run meanwhile), POST /api/deployments scheduled for tomorrow (the request alone),
and GET /api/health; ratios of the deployment POSTs to the environment POST."""
import http.client
import json
import sys
import time

from benchlib import call_json, pct

port, key, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
h = {"X-Octopus-ApiKey": key, "Content-Type": "application/json"}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def timed(label, method, path, body_of):
    times = []
    for i in range(n):
        started = time.perf_counter()
        status, data = call_json(conn, method, path, body_of(i), h)
        times.append((time.perf_counter() - started) * 1000)
        assert status in (200, 201), (label, status, data)
    global detail
    detail[label] = (pct(times, 0.9), pct(times, 0.99), max(times), sum(sorted(times)[int(0.99 * n):]))
    return sum(times) / len(times), pct(times, 0.5)


detail = {}
env = call_json(conn, "POST", "/api/environments", {"Name": "Production"}, h)[1]["Id"]
project = call_json(conn, "POST", "/api/projects", {"Name": "Web", "DeploymentScript": "true"}, h)[1]["Id"]
release = call_json(conn, "POST", "/api/releases", {"ProjectId": project, "Version": "1"}, h)[1]["Id"]
tomorrow = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 86400))
results = {
    "environment": timed("environment", "POST", "/api/environments", lambda i: {"Name": f"Env {i}"}),
    "deployment_scheduled": timed("scheduled", "POST", "/api/deployments",
                                  lambda i: {"ReleaseId": release, "EnvironmentId": env, "QueueTime": tomorrow}),
    "deployment_now": timed("now", "POST", "/api/deployments",
                            lambda i: {"ReleaseId": release, "EnvironmentId": env}),
    "health": timed("health", "GET", "/api/health", lambda i: None),
}
base = results["environment"][0]
for label, (mean, p50) in results.items():
    print(f"{label:22} mean {mean:6.3f} ms  p50 {p50:6.3f} ms  mean / environment POST {mean / base:5.2f}")
print(detail)
