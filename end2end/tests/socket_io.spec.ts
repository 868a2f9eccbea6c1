// Seeds 004 and 001 talk to their servers with socket.io-client: these tests are that
// client (the npm package, unchanged) against the release server, over WebSocket and over
// HTTP long-polling, with answers from a scripted OpenAI-compatible provider.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { expect, test } from "@playwright/test";
import { io, type Socket } from "socket.io-client";
import { ScriptedProvider } from "./scripted_provider";
import { ControlledServer } from "./server";

const API_KEY = "socket-io-test-key";
const ANSWER = ["The parser ", "lives in ", "src/parse.rs", "."];

/** Every event a socket receives, in order, and a way to wait for the next of a name. */
class Recorder {
  readonly events: Array<{ name: string; data: any }> = [];
  private waiters: Array<() => void> = [];

  constructor(readonly socket: Socket) {
    socket.onAny((name, data) => {
      this.events.push({ name, data });
      this.waiters.splice(0).forEach((wake) => wake());
    });
  }

  /** The first event named `name` (matching `where`) after position `from`. */
  async next(name: string, where: (data: any) => boolean = () => true, from = 0): Promise<any> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = this.events.slice(from).find((e) => e.name === name && where(e.data));
      if (found) return found.data;
      if (Date.now() > deadline) {
        throw new Error(`no ${name} event; got ${JSON.stringify(this.events.map((e) => e.name))}`);
      }
      await new Promise<void>((wake) => {
        this.waiters.push(wake);
        setTimeout(wake, 1000);
      });
    }
  }

  names(from = 0): string[] {
    return this.events.slice(from).map((e) => e.name);
  }
}

let provider: ScriptedProvider;
let server: ControlledServer;

test.beforeAll(async () => {
  provider = new ScriptedProvider(() => ({ deltas: ANSWER }));
  const baseUrl = await provider.start();
  server = new ControlledServer(3151, {
    OPENAI_API_KEY: "sk-scripted",
    OPENAI_BASE_URL: baseUrl,
    REPOWIKI_AUTH_ENABLED: "true",
    REPOWIKI_API_KEYS: API_KEY,
    REPOWIKI_MESSAGES_PER_SEC: "40",
  });
  await server.start();
});

test.afterAll(async () => {
  await server?.stop();
  await provider?.stop();
});

async function api(path: string, init: RequestInit = {}): Promise<any> {
  const res = await fetch(`${server.url}${path}`, {
    ...init,
    headers: { "x-api-key": API_KEY, ...(init.headers ?? {}) },
  });
  const text = await res.text();
  expect(res.ok, `${init.method ?? "GET"} ${path}: ${res.status} ${text}`).toBe(true);
  return text ? JSON.parse(text) : undefined;
}

/** A new upload project, ready for documents. */
async function project(name: string): Promise<string> {
  const created = await api("/api/projects", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  await expect.poll(async () => (await api(`/api/projects/${created.id}`)).status).toBe("ready");
  return created.id;
}

async function upload(projectId: string, files: Record<string, string>): Promise<any> {
  const form = new FormData();
  for (const [name, text] of Object.entries(files)) form.append("file", new Blob([text]), name);
  return api(`/api/projects/${projectId}/documents`, { method: "POST", body: form });
}

/** socket.io-client as seed 004 sets it up, with the key as its `auth.token`. */
function connect(transports: Array<"websocket" | "polling">, token: string | undefined = API_KEY) {
  const socket = io(server.url, {
    path: "/socket.io",
    transports,
    auth: token === undefined ? {} : { token },
    reconnection: false,
    forceNew: true,
  });
  return { socket, events: new Recorder(socket) };
}

for (const transport of ["websocket", "polling"] as const) {
  test(`seed 004's chat flow over ${transport}, field for field`, async () => {
    const projectId = await project(`Parser docs (${transport})`);
    await upload(projectId, {
      "src/parse.rs": "/// Parses the configuration file.\npub fn parse_config(text: &str) -> Config {\n    todo!()\n}\n",
      "README.md": "# Demo\n\nThe parser reads configuration files.\n",
    });
    const { socket, events } = connect([transport]);
    try {
      expect(await events.next("connection_status")).toEqual({ status: "connected", sid: expect.any(String) });
      expect(socket.io.engine.transport.name).toBe(transport);

      socket.emit("join_project", { project_id: projectId });
      expect(await events.next("project_joined")).toEqual({ project_id: projectId });

      const chatId = transport === "websocket" ? 101 : 102;
      const from = events.events.length;
      socket.emit("send_message", {
        chat_id: chatId,
        message: "Where is the configuration parser?",
        model: "llama3.2",
        temperature: 0.7,
        include_history: true,
      });
      const received = await events.next("message_received", (d) => d.chat_id === chatId, from);
      const sources = await events.next("message_sources", (d) => d.chat_id === chatId, from);
      const complete = await events.next("message_complete", (d) => d.chat_id === chatId, from);

      // The order of seed 004's event flow, tokens between sources and completion.
      const flow = events.names(from).filter((n) => n.startsWith("message_"));
      expect(flow[0]).toBe("message_received");
      expect(flow[1]).toBe("message_sources");
      expect(flow.at(-1)).toBe("message_complete");
      expect(new Set(flow.slice(2, -1))).toEqual(new Set(["message_token"]));
      const tokens = events.events
        .slice(from)
        .filter((e) => e.name === "message_token")
        .map((e) => {
          expect(e.data.chat_id).toBe(chatId);
          return e.data.token;
        });
      expect(tokens.join("")).toBe(ANSWER.join(""));

      expect(sources.sources.length).toBeGreaterThan(0);
      const documents = await api(`/api/projects/${projectId}/documents`);
      const documentIds = new Map<string, string>(
        (documents.items ?? documents).map((d: any) => [d.path, d.id]),
      );
      for (const source of sources.sources) {
        expect(source).toEqual({
          id: expect.any(String),
          content: expect.any(String),
          metadata: {
            document_id: documentIds.get(source.metadata.path),
            path: expect.any(String),
            start_line: expect.any(Number),
            end_line: expect.any(Number),
          },
          score: expect.any(Number),
        });
      }
      expect(sources.sources.map((s: any) => s.metadata.path)).toContain("src/parse.rs");
      expect(complete.metadata).toMatchObject({ model: "llama3.2", sources_count: sources.sources.length });

      // The scripted model got the question with the retrieved code, at the client's settings.
      const request = provider.requests.at(-1)!;
      expect(request.model).toBe("llama3.2");
      expect(JSON.stringify(request.messages)).toContain("parse_config");

      // The chat is a stored conversation like any other, and the same chat id finds it again.
      const stored = await api(`/api/chat/conversations/${received.conversation_id}/messages`);
      const contents = (stored.items ?? stored).map((m: any) => m.content);
      expect(contents).toEqual(["Where is the configuration parser?", ANSWER.join("")]);
      const again = events.events.length;
      socket.emit("send_message", { chat_id: chatId, message: "And where is it called?" });
      const second = await events.next("message_received", (d) => d.chat_id === chatId, again);
      expect(second.conversation_id).toBe(received.conversation_id);
      await events.next("message_complete", (d) => d.chat_id === chatId, again);

      socket.emit("ping", {});
      const pong = await events.next("pong");
      expect(Math.abs(Date.now() - pong.timestamp)).toBeLessThan(60_000);
    } finally {
      socket.disconnect();
    }
  });
}

test("one project room at a time; document status and project updates of the joined one", async () => {
  const first = await project("First");
  const second = await project("Second");
  const { socket, events } = connect(["websocket"]);
  try {
    await events.next("connection_status");
    socket.emit("join_project", { project_id: first });
    await events.next("project_joined", (d) => d.project_id === first);
    socket.emit("join_project", { project_id: second });
    await events.next("project_joined", (d) => d.project_id === second);

    // An upload to the project left behind, finished before the second one starts: had
    // its events reached this client, they would have come before the second's.
    const from = events.events.length;
    await upload(first, { "left.md": "# Left behind\n" });
    const uploaded = await upload(second, { "notes/kept.md": "# Kept\n\nNotes.\n" });
    const documentId = uploaded.documents[0].id;
    const done = await events.next("document_status", (d) => d.status === "completed", from);
    expect(done).toMatchObject({ document_id: documentId, status: "completed", progress: 100, filename: "kept.md" });
    const added = await events.next("project_update", (d) => d.type === "document_added", from);
    expect(added.data).toMatchObject({ document_id: documentId, filename: "kept.md" });
    const statuses = events.events.slice(from).filter((e) => e.name === "document_status");
    expect(statuses[0].data.status).toBe("processing");
    for (const e of events.events.slice(from)) {
      expect(JSON.stringify(e.data)).not.toContain("left.md");
    }

    socket.emit("leave_project", { project_id: second });
    expect(await events.next("project_left")).toEqual({ project_id: second });
  } finally {
    socket.disconnect();
  }
});

test("connections without a valid token are refused with a connect error", async () => {
  for (const [token, reason] of [
    [undefined, "Missing API key"],
    ["wrong-key", "Invalid API key"],
  ] as const) {
    const socket = io(server.url, {
      path: "/socket.io",
      transports: ["websocket"],
      auth: token ? { token } : {},
      reconnection: false,
      forceNew: true,
    });
    const error = await new Promise<Error>((resolve) => socket.on("connect_error", resolve));
    expect(error.message).toBe(reason);
    expect(socket.connected).toBe(false);
    socket.close();
  }
});

test("malformed payloads get an error naming the field and the connection stays usable", async () => {
  const { socket, events } = connect(["websocket"]);
  try {
    await events.next("connection_status");
    socket.emit("send_message", { chat_id: 5 });
    expect((await events.next("error")).message).toContain("`message`");
    let from = events.events.length;
    socket.emit("send_message", { chat_id: 5, message: "hi", temperature: "warm" });
    expect((await events.next("error", () => true, from)).message).toContain("temperature");
    from = events.events.length;
    socket.emit("join_project", "not an object");
    expect((await events.next("error", () => true, from)).message).toContain("object");
    from = events.events.length;
    socket.emit("join_project", { project_id: "no-such-project" });
    expect((await events.next("error", () => true, from)).message).toContain("no-such-project");
    // Unknown events are ignored, as Socket.IO servers do.
    socket.emit("no_such_event", { anything: 1 });
    from = events.events.length;
    socket.emit("ping");
    await events.next("pong", () => true, from);
    expect(events.names(from)).toEqual(["pong"]);
    expect(socket.connected).toBe(true);
  } finally {
    socket.disconnect();
  }
});

test("a seed-001 status broadcast reaches a Socket.IO subscriber, and connections are counted", async () => {
  const projectId = await project("Videos");
  const before = (await api("/api/v1/websocket/connections")).active_connections;
  const { socket, events } = connect(["polling"]);
  try {
    await events.next("connection_status");
    expect((await api("/api/v1/websocket/connections")).active_connections).toBe(before + 1);
    socket.emit("subscribe_processing_updates", { project_id: projectId });
    expect(await events.next("processing_updates_subscribed")).toEqual({ room: `project:${projectId}` });
    await api("/api/v1/websocket/status", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ room: `project:${projectId}`, status: "processing", progress_percent: 40, message: "Transcribing" }),
    });
    expect(await events.next("processing_status")).toEqual({
      room: `project:${projectId}`,
      status: "processing",
      progress_percent: 40,
      message: "Transcribing",
    });
  } finally {
    socket.disconnect();
  }
  await expect.poll(async () => (await api("/api/v1/websocket/connections")).active_connections).toBe(before);
});

// python-socketio 5.x, from its own virtual environment (scripts/setup.sh installs it).
const PYTHON = path.resolve(__dirname, "..", "..", ".tools", "socketio", "bin", "python");
const PYTHON_CLIENT = path.resolve(__dirname, "..", "python", "socketio_client.py");

for (const transport of ["websocket", "polling"] as const) {
  test(`python-socketio runs seed 004's flow over ${transport}`, async () => {
    const projectId = await project(`Python client (${transport})`);
    await upload(projectId, {
      "src/parse.rs": "/// The configuration parser.\npub fn parse_config(text: &str) {}\n",
    });
    const { stdout } = await promisify(execFile)(
      PYTHON,
      [PYTHON_CLIENT, server.url, API_KEY, projectId, transport],
      { timeout: 45_000 },
    );
    const seen = JSON.parse(stdout);
    expect(seen).toMatchObject({
      status: "connected",
      transport,
      events: ["connection_status", "project_joined", "message_received", "message_sources", "message_complete"],
      answer: ANSWER.join(""),
      metadata: { model: expect.any(String), sources_count: expect.any(Number) },
    });
    expect(seen.paths).toContain("src/parse.rs");
  });
}

test("a flood is rate limited and an oversized payload closes that client only", async () => {
  const flooder = connect(["websocket"]);
  const bystander = connect(["websocket"]);
  const big = connect(["websocket"]);
  try {
    await Promise.all([flooder, bystander, big].map(({ events }) => events.next("connection_status")));
    // 150 events at once against a budget of 40 a second: the first are answered, the
    // rest refused, and the client is told so.
    for (let i = 0; i < 150; i++) flooder.socket.emit("ping");
    const limited = await flooder.events.next("error", (d) => d.code === "rate_limited");
    expect(limited.message).toContain("slow down");
    expect(flooder.events.names().filter((n) => n === "pong").length).toBeGreaterThan(0);

    // Over REPOWIKI_MAX_FRAME_BYTES (64 KiB): an error, then that client is disconnected.
    const disconnected = new Promise<string>((resolve) => big.socket.on("disconnect", resolve));
    big.socket.emit("send_message", { chat_id: 9, message: "x".repeat(100 * 1024) });
    expect((await big.events.next("error")).message).toContain("too large");
    expect(await disconnected).toBe("io server disconnect");

    const from = bystander.events.events.length;
    bystander.socket.emit("ping");
    await bystander.events.next("pong", () => true, from);
    expect(bystander.socket.connected).toBe(true);
  } finally {
    for (const { socket } of [flooder, bystander, big]) socket.disconnect();
  }
});
