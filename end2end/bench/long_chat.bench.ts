// A long chat in the release build, in Chromium: a conversation of 500 stored messages,
// then one answer of 20,000 tokens streamed into it. Prints the browser main thread's
// time per token over the answer's first and last 1,000 tokens (Chrome's own task
// accounting, so it counts every cost the page pays: socket frame, signals, Markdown,
// DOM) and the page's JS heap before and after. The native bench of the same component
// (`cargo bench -p server -- long_chat`) isolates the Markdown part.
import { test, type CDPSession } from "@playwright/test";
import { ScriptedProvider, type ChatRequest } from "../tests/scripted_provider";
import { ControlledServer, waitForHydration } from "../tests/server";

const STORED_TURNS = 250; // 500 messages
const ANSWER_TOKENS = 20_000;
const WINDOW = 1_000;
const TOKENS_PER_SEC = Number(process.env.LONG_CHAT_TOKENS_PER_SEC ?? 250);
const LONG_QUESTION = "Write the long answer.";

/** Prose in paragraphs with a list and a fenced code block now and then, like real answers. */
function* longAnswer(): Generator<string> {
  for (let i = 0; i < ANSWER_TOKENS; i++) {
    if (i % 400 === 200) yield "\n\n```rust\nfn step_" + i + "() -> u32 {\n    " + i + "\n}\n```\n\n";
    else if (i % 120 === 60) yield "\n\n- item " + i + "\n- item " + (i + 1) + "\n\n";
    else if (i % 40 === 39) yield "sentence " + i + ".\n\n";
    else yield ["the ", "hub ", "sends ", "each ", "frame ", "once "][i % 6];
  }
}

function script(request: ChatRequest) {
  const question = request.messages.at(-1)?.content ?? "";
  if (question.includes(LONG_QUESTION)) return { deltas: longAnswer(), perSecond: TOKENS_PER_SEC };
  return { deltas: ["A short ", "stored ", "answer ", "with `code` ", "and **bold**."] };
}

async function taskSeconds(cdp: CDPSession): Promise<number> {
  const { metrics } = await cdp.send("Performance.getMetrics");
  return metrics.find((m) => m.name === "TaskDuration")?.value ?? NaN;
}

async function heapMiB(cdp: CDPSession): Promise<number> {
  await cdp.send("HeapProfiler.collectGarbage");
  const { usedSize } = await cdp.send("Runtime.getHeapUsage");
  return usedSize / (1024 * 1024);
}

test("long chat: time per token at the start and the end of a 20,000-token answer", async ({ browser }) => {
  const provider = new ScriptedProvider(script);
  const baseUrl = await provider.start();
  const server = new ControlledServer(3190, {
    OPENAI_API_KEY: "sk-scripted",
    OPENAI_BASE_URL: baseUrl,
    REPOWIKI_MODEL_CALLS_PER_MIN: "100000",
    REPOWIKI_REST_REQUESTS_PER_SEC: "100000",
  });
  await server.start();
  try {
    let conversationId: string | undefined;
    const seeding = Date.now();
    for (let i = 0; i < STORED_TURNS; i++) {
      const res = await fetch(`${server.url}/api/chat/message`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: `Stored question ${i}: where is frame ${i} sent?`, conversation_id: conversationId }),
      });
      if (!res.ok) throw new Error(`seeding turn ${i}: ${res.status} ${await res.text()}`);
      conversationId ??= (await res.json()).conversation_id;
    }
    console.log(`seeded ${STORED_TURNS * 2} messages in ${((Date.now() - seeding) / 1000).toFixed(1)} s`);

    const page = await browser.newPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Performance.enable");
    await page.goto(`${server.url}/chat/${conversationId}`);
    await waitForHydration(page);
    await page.locator("[data-role='assistant']").nth(STORED_TURNS - 1).waitFor();
    const heapLoaded = await heapMiB(cdp);

    // Task time is read when the provider has sent each window's edges; the browser
    // trails it by a frame or two, the same at both ends.
    const marks = new Map<number, Promise<number>>();
    const edges = [0, WINDOW, ANSWER_TOKENS - WINDOW];
    let providerDone = 0;
    provider.onDelta = (sent) => {
      if (edges.includes(sent)) marks.set(sent, taskSeconds(cdp));
      if (sent === ANSWER_TOKENS) providerDone = Date.now();
    };
    marks.set(0, taskSeconds(cdp));
    const streaming = Date.now();
    await page.getByRole("textbox", { name: "Message" }).fill(LONG_QUESTION);
    await page.getByRole("button", { name: "Send" }).click();
    const answer = page.locator("[data-role='assistant'] [data-markdown]").last();
    await answer.getByText(`sentence ${ANSWER_TOKENS - 1}.`).waitFor({ timeout: 10 * 60_000 });
    const end = await taskSeconds(cdp);
    // A page that cannot keep up shows the answer's end late; then the last window also
    // holds the backlog, and its figure is an upper bound.
    const behind = (Date.now() - providerDone) / 1000;
    const wall = (Date.now() - streaming) / 1000;
    const heapStreamed = await heapMiB(cdp);

    const at = async (n: number) => (await marks.get(n)) ?? NaN;
    const first = ((await at(WINDOW)) - (await at(0))) / WINDOW;
    const last = (end - (await at(ANSWER_TOKENS - WINDOW))) / WINDOW;
    const us = (s: number) => `${(s * 1e6).toFixed(0)} µs`;
    console.log(
      `streamed ${ANSWER_TOKENS} tokens at ${TOKENS_PER_SEC}/s in ${wall.toFixed(1)} s; the page showed the end ${behind.toFixed(2)} s after the provider sent it`,
    );
    console.log(`main-thread time per token, first ${WINDOW}: ${us(first)}`);
    console.log(`main-thread time per token, last ${WINDOW}:  ${us(last)} (x${(last / first).toFixed(2)}; target <= x2)`);
    console.log(`JS heap: ${heapLoaded.toFixed(1)} MiB with ${STORED_TURNS * 2} messages loaded, ${heapStreamed.toFixed(1)} MiB after the answer`);
    await page.close();
  } finally {
    await server.stop();
    await provider.stop();
  }
});
