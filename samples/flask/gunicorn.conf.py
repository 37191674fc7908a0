import os
import time

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = 1
worker_class = "gthread"
threads = 32
timeout = 0
graceful_timeout = 30
accesslog = "-"


def on_starting(server):
    # Plays a heavy monolith that takes a while before it listens.
    delay_ms = int(os.environ.get("STARTUP_DELAY_MS", "0"))
    if delay_ms:
        time.sleep(delay_ms / 1000)
