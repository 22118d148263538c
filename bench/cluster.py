"""The cluster benchmark, driven by bench/cluster.sh against release `drydock serve` nodes
sharing one database (one SQLite data directory, or PostgreSQL with a data directory
per node). Everything is read through the API, so both backends are measured alike.

  throughput PORTS KEY COUNT: COUNT deployments of `true`, posted round-robin to the
      nodes (as a load balancer would) from 4 clients; time from the first POST until
      the queue is empty. Prints JSON.
  pickup PORTS KEY SAMPLES: node 1 is drained, so every deployment posted to it must
      be picked up by node 2 through the database; one at a time, at random moments.
      Latency = StartTime - QueueTime in milliseconds.
"""
import http.client
import json
import random
import sys
import threading
import time
from datetime import datetime

from benchlib import call_json, pct

mode, ports, key, count = sys.argv[1], [int(p) for p in sys.argv[2].split(",")], sys.argv[3], int(sys.argv[4])
H = {"X-Octopus-ApiKey": key, "Content-Type": "application/json"}


def call(conn, method, path, body=None):
    return call_json(conn, method, path, body, H)


def connect(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=60)


first = connect(ports[0])
env = call(first, "POST", "/api/environments", {"Name": "Production"})[1]["Id"]
releases = []
for i in range(40):
    project = call(first, "POST", "/api/projects", {"Name": f"Bench{i}", "DeploymentScript": "true"})[1]["Id"]
    releases.append(call(first, "POST", "/api/releases", {"ProjectId": project, "Version": "1"})[1]["Id"])


def deploy(conn, i):
    status, body = call(conn, "POST", "/api/deployments", {"ReleaseId": releases[i % len(releases)], "EnvironmentId": env})
    assert status == 201, (status, body)
    return int(body["TaskId"].split("-")[1])


def busy_tasks(conn):
    return call(conn, "GET", "/api/tasks?states=Queued,Executing,Cancelling&take=0")[1]["TotalResults"]


if mode == "throughput":
    clients = 4
    errors = []

    def post(worker):
        conns = [connect(p) for p in ports]
        try:
            for i in range(worker, count, clients):
                deploy(conns[i % len(conns)], i)
        except Exception as e:  # reported, not hidden
            errors.append(repr(e))

    started = time.time()
    threads = [threading.Thread(target=post, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    posted = time.time() - started
    while busy_tasks(first) > 0:
        time.sleep(0.02)
    elapsed = time.time() - started
    total = lambda query: call(first, "GET", f"/api/tasks?{query}&take=0")[1]["TotalResults"]
    per_node = {f"node-{n}": total(f"node=node-{n}") for n in range(1, len(ports) + 1)}
    states = {s: n for s in ("Success", "Failed", "Canceled", "TimedOut") if (n := total(f"states={s}"))}
    print(json.dumps({
        "nodes": len(ports), "deployments": count, "elapsed_s": round(elapsed, 2), "posted_s": round(posted, 2),
        "tasks_per_s": round(count / elapsed, 1), "posts_per_s": round(count / posted, 1), "per_node": per_node, "states": states, "errors": errors[:3],
    }))
elif mode == "pickup":
    drained, worker = ports[0], ports[1]
    name = call(connect(drained), "GET", "/api/octopusservernodes/ping")[1]["Name"]
    status, body = call(first, "PUT", f"/api/octopusservernodes/OctopusServerNodes-{name}", {"IsInMaintenanceMode": True})
    assert status == 200, body
    ms = lambda iso: datetime.fromisoformat(iso).timestamp() * 1000
    latencies, nodes = [], set()
    for i in range(count):
        time.sleep(random.uniform(0, 0.2))
        task = deploy(first, i)
        while True:
            t = call(first, "GET", f"/api/tasks/ServerTasks-{task}")[1]
            if t["State"] not in ("Queued", "Executing"):
                break
            time.sleep(0.005)
        latencies.append(round(ms(t["StartTime"]) - ms(t["QueueTime"])))
        nodes.add(t["ServerNode"])
    print(json.dumps({
        "samples": len(latencies), "p50_ms": pct(latencies, 0.5), "p99_ms": pct(latencies, 0.99),
        "max_ms": max(latencies), "nodes": sorted(nodes), "drained": name,
    }))
