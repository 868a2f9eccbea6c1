// Every browser test runs under a guard that fails it on any console error or uncaught
// page error in any page it opens. A hydration panic in the WASM shows up here at once,
// instead of as a timeout in whatever the test clicks next.
import { test as base, expect, type BrowserContext, type Page } from "@playwright/test";

/** Lets a test name the console errors it provokes on purpose (e.g. stopping the server). */
export interface BrowserErrors {
  allow(pattern: RegExp): void;
  /** Everything recorded so far, allowed or not. */
  seen(): string[];
}

export const test = base.extend<{ browserErrors: BrowserErrors }>({
  browserErrors: [
    async ({ browser, context }, use) => {
      const seen: string[] = [];
      const allowed: RegExp[] = [];
      const watchPage = (page: Page) => {
        page.on("console", (message) => {
          if (message.type() !== "error") return;
          const { url, lineNumber } = message.location();
          seen.push(`console error on ${page.url()}: ${message.text()} (${url}:${lineNumber})`);
        });
        page.on("pageerror", (error) => {
          seen.push(`page error on ${page.url()}: ${error.stack ?? error.message}`);
        });
      };
      const watchContext = (watched: BrowserContext) => {
        watched.pages().forEach(watchPage);
        watched.on("page", watchPage);
      };
      watchContext(context);
      // Tests that open their own contexts (no JavaScript, dark mode, a phone, two users)
      // are guarded too.
      const newContext = browser.newContext.bind(browser);
      browser.newContext = async (...args) => {
        const created = await newContext(...args);
        watchContext(created);
        return created;
      };
      try {
        await use({ allow: (pattern) => allowed.push(pattern), seen: () => [...seen] });
      } finally {
        browser.newContext = newContext;
      }
      const unexpected = seen.filter((line) => !allowed.some((pattern) => pattern.test(line)));
      expect(unexpected, "console errors and page errors in the browser").toEqual([]);
    },
    { auto: true },
  ],
});

/** What Chromium reports while a test has the server stopped on purpose. */
export const SERVER_DOWN = /WebSocket connection to .* failed|net::ERR_CONNECTION_REFUSED|Failed to fetch/;

export { expect };
