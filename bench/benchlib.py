"""What the benchmark drivers share: JSON calls on a keep-alive connection, percentiles,
a process's resident memory."""
import json


def call_json(conn, method, path, body=None, headers=None):
    """(status, parsed JSON, or the raw bytes when the answer is not JSON)."""
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return r.status, (json.loads(data) if data and data[:1] in b"{[" else data)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0
