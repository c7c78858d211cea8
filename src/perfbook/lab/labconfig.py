"""The perfbook.toml that points every probe at a running lab (``perfbook lab config`` prints its path).

It uses the config keys of :mod:`perfbook.config` exactly and is validated with ``load_config``
before it is written. It names only the lab's own processes (by their ``pblab-<id>-*`` tags) and
the lab's own log directory, so what else runs on the machine cannot become a finding.
"""

from __future__ import annotations

import json
from pathlib import Path

from perfbook.config import load_config
from perfbook.files import write_text
from perfbook.lab import credentials, seed
from perfbook.lab.state import LabState, process_tag, redis_dbs
from perfbook.redact import redact_url

SEARCH_USER_ID = 4242  # an existing user: the e-mail search endpoint that the seqscan fault slows


def config_path(state: LabState) -> Path:
    return state.dir / "perfbook.toml"


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def render(state: LabState) -> str:
    """The TOML text for ``state`` (pure)."""
    email = seed.email_of(SEARCH_USER_ID)
    endpoints = [
        "/health",
        "/api/v1/users",
        f"/api/v1/users/{SEARCH_USER_ID}",
        f"/api/v1/users?email={email}",
        "/api/v1/agents",
    ]
    ws_url = state.backend_url.replace("http://", "ws://", 1) + "/ws"
    match = [process_tag(state.lab_id, "api"), process_tag(state.lab_id, "web")]
    cache_db, queue_db = redis_dbs(state.redis_url)
    return f"""# perfbook.toml for the perfbook lab {state.lab_id} (written by `perfbook lab up`)
# triage it with: perfbook triage --config {config_path(state)}
env_file = {json.dumps(str(credentials.secrets_path(state.dir)))}

[http]
base_url = {json.dumps(state.backend_url)}
health_path = "/health"
metrics_path = "/metrics"
endpoints = {_toml_list(endpoints)}
backend_logs = {json.dumps(str(state.dir / "logs" / "api.log"))}

[frontend]
url = {json.dumps(state.frontend_url)}

[websocket]
url = {json.dumps(ws_url)}
mode = "echo"

[postgres]
# {redact_url(state.app_dsn)}; the password is in env_file, never here
dsn = "${{{credentials.POSTGRES_VAR}}}"

[redis]
# {redact_url(state.redis_url)}
url = "${{{credentials.REDIS_VAR}}}"
cache_db = {cache_db}
queue_db = {queue_db}

[host]
log_dirs = {_toml_list([str(state.dir / "logs")])}

[process]
# the lab's backend (supervisor and both workers) and frontend, by the tag in their name and argv
match = {_toml_list(match)}
# the lab's services are warm within seconds, and its leak fault grows them on purpose
warmup_s = 5
"""


def write(state: LabState) -> Path:
    """Write (and validate) the lab's perfbook.toml; its path."""
    path = config_path(state)
    if not credentials.secrets_path(state.dir).exists():  # a lab started by an older perfbook
        credentials.write_secrets(state.dir, state.app_dsn, state.redis_url)
    write_text(path, render(state), what="lab config")
    load_config(path, env={})  # a lab config that perfbook cannot read is a bug here, not the user's
    return path
