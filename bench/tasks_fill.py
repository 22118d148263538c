"""Fills a stopped drydock's database with completed tasks up to TOTAL (bench only):
python3 bench/tasks_fill.py DB TOTAL [AGE_DAYS]  (completed AGE_DAYS ago and before)"""
import sqlite3
import sys

db, total = sys.argv[1], int(sys.argv[2])
age_ms = int(sys.argv[3]) * 86_400_000 if len(sys.argv) > 3 else 0
conn = sqlite3.connect(db)
have = conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
states = ["Success"] * 8 + ["Failed", "Canceled"]
now = conn.execute("SELECT COALESCE(MAX(queue_time), 0) FROM tasks").fetchone()[0] or 0
if now == 0:
    import time
    now = int(time.time() * 1000)
now -= age_ms
rows = ((
    "Deploy", f"Deploy Bench release 1 to Production (filler {i})", states[i % 10],
    now - (total - i) * 1000, now - (total - i) * 1000 + 5, now - (total - i) * 1000 + 50,
    now - (total - i) * 1000 + 50, "node", 1, 1, 1, "Projects-1/Environments-1",
) for i in range(total - have))
conn.executemany(
    "INSERT INTO tasks (name, description, state, queue_time, start_time, completed_time, last_updated_time,"
    " server_node, project_id, environment_id, release_id, concurrency_tag) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    rows)
conn.commit()
print(conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])
