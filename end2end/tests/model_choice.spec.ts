// The model picker decides who answers: a question and an edited question are both
// answered by the provider and model chosen when they are sent, shown under the answer.
import { test, expect } from "./fixtures";
import { ScriptedProvider } from "./scripted_provider";
import { ANSWER_END, ControlledServer, waitForHydration } from "./server";

const SCRIPTED = "The scripted model answers here.";

let provider: ScriptedProvider;
let server: ControlledServer;

test.beforeAll(async () => {
  provider = new ScriptedProvider(() => ({ deltas: ["The scripted ", "model answers ", "here."] }));
  server = new ControlledServer(3153, { OPENAI_API_KEY: "sk-scripted", OPENAI_BASE_URL: await provider.start() });
  await server.start();
});

test.afterAll(async () => {
  await server?.stop();
  await provider?.stop();
});

test("an edited question is answered by the model chosen when it is sent", async ({ page }) => {
  const models = await (await fetch(`${server.url}/api/models`)).json();
  const choice = (id: string) => {
    const entry = models.providers.find((p: any) => p.id === id);
    return `${id}/${entry.default_model}`;
  };

  await page.goto(`${server.url}/`);
  await waitForHydration(page);
  await expect(page.getByRole("status")).toHaveText("Connected");
  const picker = page.getByRole("combobox", { name: "Model" });
  await expect(picker.locator(`option[value='${choice("openai")}']`)).toBeAttached();
  await picker.selectOption(choice("offline"));
  await page.getByRole("textbox", { name: "Message" }).fill("What does the hub do?");
  await page.getByRole("button", { name: "Send" }).click();
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
  const answer = page.locator("[data-role='assistant']").last();
  await expect(answer).toContainText(ANSWER_END, { timeout: 20_000 });
  await expect(answer).toContainText("offline ·");

  await picker.selectOption(choice("openai"));
  await page.getByRole("button", { name: "Edit question" }).click();
  await page.getByRole("textbox", { name: "Edited question" }).fill("How are rooms named?");
  await page.getByRole("button", { name: "Save and send" }).click();
  await expect(page.locator("[data-role='user']")).toContainText("2 / 2");
  await expect(answer).toContainText(SCRIPTED, { timeout: 20_000 });
  await expect(answer).toContainText(`openai · ${choice("openai").slice("openai/".length)}`);
  expect(JSON.stringify(provider.requests.at(-1)?.messages)).toContain("How are rooms named?");
});
