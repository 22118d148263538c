"""Load for bench/rolling.sh: posts deployments of `true` to the nodes in turn, as a
load balancer with health checks would (a node that does not answer, or answers 418/503
while draining or stopping, is skipped for the next one), until the file STOP exists;
then waits until the queue is empty and prints JSON: how many were accepted, their final
states, and which nodes ran them.

  python3 bench/rolling.py PORTS KEY STOPFILE
"""
import http.client
import json
import os
import sys
import time

from benchlib import call_json

ports, key, stop_file = [int(p) for p in sys.argv[1].split(",")], sys.argv[2], sys.argv[3]
H = {"X-Octopus-ApiKey": key, "Content-Type": "application/json"}


def call(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        return call_json(conn, method, path, body, H)
    finally:
        conn.close()


def any_call(method, path, body=None, start=0):
    """The first node that answers; (status, body, port)."""
    for k in range(len(ports)):
        port = ports[(start + k) % len(ports)]
        try:
            status, answer = call(port, method, path, body)
        except OSError:
            continue
        if status in (418, 502, 503):
            continue
        return status, answer, port
    raise RuntimeError("no node answered")


env = any_call("POST", "/api/environments", {"Name": "Production"})[1]["Id"]
releases = []
for i in range(10):
    project = any_call("POST", "/api/projects", {"Name": f"Roll{i}", "DeploymentScript": "sleep 0.2"})[1]["Id"]
    releases.append(any_call("POST", "/api/releases", {"ProjectId": project, "Version": "1"})[1]["Id"])

accepted, refused, i = [], [], 0
started = time.time()
while not os.path.exists(stop_file):
    try:
        status, body, port = any_call("POST", "/api/deployments",
                                      {"ReleaseId": releases[i % len(releases)], "EnvironmentId": env}, start=i)
    except RuntimeError as e:
        refused.append(str(e))
        time.sleep(0.05)
        continue
    if status == 201:
        accepted.append(body["TaskId"])
    else:
        refused.append(f"{status} {body}")
    i += 1
    time.sleep(0.02)
posted_s = time.time() - started

deadline = time.time() + 300
while time.time() < deadline:
    busy = any_call("GET", "/api/tasks?states=Queued,Executing,Cancelling&take=0")[1]["TotalResults"]
    if busy == 0:
        break
    time.sleep(0.2)
states, nodes = {}, {}
for task in accepted:
    t = any_call("GET", f"/api/tasks/{task}")[1]
    states[t["State"]] = states.get(t["State"], 0) + 1
    nodes[t.get("ServerNode")] = nodes.get(t.get("ServerNode"), 0) + 1
print(json.dumps({"accepted": len(accepted), "refused": len(refused), "refusals": refused[:3],
                  "posting_s": round(posted_s, 1), "states": states, "ran_on": nodes}))
