import { test, expect } from "./fixtures";
import { ANSWER_END, ControlledServer, ask, lastAnswer, waitForHydration } from "./server";

test("the chat page is rendered on the server and readable without JavaScript", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/");
  await expect(page.getByRole("textbox", { name: "Message" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Send" })).toBeVisible();
  await expect(page.getByRole("status")).toHaveText("Offline");
  await expect(page.getByText("Ask about your code.")).toBeVisible();
  await context.close();
});

test("after hydration a question streams an answer token by token", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByRole("status")).toHaveText("Connected");

  const input = page.getByRole("textbox", { name: "Message" });
  await input.fill("What does this repository do?");
  await page.getByRole("button", { name: "Send" }).click();

  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  const conversation = page.locator("[aria-live='polite']");
  await expect(conversation.locator("[data-role='user']")).toHaveText(/What does this repository do\?/);
  const answer = conversation.locator("[data-role='assistant'] [data-markdown]").first();

  // Streaming: the answer is visible while it is still growing, and a Stop button shows.
  await expect(answer).toContainText("offline provider");
  await expect(page.getByRole("button", { name: "Stop" })).toBeVisible();
  const partial = (await answer.textContent()) ?? "";
  await expect(answer).toContainText(ANSWER_END, { timeout: 20_000 });
  const full = (await answer.textContent()) ?? "";
  expect(partial.length).toBeLessThan(full.length);
  await expect(page.getByRole("button", { name: "Send" })).toBeVisible();
  await expect(input).toHaveValue("");
  // Finished blocks are announced by the live region; the growing tail is not.
  await expect(answer.locator(".md-tail")).toHaveCount(0);
});

test("reloading a conversation shows it again", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByRole("status")).toHaveText("Connected");
  await page.getByRole("textbox", { name: "Message" }).fill("Remember me");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/chat\//);
  await expect(lastAnswer(page)).toContainText(ANSWER_END, { timeout: 20_000 });

  await page.reload();
  await waitForHydration(page);
  await expect(page.locator("[data-role='user']")).toHaveText(/Remember me/);
  await expect(lastAnswer(page)).toContainText(ANSWER_END);
});

test("markdown renders with highlighted code, a diagram and copy buttons, and injected HTML stays inert", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByRole("status")).toHaveText("Connected");
  // The offline provider quotes the question, so the question is the model output here.
  const question = [
    "Injection <script>window.__pwned = 1</script> <img src=x onerror=\"window.__pwned = 2\">",
    "",
    "[link](javascript:window.__pwned=3) **bold**",
    "",
    "```rust",
    "fn main() { println!(\"hi\"); }",
    "```",
    "",
    "```mermaid",
    "graph TD; A-->B",
    "```",
    "",
    "end",
  ].join("\n");
  await ask(page, question);
  const answer = lastAnswer(page);
  await expect(answer).toContainText(ANSWER_END, { timeout: 20_000 });

  // Raw HTML is text, not elements.
  await expect(answer).toContainText("<script>window.__pwned = 1</script>");
  await expect(answer.locator("script, img, [onerror]")).toHaveCount(0);
  await expect(answer.locator("a[href^='javascript']")).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  await expect(answer.locator("strong")).toHaveText("bold");

  // Code: highlighted by the lazily loaded highlight.js, with a copy button.
  const code = answer.locator(".code-block code");
  await expect(code).toHaveClass(/hljs/);
  await expect(code.locator("span").first()).toBeVisible();
  await expect(answer.getByRole("button", { name: "Copy" })).toBeVisible();
  // Mermaid: drawn as SVG by the lazily loaded library.
  await expect(answer.locator(".mermaid-svg svg")).toBeVisible({ timeout: 20_000 });
});

test("two browser contexts in one conversation see the same stream", async ({ browser }) => {
  const server = new ControlledServer(3141, { REPOWIKI_OFFLINE_TOKENS_PER_SEC: "12" });
  await server.start();
  const a = await browser.newContext();
  const b = await browser.newContext();
  try {
    const pageA = await a.newPage();
    await pageA.goto(server.url);
    await waitForHydration(pageA);
    await expect(pageA.getByRole("status")).toHaveText("Connected");
    await ask(pageA, "Shared question");
    const url = pageA.url();

    const pageB = await b.newPage();
    await pageB.goto(url);
    await waitForHydration(pageB);
    // B joins mid-answer and sees it grow live, not only at the end.
    await expect(pageB.getByRole("button", { name: "Stop" })).toBeVisible();
    await expect(pageB.locator("[data-role='user']")).toHaveText(/Shared question/);
    await expect(lastAnswer(pageB)).toContainText("offline provider");

    await expect(lastAnswer(pageA)).toContainText(ANSWER_END, { timeout: 30_000 });
    await expect(lastAnswer(pageB)).toContainText(ANSWER_END, { timeout: 30_000 });
    expect(await lastAnswer(pageB).textContent()).toBe(await lastAnswer(pageA).textContent());

    // Typing in one context shows in the other, and goes away when the typing stops.
    await pageB.getByRole("textbox", { name: "Message" }).pressSequentially("A follow");
    await expect(pageA.getByTestId("typing")).toBeVisible();
    await expect(pageB.getByTestId("typing")).toHaveCount(0);
    await expect(pageA.getByTestId("typing")).toHaveCount(0, { timeout: 10_000 });
  } finally {
    await a.close();
    await b.close();
    await server.stop();
  }
});

test("reloading mid-answer continues the same answer", async ({ page }) => {
  const server = new ControlledServer(3142, { REPOWIKI_OFFLINE_TOKENS_PER_SEC: "10" });
  await server.start();
  try {
    await page.goto(server.url);
    await waitForHydration(page);
    await expect(page.getByRole("status")).toHaveText("Connected");
    await ask(page, "Keep going after a reload");
    await expect(lastAnswer(page)).toContainText("offline provider");
    await expect(page.getByRole("button", { name: "Stop" })).toBeVisible();

    await page.reload();
    await waitForHydration(page);
    // Still in progress after the reload, then complete, with exactly one answer.
    await expect(page.getByRole("button", { name: "Stop" })).toBeVisible();
    await expect(lastAnswer(page)).toContainText(ANSWER_END, { timeout: 30_000 });
    await expect(page.locator("[data-role='assistant']")).toHaveCount(1);
    await expect(lastAnswer(page)).toContainText("You asked: “Keep going after a reload”");
  } finally {
    // The page first: open on a stopped server, it would log its reconnect attempts.
    await page.close();
    await server.stop();
  }
});

test("stop keeps the partial answer, regenerate replaces it, copy copies it", async ({ page, context }) => {
  const server = new ControlledServer(3143, { REPOWIKI_OFFLINE_TOKENS_PER_SEC: "8" });
  await server.start();
  try {
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    await page.goto(server.url);
    await waitForHydration(page);
    await expect(page.getByRole("status")).toHaveText("Connected");
    await ask(page, "Stop me");
    await expect(lastAnswer(page)).toContainText("offline provider");
    await page.getByRole("button", { name: "Stop" }).click();
    await expect(page.getByText("Stopped")).toBeVisible();
    await expect(page.getByRole("button", { name: "Send" })).toBeVisible();
    const partial = (await lastAnswer(page).textContent()) ?? "";
    expect(partial).not.toContain(ANSWER_END);

    await page.getByRole("button", { name: "Copy answer" }).click();
    await expect(page.getByRole("button", { name: "Copied" })).toBeVisible();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied.length).toBeGreaterThan(10);

    await page.getByRole("button", { name: "Regenerate" }).click();
    await expect(lastAnswer(page)).toContainText(ANSWER_END, { timeout: 30_000 });
    await expect(page.locator("[data-role='assistant']")).toHaveCount(1);
  } finally {
    // The page first: open on a stopped server, it would log its reconnect attempts.
    await page.close();
    await server.stop();
  }
});

test("deep research shows each iteration as it arrives", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByRole("status")).toHaveText("Connected");
  await page.getByRole("switch", { name: "Deep research" }).check();
  await ask(page, "How is the server started?");
  const steps = page.getByTestId("research-steps");
  await expect(steps.locator("li").first()).toContainText(/Step 1 of \d+/, { timeout: 20_000 });
  await expect(page.getByRole("button", { name: "Send" })).toBeVisible({ timeout: 60_000 });
  expect(await steps.locator("li").count()).toBeGreaterThan(1);
});

test("the conversation list finds, renames and deletes conversations", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByRole("status")).toHaveText("Connected");
  const unique = `Zebra ${Date.now()}`;
  await ask(page, unique);
  await expect(lastAnswer(page)).toContainText(ANSWER_END, { timeout: 20_000 });

  const list = page.getByRole("navigation", { name: "Conversations" });
  const link = list.getByRole("link", { name: unique });
  await expect(link).toBeVisible();
  await expect(link).toHaveAttribute("aria-current", "page");

  await list.getByRole("searchbox", { name: "Search conversations" }).fill("no-such-title-xyz");
  await expect(list.getByText("No conversation matches.")).toBeVisible();
  await list.getByRole("searchbox", { name: "Search conversations" }).fill(unique);
  await expect(link).toBeVisible();

  const item = (title: string) => list.getByRole("listitem").filter({ has: page.getByRole("link", { name: title }) });
  await item(unique).getByRole("button", { name: "Rename conversation" }).click();
  const title = list.getByRole("textbox", { name: "New title" });
  await expect(title).toBeFocused();
  await title.fill(`${unique} renamed`);
  await title.press("Enter");
  await list.getByRole("searchbox", { name: "Search conversations" }).fill("");
  await expect(list.getByRole("link", { name: `${unique} renamed` })).toBeVisible();

  await item(`${unique} renamed`).getByRole("button", { name: "Delete conversation" }).click();
  await list.getByRole("button", { name: "Delete", exact: true }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(list.getByRole("link", { name: `${unique} renamed` })).toHaveCount(0);
});

test("citations highlight their source, preview it, and open it", async ({ page }) => {
  // The offline provider has no project here, so the server's frames are passed through
  // and a `message_sources` frame is added in front of the first token.
  const source = {
    id: "s1",
    path: "src/config.rs",
    start_line: 10,
    end_line: 14,
    snippet: "pub fn parse_config(text: &str) -> Config {",
    score: 0.87,
  };
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    let injected = false;
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => {
      const frame = JSON.parse(String(m));
      if (!injected && frame.type === "message_token") {
        injected = true;
        ws.send(JSON.stringify({
          type: "message_sources",
          conversation_id: frame.conversation_id,
          message_id: frame.message_id,
          sources: [source],
        }));
      }
      ws.send(m);
    });
  });
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByRole("status")).toHaveText("Connected");
  await ask(page, "Where is the config parsed? It is in [1].");
  const answer = lastAnswer(page);
  await expect(answer).toContainText(ANSWER_END, { timeout: 20_000 });

  const cite = answer.locator("a.cite[data-cite='1']").first();
  await cite.hover();
  await expect(page.getByRole("tooltip")).toContainText("src/config.rs:10–14");
  await cite.focus();
  await expect(page.getByRole("tooltip")).toContainText("parse_config");

  await cite.click();
  const sources = page.getByRole("complementary", { name: "Sources" });
  const item = sources.locator("#source-1");
  await expect(item).toBeFocused();
  await expect(item).toHaveAttribute("aria-current", "true");
  await expect(item).toContainText("src/config.rs");
  await expect(item).toContainText("lines 10–14");
  await expect(item).toContainText("0.87");

  await item.getByRole("button").first().click();
  await expect(item.getByTestId("file-view")).toContainText("parse_config");
});

test("while the socket is down a question goes over SSE", async ({ page }) => {
  // The socket is refused, so the client stays in "Reconnecting…".
  await page.routeWebSocket(/\/ws$/, (ws) => ws.close());
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByRole("status")).toHaveText("Reconnecting…");
  await ask(page, "Asked over HTTP");
  await expect(lastAnswer(page)).toContainText(ANSWER_END, { timeout: 20_000 });
  await expect(page.locator("[data-role='user']")).toHaveText(/Asked over HTTP/);
});
