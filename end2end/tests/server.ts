// Where the server binary and site are, and how to run one the tests control.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Page } from "@playwright/test";

// Not 3000: `cargo leptos end-to-end` starts a server there without waiting for it to listen,
// so the tests start (and wait for) their own.
export const MAIN_PORT = 3100;

const workspace = path.resolve(__dirname, "..", "..");
const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(workspace, process.env.CARGO_TARGET_DIR)
  : path.join(workspace, "target");
// The release build by default: the one `scripts/run.sh` serves to users. A debug server
// with a debug WASM can hydrate where the release pair does not, so testing debug alone
// once hid a release build that was dead in the browser. REPOWIKI_E2E_PROFILE=debug is for
// a quick local loop after `cargo leptos build`.
const profile = process.env.REPOWIKI_E2E_PROFILE ?? "release";
const serverBin = process.env.REPOWIKI_SERVER_BIN ?? path.join(targetDir, profile, "server");
const siteRoot = process.env.LEPTOS_SITE_ROOT ?? path.join(workspace, "target", "site");

export const chromiumLaunchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
};

function serverEnv(port: number, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...extra,
    LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    LEPTOS_SITE_ROOT: siteRoot,
    LEPTOS_OUTPUT_NAME: "repowiki",
    REPOWIKI_DATA_DIR: mkdtempSync(path.join(tmpdir(), "repowiki-e2e-")),
    RUST_LOG: process.env.RUST_LOG ?? "warn",
  };
}

/** The shell command Playwright's webServer runs (a fresh data folder each time). */
export function serverCommand(port: number): string {
  const env = serverEnv(port);
  const vars = ["LEPTOS_SITE_ADDR", "LEPTOS_SITE_ROOT", "LEPTOS_OUTPUT_NAME", "REPOWIKI_DATA_DIR"]
    .map((k) => `${k}='${env[k]}'`)
    .join(" ");
  return `${vars} '${serverBin}'`;
}

/** A server on its own port that a test may stop and start again (same data folder). */
export class ControlledServer {
  private child?: ChildProcess;
  private readonly env: NodeJS.ProcessEnv;

  /** `extra` adds environment variables, e.g. a slower offline provider. */
  constructor(readonly port: number, extra: NodeJS.ProcessEnv = {}) {
    this.env = serverEnv(port, extra);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn(serverBin, [], { env: this.env, stdio: "inherit" });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${this.url}/health`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server on port ${this.port} did not become healthy`);
  }

  /** SIGTERM, then wait for the process to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
}

/** Event handlers are attached only after hydration; clicks before it are lost. */
export async function waitForHydration(page: Page): Promise<void> {
  await page.locator("body[data-hydrated='true']").waitFor({ state: "attached" });
}

/** The streamed answer of the newest assistant message. */
export function lastAnswer(page: Page) {
  return page.locator("[data-role='assistant'] [data-markdown]").last();
}

/** Asks a question from wherever the page is and waits to land on the conversation's URL. */
export async function ask(page: Page, question: string): Promise<void> {
  await page.getByRole("textbox", { name: "Message" }).fill(question);
  await page.getByRole("button", { name: "Send" }).click();
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
}

/** The offline provider's answer always ends with this sentence. */
export const ANSWER_END = "restart the server.";
