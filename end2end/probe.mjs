import { chromium } from "@playwright/test";
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
const page = await browser.newPage();
page.on("console", (m) => console.log("console", m.type(), m.text()));
page.on("pageerror", (e) => console.log("pageerror", e.message));
await page.goto("http://127.0.0.1:3100/");
await page.locator("body[data-hydrated='true']").waitFor({ state: "attached" });
await page.waitForTimeout(1000);
await page.getByRole("textbox", { name: "Message" }).fill("What is this?");
await page.getByRole("button", { name: "Send" }).click();
for (let i = 0; i < 12; i++) {
  await page.waitForTimeout(1000);
  const html = await page.locator("[data-role='assistant'] [data-markdown]").last().evaluate((e) => e.innerHTML.length + " " + e.innerText.slice(0, 80).replace(/\n/g, " "));
  console.log(i, html);
}
await browser.close();
