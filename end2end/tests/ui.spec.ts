import { test, expect } from "./fixtures";
import { audit } from "./audit";
import { ANSWER_END, ask, lastAnswer, waitForHydration } from "./server";

test("keyboard: ? opens the shortcuts, / focuses the message box, Ctrl+Shift+O starts a new chat", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await page.locator("body").press("?");
  const dialog = page.getByRole("dialog", { name: "Keyboard shortcuts" });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText("Copy the last answer");
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();

  await page.locator("body").press("/");
  await expect(page.getByRole("textbox", { name: "Message" })).toBeFocused();

  await expect(page.getByRole("status")).toHaveText("Connected");
  await page.keyboard.type("Keyboard only");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/chat\//);
  await expect(lastAnswer(page)).toContainText(ANSWER_END, { timeout: 20_000 });
  await page.keyboard.press("Control+Shift+O");
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByText("Ask about your code.")).toBeVisible();

  // The conversation list hides and shows again.
  const list = page.getByRole("navigation", { name: "Conversations" });
  await expect(list).toBeVisible();
  await page.keyboard.press("Control+Shift+S");
  await expect(list).toBeHidden();
  await page.keyboard.press("Control+Shift+S");
  await expect(list).toBeVisible();
});

test("dark mode follows the system and the toggle is remembered", async ({ browser }) => {
  const context = await browser.newContext({ colorScheme: "dark" });
  const page = await context.newPage();
  await page.goto("/");
  await waitForHydration(page);
  const html = page.locator("html");
  await expect(html).toHaveClass(/dark/);
  // system → dark → light
  await page.getByRole("button", { name: /^Theme: system/ }).click();
  await page.getByRole("button", { name: /^Theme: dark/ }).click();
  await expect(html).not.toHaveClass(/dark/);
  await page.reload();
  await waitForHydration(page);
  await expect(html).not.toHaveClass(/dark/);
  await expect(page.getByRole("button", { name: /^Theme: light/ })).toBeVisible();
  await context.close();
});

test("on a phone the sidebars collapse and open on demand", async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto("/");
  await waitForHydration(page);
  const list = page.getByRole("navigation", { name: "Conversations" });
  await expect(list).toBeHidden();
  await expect(page.getByRole("complementary", { name: "Sources" })).toBeHidden();
  await expect(page.getByRole("textbox", { name: "Message" })).toBeVisible();
  await page.getByRole("button", { name: "Toggle conversation list" }).click();
  await expect(list).toBeVisible();
  await list.getByRole("button", { name: "Close" }).click();
  await expect(list).toBeHidden();
  await context.close();
});

test("every page passes an accessibility scan, in light and dark", async ({ browser, browserErrors }, testInfo) => {
  // The scan includes the pages for a job and a project that do not exist.
  browserErrors.allow(/status of 404 .*\/api\/(wiki\/jobs|projects)\/no-such-/);
  for (const colorScheme of ["light", "dark"] as const) {
    const context = await browser.newContext({ colorScheme });
    const page = await context.newPage();
    await page.goto("/");
    await waitForHydration(page);
    await audit(page, testInfo, `chat-new-${colorScheme}`);

    await expect(page.getByRole("status")).toHaveText("Connected");
    await ask(page, "Explain the code:\n\n```rust\nfn main() {}\n```");
    await expect(lastAnswer(page)).toContainText(ANSWER_END, { timeout: 20_000 });
    await audit(page, testInfo, `chat-conversation-${colorScheme}`);

    await page.locator("body").press("?");
    await expect(page.getByRole("dialog", { name: "Keyboard shortcuts" })).toBeVisible();
    await audit(page, testInfo, `shortcuts-${colorScheme}`);
    await page.keyboard.press("Escape");

    await page.goto("/projects");
    await waitForHydration(page);
    await expect(page.getByRole("heading", { name: "Projects", level: 1 })).toBeVisible();
    await expect(page.getByText("Loading…")).toHaveCount(0);
    await audit(page, testInfo, `projects-${colorScheme}`);

    await page.goto("/wiki/job/no-such-job");
    await waitForHydration(page);
    await expect(page.getByRole("alert").or(page.getByRole("progressbar"))).toBeVisible();
    await audit(page, testInfo, `job-${colorScheme}`);

    await page.goto("/projects/no-such-project/wiki");
    await waitForHydration(page);
    await expect(page.getByText("Loading the wiki…")).toHaveCount(0);
    await audit(page, testInfo, `wiki-${colorScheme}`);

    await page.goto("/wiki/jobs");
    await waitForHydration(page);
    await expect(page.getByRole("heading", { name: "Wiki jobs" })).toBeVisible();
    await audit(page, testInfo, `jobs-${colorScheme}`);

    await page.goto("/signin");
    await waitForHydration(page);
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
    await audit(page, testInfo, `signin-${colorScheme}`);
    await context.close();
  }
});

test("every page fits a 375 px phone and a 1440 px screen (screenshots kept)", async ({ browser }, testInfo) => {
  for (const width of [375, 1440]) {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    for (const [name, path] of [
      ["chat", "/"],
      ["projects", "/projects"],
      ["jobs", "/wiki/jobs"],
      ["signin", "/signin"],
    ]) {
      await page.goto(path);
      await waitForHydration(page);
      const sideways = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(sideways, `${name} at ${width} px scrolls sideways`).toBeLessThanOrEqual(0);
      const file = testInfo.outputPath(`${name}-${width}.png`);
      await page.screenshot({ path: file, fullPage: true });
      await testInfo.attach(`${name}-${width}.png`, { path: file, contentType: "image/png" });
    }
    await context.close();
  }
});
