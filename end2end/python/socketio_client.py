"""Seed 004's flow with python-socketio 5.x, the other client the seeds' users have.

Run by end2end/tests/socket_io.spec.ts:
    socketio_client.py URL API_KEY PROJECT_ID TRANSPORT
Prints one JSON object with what the client saw; exits non-zero if the flow broke.
"""

import json
import sys
import threading

import socketio


def main() -> int:
    url, api_key, project_id, transport = sys.argv[1:5]
    client = socketio.Client(reconnection=False)
    seen: list[str] = []
    tokens: list[str] = []
    result: dict = {}
    done = threading.Event()

    @client.on("connection_status")
    def on_status(data):
        seen.append("connection_status")
        result["status"] = data["status"]
        client.emit("join_project", {"project_id": project_id})

    @client.on("project_joined")
    def on_joined(data):
        seen.append("project_joined")
        client.emit("send_message", {"chat_id": 4004, "message": "Where is the configuration parser?"})

    @client.on("message_received")
    def on_received(data):
        seen.append("message_received")

    @client.on("message_sources")
    def on_sources(data):
        seen.append("message_sources")
        result["paths"] = [s["metadata"]["path"] for s in data["sources"]]

    @client.on("message_token")
    def on_token(data):
        tokens.append(data["token"])

    @client.on("message_complete")
    def on_complete(data):
        seen.append("message_complete")
        result["metadata"] = data["metadata"]
        done.set()

    @client.on("error")
    def on_error(data):
        result["error"] = data
        done.set()

    client.connect(url, auth={"token": api_key}, transports=[transport], socketio_path="socket.io")
    finished = done.wait(timeout=30)
    result["transport"] = client.transport()
    client.disconnect()
    result["events"] = seen
    result["answer"] = "".join(tokens)
    print(json.dumps(result))
    return 0 if finished and "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
