import type { Page, TestInfo } from "@playwright/test";
import { test, expect } from "./fixtures";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { audit } from "./audit";
import { ANSWER_END, ControlledServer, lastAnswer, waitForHydration } from "./server";

/** A small repository on disk that a local-folder project can index. */
function sampleRepo(): string {
  const root = mkdtempSync(path.join(tmpdir(), "repowiki-sample-"));
  mkdirSync(path.join(root, "src"));
  writeFileSync(
    path.join(root, "src", "config.rs"),
    [
      "//! Configuration loading.",
      "",
      "pub struct Config { pub port: u16 }",
      "",
      "/// Parses the configuration file text into a Config.",
      "pub fn parse_config(text: &str) -> Config {",
      "    let port = text.trim().parse().unwrap_or(8080);",
      "    Config { port }",
      "}",
    ].join("\n"),
  );
  writeFileSync(path.join(root, "README.md"), "# Sample\n\nA sample service whose config is parsed by parse_config.\n");
  return root;
}

/** A full-page screenshot, attached to the report and kept in the test's output folder. */
async function shot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const file = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(`${name}.png`, { path: file, contentType: "image/png" });
}

async function addLocalProject(page: Page, folder: string, name: string): Promise<void> {
  await page.getByRole("tab", { name: "Local folder" }).click();
  await page.getByLabel("Folder on the server").fill(folder);
  await page.getByLabel("Name (optional)").fill(name);
  await page.getByRole("button", { name: "Add project" }).click();
  await expect(page.getByText("Project added; indexing has started.")).toBeVisible();
}

test("a local project is indexed, answers with sources, takes uploads, and gets a wiki", async ({ page, browser }, testInfo) => {
  test.setTimeout(180_000);
  const repo = sampleRepo();
  const server = new ControlledServer(3144, { REPOWIKI_LOCAL_ROOTS: path.dirname(repo) });
  await server.start();
  try {
    await page.goto(`${server.url}/projects`);
    await waitForHydration(page);
    await addLocalProject(page, repo, "Sample");
    const card = page.getByTestId("project").filter({ hasText: "Sample" });
    await expect(card.getByText("Ready")).toBeVisible({ timeout: 60_000 });
    await shot(page, testInfo, "projects");

    // Upload by the file picker (the drop zone's input), followed to "Indexed".
    await card.getByRole("button", { name: "Upload" }).click();
    await card.locator("input[type=file]").setInputFiles({
      name: "notes.md",
      mimeType: "text/markdown",
      buffer: Buffer.from("# Notes\n\nThe port defaults to 8080.\n"),
    });
    await expect(card.getByRole("list", { name: "Uploads" })).toContainText("Indexed", { timeout: 30_000 });

    // Chat about the project: real retrieval, sources in the sidebar, the file viewer.
    await card.getByRole("link", { name: "Chat" }).click();
    await waitForHydration(page);
    await expect(page.getByRole("status")).toHaveText("Connected");
    await page.getByRole("textbox", { name: "Message" }).fill("How is parse_config used?");
    await page.getByRole("button", { name: "Send" }).click();
    await expect(lastAnswer(page)).toContainText(ANSWER_END, { timeout: 30_000 });
    const sources = page.getByRole("complementary", { name: "Sources" });
    await expect(sources.getByTestId("source").first()).toBeVisible();
    const cite = lastAnswer(page).locator("a.cite").first();
    await cite.click();
    const active = sources.locator("[aria-current='true']");
    await expect(active).toBeFocused();
    await active.getByRole("button").first().click();
    await expect(active.getByTestId("file-view")).toBeVisible();
    await shot(page, testInfo, "chat-with-sources");

    // Wiki generation, followed live, reloaded midway, then read.
    await page.goto(`${server.url}/projects`);
    await waitForHydration(page);
    await card.getByRole("button", { name: "Generate wiki" }).click();
    await expect(page).toHaveURL(/\/wiki\/job\//);
    const jobUrl = page.url();
    await expect(page.getByRole("progressbar", { name: "Wiki generation progress" })).toBeVisible();
    await page.reload();
    await waitForHydration(page);
    await expect(page.getByRole("progressbar", { name: "Wiki generation progress" })).toBeVisible();
    await expect(page.getByTestId("job-status")).toHaveText(/completed/, { timeout: 120_000 });
    await expect(page.getByTestId("job-page").first()).toBeVisible();
    await shot(page, testInfo, "job");
    await page.getByRole("link", { name: "Open the wiki" }).click();
    await waitForHydration(page);
    await expect(page.getByRole("navigation", { name: "Wiki sections" })).toBeVisible();
    await expect(page.locator("article [data-markdown]")).not.toBeEmpty();
    await expect(page.getByRole("link", { name: "Export Markdown" })).toHaveAttribute("href", /format=markdown/);
    await shot(page, testInfo, "wiki");
    const wikiUrl = page.url();
    // Nothing runs any more: the header's count is gone.
    await expect(page.getByTestId("running-jobs")).toHaveCount(0);

    // A cited line range opens the source view there.
    const citation = page.locator("article [data-markdown] a[href*='/source?path=']").first();
    await citation.click();
    await expect(page).toHaveURL(/\/projects\/[^/]+\/source\?path=.+&lines=/);
    await expect(page.locator("[data-marked]").first()).toBeVisible();
    await shot(page, testInfo, "source");

    // The project's own page: its wiki, its job, its documents opening in the source view.
    await page.goto(`${server.url}/projects`);
    await waitForHydration(page);
    await card.getByRole("link", { name: "Sample" }).click();
    await expect(page).toHaveURL(/\/projects\/[^/]+$/);
    const projectUrl = page.url();
    await waitForHydration(page);
    await expect(page.getByRole("heading", { name: "Sample", level: 1 })).toBeVisible();
    await expect(page.getByRole("link", { name: "Wiki (en)" })).toBeVisible();
    await expect(page.locator("tr[data-job-id]")).toContainText("completed");
    const documents = page.getByRole("table", { name: "Documents of this project, by path" });
    await expect(documents.getByRole("link", { name: "notes.md" })).toBeVisible();
    for (const colorScheme of ["dark", "light"] as const) {
      await page.emulateMedia({ colorScheme });
      await page.reload();
      await waitForHydration(page);
      await audit(page, testInfo, `project-${colorScheme}`);
    }
    for (const width of [375, 1440]) {
      await page.setViewportSize({ width, height: 900 });
      const sideways = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(sideways, `the project page at ${width} px scrolls sideways`).toBeLessThanOrEqual(0);
      await shot(page, testInfo, `project-${width}`);
    }
    await page.getByRole("searchbox", { name: "Filter by path" }).fill("config");
    await expect(documents.getByRole("link")).toHaveText(["src/config.rs"]);
    await documents.getByRole("link", { name: "src/config.rs" }).click();
    await expect(page).toHaveURL(/\/source\?path=src%2Fconfig\.rs$/);
    await expect(page.getByText("pub fn parse_config")).toBeVisible();

    // Every page reads without JavaScript, with its data.
    const noScript = await browser.newContext({ javaScriptEnabled: false });
    const plain = await noScript.newPage();
    await plain.goto(`${server.url}/projects`);
    await expect(plain.getByTestId("project").filter({ hasText: "Sample" })).toContainText("Ready");
    await plain.goto(projectUrl);
    await expect(plain.getByRole("heading", { name: "Sample", level: 1 })).toBeVisible();
    await expect(plain.getByRole("link", { name: "src/config.rs" })).toBeVisible();
    await plain.goto(jobUrl);
    await expect(plain.getByTestId("job-status")).toHaveText(/completed/);
    await expect(plain.getByTestId("job-page").first()).toBeVisible();
    await plain.goto(wikiUrl);
    await expect(plain.getByRole("navigation", { name: "Wiki sections" })).toBeVisible();
    await expect(plain.locator("article [data-markdown]")).not.toBeEmpty();
    await plain.goto(`${server.url}/`);
    await expect(plain.getByRole("navigation", { name: "Conversations" }).locator("a[href^='/chat/']").first()).toBeVisible();
    await noScript.close();
  } finally {
    // The page first: open on a stopped server, it would log its reconnect attempts.
    await page.close();
    await server.stop();
  }
});

test("the projects page explains a refused folder", async ({ page, browserErrors }) => {
  // Chromium logs every 4xx answer; this one is the point of the test.
  browserErrors.allow(/status of 422 .*\/api\/projects:/);
  await page.goto("/projects");
  await waitForHydration(page);
  await page.getByRole("tab", { name: "Local folder" }).click();
  await page.getByLabel("Folder on the server").fill("/etc");
  await page.getByRole("button", { name: "Add project" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
});

/** A folder of many small source files: indexing it takes long enough to watch. */
function bigRepo(files: number): string {
  const root = mkdtempSync(path.join(tmpdir(), "repowiki-big-"));
  mkdirSync(path.join(root, "src"));
  for (let i = 0; i < files; i++) {
    const body = Array.from({ length: 40 }, (_, line) => `pub fn step_${i}_${line}(x: u64) -> u64 { x.wrapping_mul(${line + 1}) }`);
    writeFileSync(path.join(root, "src", `step_${i}.rs`), body.join("\n\n"));
  }
  return root;
}

test("indexing shows its phase and percent live, and the card keeps focus meanwhile", async ({ page }) => {
  test.setTimeout(180_000);
  const repo = bigRepo(4000);
  const server = new ControlledServer(3146, { REPOWIKI_LOCAL_ROOTS: path.dirname(repo) });
  await server.start();
  try {
    await page.goto(`${server.url}/projects`);
    await waitForHydration(page);
    await addLocalProject(page, repo, "Big");
    const card = page.getByTestId("project").filter({ hasText: "Big" });
    const bar = card.getByRole("progressbar", { name: "Indexing progress" });
    await expect(bar).toBeVisible();
    // Focus inside the card stays put while progress ticks arrive.
    const chat = card.getByRole("link", { name: "Chat" });
    await chat.focus();
    // A large first index is answerable within a second or so (code is first cut by
    // lines), so the bar may show only a value or two: what counts is that a percent and
    // a phase were shown live, before the card said Ready.
    const seen = new Set<string>();
    let phase = "";
    await expect
      .poll(
        async () => {
          const now = await bar.getAttribute("aria-valuenow", { timeout: 500 }).catch(() => null);
          if (now) seen.add(now);
          const text = await card
            .getByTestId("indexing-progress")
            .textContent({ timeout: 500 })
            .catch(() => null);
          if (text && /chunked|reading|writing|fetching|started/.test(text)) phase = text;
          return seen.size > 0 && phase !== "";
        },
        { timeout: 60_000, intervals: [50] },
      )
      .toBe(true);
    await expect(chat).toBeFocused();
    await expect(card.getByText("Ready")).toBeVisible({ timeout: 120_000 });
    await expect(bar).toHaveCount(0);
  } finally {
    await page.close();
    await server.stop();
  }
});
