import path from "node:path";
import { defineConfig } from "@playwright/test";
import { chromiumLaunchOptions, serverCommand, MAIN_PORT } from "./tests/server";

/**
 * Browser tests drive Debian's Chromium against the real release server binary and WASM,
 * which Playwright starts with a fresh data folder (after `cargo leptos build --release`).
 * Any console error or page error fails the test (tests/fixtures.ts).
 */
export default defineConfig({
  testDir: "./tests",
  // Explicit, so that results land in the git-ignored end2end/ folders whatever the cwd.
  outputDir: path.join(__dirname, "test-results"),
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [["list"], ["html", { open: "never", outputFolder: path.join(__dirname, "playwright-report") }]],
  use: {
    baseURL: `http://127.0.0.1:${MAIN_PORT}`,
    trace: "retain-on-failure",
    screenshot: "on",
    launchOptions: chromiumLaunchOptions,
  },
  projects: [{ name: "chromium", use: { browserName: "chromium" } }],
  webServer: {
    command: serverCommand(MAIN_PORT),
    url: `http://127.0.0.1:${MAIN_PORT}/health`,
    reuseExistingServer: true,
    timeout: 60_000,
    stdout: "pipe",
  },
});
