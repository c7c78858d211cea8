"""The perfbook lab: a reference stack shaped like the runbook's, with faults to switch on and off.

A backend (FastAPI on uvicorn, two worker processes, Prometheus metrics in multiprocess mode), a
private PostgreSQL seeded with 200,000 users, a private Redis (cache db 0, WebSocket queue db 1),
a static frontend, a traffic generator, and an admin endpoint that injects the runbook's faults.

    lab = supervisor.up(LabOptions(port=0, frontend_port=0, traffic=True))
    faults.switch(lab, "slow", on=True)
    supervisor.down(lab.state_dir)

Every process the lab starts carries a tag (``pblab-<id>-api``) in its name and command line, so
the lab's perfbook.toml names exactly these processes and nothing else on the machine.
"""
