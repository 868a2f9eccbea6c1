import { test, expect } from "./fixtures";
import { waitForHydration } from "./server";

// Every test fails on a console or page error (fixtures.ts). This file checks that guard
// against a real hydration failure of the release WASM, whose panic says no more than
// "unreachable": it must be recorded as soon as it happens, not show up as a later timeout.
test("a page whose HTML does not match its views is caught as an error", async ({ page, browserErrors }) => {
  // The panic is what this test provokes. A page fulfilled by Playwright counts as a
  // public page, so Chromium also blocks its socket to 127.0.0.1.
  browserErrors.allow(/hydration\.rs|unreachable|ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS/);
  // The server's page without its hydration markers: what a server whose views were
  // compiled differently from the WASM's (the erase_components mismatch) sends.
  await page.route("/", async (route) => {
    const response = await route.fetch();
    const html = (await response.text()).replaceAll("<!>", "");
    await route.fulfill({ response, body: html });
  });
  await page.goto("/");
  await expect
    .poll(() => browserErrors.seen().join("\n"))
    .toMatch(/tachys.*hydration\.rs|page error on .*unreachable/);
});

test("the chat and projects pages hydrate", async ({ page }) => {
  for (const path of ["/", "/projects"]) {
    await page.goto(path);
    await waitForHydration(page);
  }
});
