"""A Flask service as a user instruments it, over PostgreSQL: prometheus-flask-exporter with its
default buckets and labels (``path`` is the request path, query string left out).

Started by perfbook's tests in its own process (never sharing perfbook's GIL):
``python flask_orders.py DSN`` listens on a free 127.0.0.1 port and prints ``listening PORT``.

  GET /api/orders?email=E          orders of one customer: WHERE customer_email = E (the tests
                                   leave that column without an index)
  GET /api/orders/<int:order_id>   one order by its primary key
  GET /api/report                  no database at all; every third request answers 500
  GET /health                      200
"""

from __future__ import annotations

import itertools
import sys
import threading

import psycopg
from flask import Flask, jsonify, request
from prometheus_flask_exporter import PrometheusMetrics
from werkzeug.serving import make_server


def create_app(dsn: str) -> Flask:
    app = Flask("perfbook-test-orders")
    PrometheusMetrics(app)
    local = threading.local()
    counter = itertools.count()

    def db() -> psycopg.Connection:
        if getattr(local, "conn", None) is None:
            local.conn = psycopg.connect(dsn, autocommit=True, application_name="orders-app")
        return local.conn

    @app.get("/api/orders")
    def orders():
        email = request.args.get("email", "")
        rows = db().execute("SELECT id, total FROM orders WHERE customer_email = %s", (email,)).fetchall()
        return jsonify([{"id": r[0], "total": float(r[1])} for r in rows])

    @app.get("/api/orders/<int:order_id>")
    def order(order_id: int):
        row = db().execute("SELECT id, total FROM orders WHERE id = %s", (order_id,)).fetchone()
        return (jsonify({"id": row[0], "total": float(row[1])}), 200) if row else ("not found", 404)

    @app.get("/api/report")
    def report():
        if next(counter) % 3 == 0:
            return "report generator failed", 500
        return jsonify({"report": "ok"})

    @app.get("/health")
    def health():
        return "ok"

    return app


def main() -> None:
    server = make_server("127.0.0.1", 0, create_app(sys.argv[1]), threaded=True)
    print(f"listening {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
