"""What variables cost (bench/variables.sh): a deployment POST and a task's start and
run with 50 variables (40 plain, 10 sensitive, half of them scoped, 20 of them from two
included library sets, 5 substituted into the script) against the same with none, in
one run on one server; ratios with variables / without.

Task cost first: for each kind, the node is
drained, `count` deployments of a script of `true` (the variables' script substitutes
five of them) are queued to 20 projects, and the node undrained at task cap 1; the
rate is the tasks over the time from the first start to the last end (the tasks' own
timestamps). Kinds alternate twice: none, variables, none, variables. Then the POSTs,
scheduled for tomorrow (the request alone), `n` of each, alternated in rounds of 50 so
that drift hits both alike."""
import http.client
import json
import sqlite3
import subprocess
import sys
import threading
import time

from benchlib import call_json, pct

port, key, data_dir, binary, n, count = (
    int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
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
libraries = []
for l in range(2):
    lib = call("POST", "/api/libraryvariablesets", {"Name": f"Shared {l}"})
    variables = [{"Name": f"Lib{l}.V{i}", "Value": f"library value {l}.{i}",
                  "Scope": {"Environment": [prod]} if i % 2 else {}} for i in range(10)]
    call("PUT", f"/api/variables/{lib['VariableSetId']}", {"Version": 0, "Variables": variables})
    libraries.append(lib["Id"])


def project_variables():
    out = []
    for i in range(30):
        v = {"Name": f"App.V{i}", "Value": f"value number {i} of the project",
             "Scope": {"Environment": [prod if i % 2 else staging]} if i % 3 == 0 else {}}
        if i < 10:
            v["Type"] = "Sensitive"
            v["Value"] = f"sensitive-secret-{i:04}"
        out.append(v)
    return out


SUBSTITUTED = "true #{App.V0} #{App.V12} #{Lib0.V1} #{Lib1.V2} #{App.V29}; get_octopusvariable App.V3 >/dev/null"
kinds = {}
for kind in ["none", "variables"]:
    releases = []
    for p in range(20):
        body = {"Name": f"{kind} {p}", "DeploymentScript": SUBSTITUTED if kind == "variables" else "true"}
        if kind == "variables":
            body["IncludedLibraryVariableSetIds"] = libraries
        project = call("POST", "/api/projects", body)
        if kind == "variables":
            call("PUT", f"/api/variables/{project['VariableSetId']}",
                 {"Version": 0, "Variables": project_variables()})
        releases.append(call("POST", "/api/releases", {"ProjectId": project["Id"], "Version": "1"})["Id"])
    kinds[kind] = releases

db = sqlite3.connect(f"file:{data_dir}/drydock.db?mode=ro", uri=True)


def drain(kind):
    node("drain", "bench")
    before = db.execute("SELECT COALESCE(MAX(id), 0) FROM tasks").fetchone()[0]

    def poster(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(count // 4):
            call("POST", "/api/deployments",
                 {"ReleaseId": kinds[kind][(k * 7 + i) % 20], "EnvironmentId": prod}, c)
    threads = [threading.Thread(target=poster, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    node("task-cap", "bench", "1")
    node("undrain", "bench")
    deadline = time.time() + 600
    while call("GET", "/api/tasks?states=Queued,Executing,Cancelling&take=0")["TotalResults"] > 0:
        assert time.time() < deadline, "the queue did not drain"
        time.sleep(0.05)
    first, last, ok, total = db.execute(
        "SELECT MIN(start_time), MAX(completed_time), SUM(state = 'Success'), COUNT(*) FROM tasks "
        "WHERE id > ? AND name = 'Deploy'", (before,)).fetchone()
    assert ok == total, (kind, ok, total)
    return total / ((last - first) / 1000)


rates = {"none": [], "variables": []}
for _ in range(2):
    for kind in rates:
        rates[kind].append(drain(kind))

tomorrow = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 86400))
posts = {"none": [], "variables": []}
for round_ in range(max(1, n // 50)):
    for kind in posts:
        for i in range(50):
            started = time.perf_counter()
            call("POST", "/api/deployments",
                 {"ReleaseId": kinds[kind][i % 20], "EnvironmentId": prod, "QueueTime": tomorrow})
            posts[kind].append((time.perf_counter() - started) * 1000)

post = {k: (sum(v) / len(v), pct(v, 0.5)) for k, v in posts.items()}
rate = {k: sum(v) / len(v) for k, v in rates.items()}
print(json.dumps({"post_ms": post, "drain_per_s": rates,
                  "post_ratio": round(post["variables"][0] / post["none"][0], 3),
                  "drain_ratio": round(rate["variables"] / rate["none"], 3)}))
