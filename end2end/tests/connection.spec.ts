import { test, expect } from "@playwright/test";
import { ControlledServer, waitForHydration } from "./server";

test("the indicator shows reconnecting while the server is down and connected when it returns", async ({ page }) => {
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
