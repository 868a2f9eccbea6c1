"""Warm Socket.IO turns one after another, timed by python-socketio 5.x: the load
benchmark's Socket.IO path (server/benches/benchmarks/load.rs).

    socketio_turns.py URL PROJECT_ID PROVIDER TURNS

Prints `warm` once connected, joined and past a few warm-up turns, so the benchmark can
start counting the server's CPU time there; then one JSON object: every turn's time from
`send_message` to its first `message_token`, in milliseconds. Exits non-zero if a turn
fails or times out.
"""

import json
import sys
import threading
import time

import socketio

QUESTIONS = [
    "How is the configuration parsed?",
    "Where are errors converted into responses?",
    "What does the serializer do with maps?",
    "How are connections retried?",
]
WARM_UP = 20


def main() -> int:
    url, project_id, provider, turns = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = socketio.Client(reconnection=False)
    joined = threading.Event()
    done = threading.Event()
    turn: dict = {}

    @client.on("connection_status")
    def on_status(_data):
        client.emit("join_project", {"project_id": project_id})

    @client.on("project_joined")
    def on_joined(_data):
        joined.set()

    @client.on("message_token")
    def on_token(_data):
        turn.setdefault("first", time.perf_counter())

    @client.on("message_complete")
    def on_complete(_data):
        done.set()

    @client.on("error")
    def on_error(data):
        turn["error"] = data
        done.set()

    def ask(n: int) -> float:
        turn.clear()
        done.clear()
        sent = time.perf_counter()
        client.emit(
            "send_message",
            {"chat_id": 500_000 + n, "message": QUESTIONS[n % len(QUESTIONS)], "provider": provider},
        )
        if not done.wait(timeout=30):
            raise RuntimeError(f"turn {n} did not complete")
        if "error" in turn or "first" not in turn:
            raise RuntimeError(f"turn {n} failed: {turn.get('error')}")
        return (turn["first"] - sent) * 1000.0

    client.connect(url, transports=["websocket"], socketio_path="socket.io")
    if not joined.wait(timeout=30):
        print("the project was not joined", file=sys.stderr)
        return 1
    for n in range(WARM_UP):
        ask(n)
    print("warm", flush=True)
    first_token_ms = [ask(WARM_UP + n) for n in range(turns)]
    print(json.dumps({"first_token_ms": first_token_ms}), flush=True)
    client.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
