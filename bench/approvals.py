"""What waiting deployments cost the queue (bench/approvals.sh): with 10,000
deployments waiting for an approval at the head of the queue against none, in one run
on one server, as ratios.

1. The claim query itself, as the store runs it on SQLite (its SQL text read from
   src/store/claim.rs's constants, so it cannot drift from the code): `reps` runs of a
   claim of 5 over a queue of 200 claimable tasks, timed through Python's sqlite3 on
   the database file; and, for scale, the same query on the queue index it walked
   before approvals (which holds the waiting tasks too).
2. The drain: `count` deployments of `true` to 20 projects at task cap 1, the rate from
   the tasks' own timestamps, alternated none / waiting twice (the waiting ones are
   canceled in between and queued anew, always older than the drained ones)."""
import http.client
import json
import re
import sqlite3
import subprocess
import sys
import threading
import time

from benchlib import call_json

port, key, data_dir, binary, count, reps, waiting_n = (
    int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]),
    int(sys.argv[7]))
H = {"X-Octopus-ApiKey": key, "Content-Type": "application/json"}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def call(method, path, body=None, c=None):
    status, data = call_json(c or conn, method, path, body, H)
    assert status in (200, 201, 204), (method, path, status, data)
    return data


def node(*args):
    subprocess.run([binary, "--data-dir", data_dir, "node", *args], check=True, stdout=subprocess.DEVNULL)


prod = call("POST", "/api/environments", {"Name": "Production"})["Id"]
staging = call("POST", "/api/environments", {"Name": "Staging"})["Id"]
gated = call("POST", "/api/projects", {"Name": "Gated", "DeploymentScript": "true"})
gated["ApprovalRules"] = [{"EnvironmentIds": [prod], "RoleNames": ["System Manager"]}]
call("PUT", f"/api/projects/{gated['Id']}", gated)
gated_release = call("POST", "/api/releases", {"ProjectId": gated["Id"], "Version": "1"})["Id"]
releases = []
for p in range(20):
    project = call("POST", "/api/projects", {"Name": f"Free {p}", "DeploymentScript": "true"})
    releases.append(call("POST", "/api/releases", {"ProjectId": project["Id"], "Version": "1"})["Id"])

db = sqlite3.connect(f"file:{data_dir}/drydock.db?mode=ro", uri=True)


def post_all(bodies):
    def poster(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for body in bodies[k::4]:
            call("POST", "/api/deployments", body, c)
    threads = [threading.Thread(target=poster, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def queue_waiting():
    post_all([{"ReleaseId": gated_release, "EnvironmentId": prod}] * waiting_n)
    n = db.execute("SELECT COUNT(*) FROM tasks WHERE state = 'Queued' AND awaiting_approval = 1").fetchone()[0]
    assert n == waiting_n, n


def cancel_waiting():
    ids = [r[0] for r in db.execute("SELECT id FROM tasks WHERE state = 'Queued' AND awaiting_approval = 1")]
    def canceller(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in ids[k::4]:
            call("POST", f"/api/tasks/ServerTasks-{i}/cancel", None, c)
    threads = [threading.Thread(target=canceller, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


source = open("../src/store/claim.rs").read()


def constant(name):
    body = re.search(r"const " + name + r": &str = concatcp!\((.*?)\);", source, re.S).group(1)
    parts = []
    for token in re.findall(r'"((?:[^"\\]|\\.)*)"|\b(Q_QUEUED|RUNNING|CLAIMABLE)\b', body):
        text, ident = token
        if ident == "Q_QUEUED":
            parts.append("'Queued'")
        elif ident == "RUNNING":
            parts.append("('Executing', 'Cancelling')")
        elif ident == "CLAIMABLE":
            parts.append(constant("CLAIMABLE"))
        else:
            parts.append(text.replace("\\n", "\n"))
    return "".join(parts)


CLAIM = constant("CLAIM_QUERY") + " LIMIT 5"
# The same claim on the queue index it walked before approvals (every queued task,
# waiting ones included, each read and dropped by the `awaiting_approval = 0` term):
# what the partial index saves.
BEFORE = CLAIM.replace(" INDEXED BY tasks_claim", " INDEXED BY tasks_queue")
assert BEFORE != CLAIM


def time_query(sql):
    now = int(time.time() * 1000)
    rows = db.execute(sql, (now,)).fetchall()
    assert len(rows) == 5, rows
    started = time.perf_counter()
    for _ in range(reps):
        db.execute(sql, (now,)).fetchall()
    return (time.perf_counter() - started) / reps * 1e6


def claimable_queue():
    node("drain", "bench")
    post_all([{"ReleaseId": releases[i % 20], "EnvironmentId": staging} for i in range(200)])


def drain():
    node("drain", "bench")
    before = db.execute("SELECT COALESCE(MAX(id), 0) FROM tasks").fetchone()[0]
    post_all([{"ReleaseId": releases[i % 20], "EnvironmentId": staging} for i in range(count)])
    node("task-cap", "bench", "1")
    node("undrain", "bench")
    deadline = time.time() + 600
    while db.execute("SELECT COUNT(*) FROM tasks WHERE id > ? AND state IN ('Queued', 'Executing', 'Cancelling')",
                     (before,)).fetchone()[0] > 0:
        assert time.time() < deadline, "the queue did not drain"
        time.sleep(0.05)
    first, last, ok, total = db.execute(
        "SELECT MIN(start_time), MAX(completed_time), SUM(state = 'Success'), COUNT(*) FROM tasks "
        "WHERE id > ?", (before,)).fetchone()
    assert ok == total, (ok, total)
    return total / ((last - first) / 1000)


# 1. The query: the waiting deployments queued first (the queue's head), then 200
# claimable ones behind them, the node drained so that nothing takes them meanwhile.
queue_waiting()
claimable_queue()
query = {"waiting": time_query(CLAIM), "waiting_before": time_query(BEFORE)}
cancel_waiting()
query["none"] = time_query(CLAIM)
query["none_before"] = time_query(BEFORE)
node("task-cap", "bench", "5")
node("undrain", "bench")
while db.execute("SELECT COUNT(*) FROM tasks WHERE state IN ('Queued', 'Executing')").fetchone()[0] > 0:
    time.sleep(0.05)

# 2. The drain, alternated.
rates = {"none": [], "waiting": []}
for _ in range(2):
    rates["none"].append(drain())
    queue_waiting()
    rates["waiting"].append(drain())
    cancel_waiting()

rate = {k: sum(v) / len(v) for k, v in rates.items()}
print(json.dumps({"query_us": query, "drain_per_s": rates,
                  "query_ratio": round(query["waiting"] / query["none"], 3),
                  "before_ratio": round(query["waiting_before"] / query["none_before"], 3),
                  "drain_ratio": round(rate["waiting"] / rate["none"], 3)}))
