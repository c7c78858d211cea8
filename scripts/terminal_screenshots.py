"""Make docs/triage-80.svg and docs/fix-history-80.svg: what perfbook prints at 80 columns.

    cd "$(mktemp -d)" && python /path/to/scripts/terminal_screenshots.py /path/to/docs

The triage is of a stack that is down for real (nothing listens on three free ports); the history
is a scratch SQLite store (perfbook.db, perfbook.toml) in the current directory, written through
the store's own API.
"""

import io
import os
import sys

from rich.console import Console

from perfbook import services
from perfbook.cli import main
from perfbook.cli.env import Env
from perfbook.store import Store, record_audit


def shot(args, path, title, environ):
    os.environ.update(environ)
    env = Env(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO())
    rec = Console(file=io.StringIO(), width=80, record=True, force_terminal=True, color_system="truecolor", highlight=False)
    env.__dict__["out"] = rec
    try:
        main(args, env=env)
    except SystemExit:
        pass
    out = env.stdout.getvalue()
    if out.strip():  # plain lines written with echo
        rec.print(out.rstrip("\n"), markup=False, highlight=False)
    rec.save_svg(path, title=title)
    print(path)

http, pg, redis = (services.free_port() for _ in range(3))
down = {"PERFBOOK_HTTP_BASE_URL": f"http://127.0.0.1:{http}", "PERFBOOK_POSTGRES_DSN": f"postgresql://app:s3cret@127.0.0.1:{pg}/shop",
        "PERFBOOK_REDIS_URL": f"redis://127.0.0.1:{redis}/0", "COLUMNS": "80"}
shot(["triage", "--window", "0.5s", "--only", "http,metrics,postgres,redis,host"], sys.argv[1] + "/triage-80.svg",
     "perfbook triage (80 columns)", down)


store = Store(f"sqlite:///{os.getcwd()}/perfbook.db")
t1, t2 = "postgresql://app:***@db-1.internal:5432/shop", "postgresql://app:***@db-2.internal:5432/billing"
for at, target, action, mode, outcome, summary, extra in [
    ("2026-12-02T00:41:10Z", t1, "pg.terminate", "plan", "planned", "terminate 2 session(s)", {}),
    ("2026-12-02T00:41:55Z", t1, "pg.terminate", "plan", "planned", "terminate 2 session(s)", {}),
    ("2026-12-02T00:42:30Z", t1, "pg.terminate", "plan", "planned", "terminate 2 session(s)", {}),
    ("2026-12-02T00:42:31Z", t1, "pg.terminate", "apply", "done", "terminated 2 session(s) idle in transaction",
     {"reason": "idle transactions hold locks on agents", "ticket": "INC-7"}),
    ("2026-12-02T00:50:02Z", t2, "pg.create_index", "plan", "planned", "CREATE INDEX CONCURRENTLY on public.invoices (customer_id)", {}),
    ("2026-12-02T00:50:03Z", t2, "pg.create_index", "apply", "done", "index invoices_customer_id_idx built (41.2 MiB) in 38 s",
     {"reason": "seq scans of invoices behind p95 4 s", "ticket": "INC-7"}),
]:
    record_audit(store, at=at, os_user="oncall", target=target, action=action, mode=mode, outcome=outcome, summary=summary, **extra)
store.close()
open("perfbook.toml", "w").write(f'[store]\nurl = "sqlite:///{os.getcwd()}/perfbook.db"\n')
shot(["fix", "history", "--config", "perfbook.toml"], sys.argv[1] + "/fix-history-80.svg", "perfbook fix history (80 columns)", {})
