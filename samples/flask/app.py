"""A plain Flask app served by gunicorn: it knows nothing about functions or containers."""
import os
import time

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.get("/")
def index():
    return Response("hello from flask\n", mimetype="text/plain")


@app.post("/echo")
def echo():
    return Response(request.get_data(), content_type=request.content_type or "application/octet-stream")


@app.get("/slow")
def slow():
    ms = int(request.args.get("ms", "1000"))
    time.sleep(ms / 1000)
    return Response(f"slept {ms} ms\n", mimetype="text/plain")


@app.get("/stream")
def stream():
    count = int(request.args.get("count", "5"))
    interval = int(request.args.get("interval", "100")) / 1000

    def chunks():
        for i in range(count):
            yield f"chunk {i}\n"
            time.sleep(interval)

    return Response(chunks(), mimetype="text/plain")


@app.get("/env")
def env():
    return jsonify(dict(os.environ))


@app.route("/crash", methods=["GET", "POST"])
def crash():
    # Exit code 3 is gunicorn's "worker failed to boot": the master halts, so the whole server exits.
    print("crashing on request", flush=True)
    os._exit(3)
