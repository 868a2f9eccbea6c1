// A language model for tests and benchmarks: an OpenAI-compatible server on a free local
// port, speaking the real wire format (SSE chat completions, embeddings), whose answers a
// test scripts. Each chat request is recorded.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type ChatRequest = { model: string; messages: Array<{ role: string; content: string }> };

/** The deltas of one answer, streamed in order; a pause between them when given. */
export type Script = (request: ChatRequest) => { deltas: Iterable<string>; perSecond?: number };

export class ScriptedProvider {
  readonly requests: ChatRequest[] = [];
  /** Called with the number of deltas sent so far of the answer streaming now. */
  onDelta?: (sent: number) => void;
  private server?: Server;

  constructor(private readonly script: Script) {}

  /** Starts listening; returns the base URL to give the server as `OPENAI_BASE_URL`. */
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => res.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === "POST" && req.url?.endsWith("/embeddings")) {
      const { input, model } = JSON.parse(await body(req));
      const texts: string[] = Array.isArray(input) ? input : [input];
      const data = texts.map((text, index) => ({ object: "embedding", index, embedding: letterCounts(text) }));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data, model, usage: { prompt_tokens: 0, total_tokens: 0 } }));
      return;
    }
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.writeHead(404).end();
      return;
    }
    const request: ChatRequest = JSON.parse(await body(req));
    this.requests.push(request);
    const { deltas, perSecond } = this.script(request);
    res.writeHead(200, { "content-type": "text/event-stream" });
    const started = Date.now();
    let sent = 0;
    for (const content of deltas) {
      if (perSecond) {
        const due = started + (sent * 1000) / perSecond;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      }
      if (res.destroyed) return;
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`);
      sent += 1;
      this.onDelta?.(sent);
    }
    res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n`);
    res.end("data: [DONE]\n\n");
  }
}

/** Embeddings that are letter counts: similar texts are near, so vector retrieval runs. */
function letterCounts(text: string): number[] {
  const counts = new Array(26).fill(0);
  for (const c of text.toLowerCase()) {
    const i = c.charCodeAt(0) - 97;
    if (i >= 0 && i < 26) counts[i] += 1;
  }
  const norm = Math.hypot(...counts) || 1;
  return counts.map((n) => n / norm);
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => resolve(text));
    req.on("error", reject);
  });
}
