import { SERVER_DOWN, test, expect } from "./fixtures";
import { ControlledServer, ask, lastAnswer, waitForHydration } from "./server";

test("the indicator shows reconnecting while the server is down and connected when it returns", async ({ page, browserErrors }) => {
  browserErrors.allow(SERVER_DOWN);
  const server = new ControlledServer(3107);
  await server.start();
  try {
    await page.goto(server.url);
    await waitForHydration(page);
    const status = page.getByRole("status");
    await expect(status).toHaveText("Connected");

    await server.stop();
    await expect(status).toHaveText("Reconnecting…");
    await expect(page.getByTestId("connection-detail")).toHaveText(/attempt \d+/);

    await server.start();
    await expect(status).toHaveText("Connected", { timeout: 30_000 });
  } finally {
    await server.stop();
  }
});

test("killing and restarting the server mid-answer shows reconnecting, then the answer as stored", async ({ page, browserErrors }) => {
  browserErrors.allow(SERVER_DOWN);
  const server = new ControlledServer(3145, { REPOWIKI_OFFLINE_TOKENS_PER_SEC: "6" });
  await server.start();
  try {
    await page.goto(server.url);
    await waitForHydration(page);
    const status = page.getByRole("status");
    await expect(status).toHaveText("Connected");
    await ask(page, "Survive a restart");
    await expect(lastAnswer(page)).toContainText("offline provider");

    await server.stop();
    await expect(status).toHaveText("Reconnecting…");
    await server.start();
    await expect(status).toHaveText("Connected", { timeout: 30_000 });
    // The rejoin brings the stored conversation: the question and the answer as far as it
    // got, settled (no longer streaming), with nothing lost or doubled.
    await expect(page.getByRole("button", { name: "Send", exact: true })).toBeVisible({ timeout: 30_000 });
    await expect(page.locator("[data-role='user']")).toHaveCount(1);
    await expect(page.locator("[data-role='assistant']")).toHaveCount(1);
    await expect(lastAnswer(page)).toContainText("offline provider");
  } finally {
    await server.stop();
  }
});
