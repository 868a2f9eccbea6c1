import path from "node:path";
import { defineConfig } from "@playwright/test";
import { chromiumLaunchOptions } from "./tests/server";

/**
 * Browser benchmarks: not tests (they print figures and assert nothing about time), so
 * they live apart from `tests/` and run only when asked:
 * `cd end2end && npx playwright test -c bench.config.ts`.
 */
export default defineConfig({
  testDir: "./bench",
  testMatch: "*.bench.ts",
  outputDir: path.join(__dirname, "test-results", "bench"),
  timeout: 15 * 60_000,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: { launchOptions: chromiumLaunchOptions },
  projects: [{ name: "chromium", use: { browserName: "chromium" } }],
});
