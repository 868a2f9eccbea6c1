// Editing a question (a new branch), browsing versions, the jobs list, and signing in
// when the server asks for an API key: the names here are the ones other tools rely on.
import { test, expect } from "./fixtures";
import { ANSWER_END, ControlledServer, ask, lastAnswer, waitForHydration } from "./server";

test("editing a question starts a new branch and the arrows browse back to the old one", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByRole("status")).toHaveText("Connected");
  await ask(page, "What does the hub do?");
  await expect(lastAnswer(page)).toContainText(ANSWER_END, { timeout: 20_000 });

  await page.getByRole("button", { name: "Edit question" }).click();
  const editor = page.getByRole("textbox", { name: "Edited question" });
  await expect(editor).toBeFocused();
  await editor.fill("How are rooms named?");
  await page.getByRole("button", { name: "Save and send" }).click();

  const question = page.locator("[data-role='user']");
  await expect(question).toHaveCount(1);
  await expect(question).toContainText("How are rooms named?");
  await expect(question).toContainText("2 / 2");
  await expect(lastAnswer(page)).toContainText(ANSWER_END, { timeout: 20_000 });

  await page.getByRole("button", { name: "Previous version" }).click();
  await expect(question).toContainText("What does the hub do?");
  await expect(question).toContainText("1 / 2");
  await expect(page.getByRole("button", { name: "Previous version" })).toBeDisabled();
  await expect(lastAnswer(page)).toContainText(ANSWER_END);

  // The branch shown is stored: a reload shows the same one.
  await page.reload();
  await waitForHydration(page);
  await expect(question).toContainText("What does the hub do?");
  await page.getByRole("button", { name: "Next version" }).click();
  await expect(question).toContainText("How are rooms named?");
});

test("a regenerated answer keeps the old one as a version", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByRole("status")).toHaveText("Connected");
  await ask(page, "Explain the storage layer");
  await expect(lastAnswer(page)).toContainText(ANSWER_END, { timeout: 20_000 });
  await page.getByRole("button", { name: "Regenerate" }).click();
  const answer = page.locator("[data-role='assistant']");
  await expect(answer).toHaveCount(1);
  await expect(answer).toContainText("2 / 2", { timeout: 20_000 });
  await expect(lastAnswer(page)).toContainText(ANSWER_END, { timeout: 20_000 });
  await page.getByRole("button", { name: "Previous version" }).click();
  await expect(answer).toContainText("1 / 2");
  await expect(page.getByRole("button", { name: "Next version" })).toBeEnabled();
});

test("a conversation open in two places shows how many are viewing and who types", async ({ browser }) => {
  const first = await browser.newContext();
  const pageA = await first.newPage();
  await pageA.goto("/");
  await waitForHydration(pageA);
  await expect(pageA.getByRole("status")).toHaveText("Connected");
  await ask(pageA, "Who else is here?");
  await expect(lastAnswer(pageA)).toContainText(ANSWER_END, { timeout: 20_000 });

  const second = await browser.newContext();
  const pageB = await second.newPage();
  await pageB.goto(pageA.url());
  await waitForHydration(pageB);
  await expect(pageA.getByTestId("viewers")).toHaveText("2 viewing");
  await expect(pageB.getByTestId("viewers")).toHaveText("2 viewing");
  await pageB.getByRole("textbox", { name: "Message" }).pressSequentially("a question");
  await expect(pageA.getByTestId("typing")).toBeVisible();

  await second.close();
  await expect(pageA.getByTestId("viewers")).toHaveCount(0);
  await first.close();
});

test("the jobs list is server-rendered and filters by status", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/wiki/jobs");
  await expect(page.getByRole("heading", { name: "Wiki jobs" })).toBeVisible();
  await expect(page.getByRole("combobox", { name: "Status" })).toBeVisible();
  await page.getByRole("combobox", { name: "Status" }).selectOption("failed");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/\/wiki\/jobs\?project=&status=failed/);
  await expect(page.getByRole("combobox", { name: "Status" })).toHaveValue("failed");
  await context.close();
});

test.describe("with auth on", () => {
  const API_KEY = "e2e-secret-key";
  const server = new ControlledServer(3152, {
    REPOWIKI_AUTH_ENABLED: "true",
    REPOWIKI_API_KEYS: API_KEY,
  });
  test.beforeAll(async () => server.start());
  test.afterAll(async () => server.stop());

  test("pages need a session: sign in with the key, no leak without one, sign out", async ({ browser }) => {
    const context = await browser.newContext({ baseURL: server.url });
    const page = await context.newPage();

    // A page asked for without a session goes to sign-in, and keeps where it was going.
    await page.goto("/chat/00000000-0000-4000-8000-000000000001");
    await expect(page).toHaveURL(/\/signin\?next=%2Fchat%2F/);
    await waitForHydration(page);
    await page.getByLabel("API key").fill("not-the-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert")).toContainText("invalid");

    await page.getByLabel("API key").fill(API_KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/chat\/00000000-0000-4000-8000-000000000001$/);
    await waitForHydration(page);
    await expect(page.getByRole("status")).toHaveText("Connected");
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "repowiki_session");
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe("Strict");
    expect(session?.value).not.toContain(API_KEY);
    expect(await page.evaluate(() => document.cookie)).not.toContain("repowiki_session");

    await page.goto("/");
    await waitForHydration(page);
    await ask(page, "Is this conversation private?");
    await expect(lastAnswer(page)).toContainText(ANSWER_END, { timeout: 20_000 });
    const conversation = page.url();

    // Another browser without the session sees none of it.
    const stranger = await browser.newContext({ baseURL: server.url, javaScriptEnabled: false });
    const strangerPage = await stranger.newPage();
    await strangerPage.goto(conversation);
    await expect(strangerPage).toHaveURL(/\/signin\?next=/);
    await expect(strangerPage.locator("body")).not.toContainText("Is this conversation private?");
    await stranger.close();

    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/signin$/);
    await page.goto(conversation);
    await expect(page).toHaveURL(/\/signin\?next=/);
    await context.close();
  });
});
