import { test, expect } from "@playwright/test";
import { waitForHydration } from "./server";

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
  const answer = conversation.locator("[data-role='assistant'] p").first();

  // Streaming: the answer is visible while it is still growing, and a Stop button shows.
  await expect(answer).toContainText("offline provider");
  await expect(page.getByRole("button", { name: "Stop" })).toBeVisible();
  const partial = (await answer.textContent()) ?? "";
  await expect(answer).toContainText("restart the server.", { timeout: 20_000 });
  const full = (await answer.textContent()) ?? "";
  expect(partial.length).toBeLessThan(full.length);
  await expect(page.getByRole("button", { name: "Send" })).toBeVisible();
  await expect(input).toHaveValue("");
});

test("reloading a conversation shows it again", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByRole("status")).toHaveText("Connected");
  await page.getByRole("textbox", { name: "Message" }).fill("Remember me");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/chat\//);
  const answer = page.locator("[data-role='assistant'] p").first();
  await expect(answer).toContainText("restart the server.", { timeout: 20_000 });

  await page.reload();
  await waitForHydration(page);
  await expect(page.locator("[data-role='user']")).toHaveText(/Remember me/);
  await expect(page.locator("[data-role='assistant'] p").first()).toContainText("restart the server.");
});
