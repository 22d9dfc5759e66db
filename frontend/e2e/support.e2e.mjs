// Support reads a run in the Temporal UI through the codec server, in headless Chromium, and an
// organisation's admin cannot. Against the real stack scripts/support-ui.sh starts: its own
// Temporal dev server with the UI (TEMPORAL_UI_URL), the API (APP_URL) and the worker, sealing
// every payload (PAYLOAD_ENCRYPTION_KEYS).
//
// A seller creates an invoice; a support person is granted by the API binary's command
// (API_BIN support grant), signs in to the web app, opens a codec session on its Support page
// (the cookie), points the Temporal UI's codec setting at <API>/codec with cross-origin
// credentials (as the UI's "Codec Server" dialog does, in its local storage), and opens the
// run: the decoded input shows the invoice's line. The seller's admin, in a browser of their
// own, has no Support page, gets no codec session, and sees the payloads sealed.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const APP = process.env.APP_URL;
const UI = process.env.TEMPORAL_UI_URL;
const API_BIN = process.env.API_BIN;
assert.ok(APP && UI && API_BIN, "APP_URL, TEMPORAL_UI_URL and API_BIN must be set (scripts/support-ui.sh)");
const SHOTS = process.env.SCREENSHOT_DIR ?? "test-artifacts/screenshots";
mkdirSync(SHOTS, { recursive: true });
const run = Date.now().toString(36);
const LINE = `Platypus audit ${run}`;
const step = (what) => console.log(`support-ui: ${what}`);

async function call(method, path, token, body) {
  const res = await fetch(`${APP}${path}`, {
    method,
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const PASSWORD = "SecurePassword123!";
const register = (email) => call("POST", "/api/auth/register", undefined, { email, password: PASSWORD });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});

/**
 * A browser of `who`'s own: signs in to the web app and, on its Support page, opens a codec
 * session (the cookie the Temporal UI sends); then sets the UI's codec setting, as its "Codec
 * Server" dialog does. Answers whether the session opened.
 */
async function openUi(who) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${APP}/login`);
  await page.fill('input[name="email"]', who.email);
  await page.fill('input[name="password"]', PASSWORD);
  await page.click('button[type="submit"]');
  await page.waitForURL("**/invoices");
  await page.goto(`${APP}/support`);
  const button = page.locator('[data-testid="codec-session"]');
  const refusal = page.getByText("Only platform support staff can use this page.");
  await button.or(refusal).waitFor();
  let opened = false;
  if (await button.count() === 0) {
    assert.equal(await page.locator('nav a[href="/support"]').count(), 0, "the Support link shows");
  } else {
    await button.click();
    const status = page.locator('[data-testid="codec-session-status"]');
    await status.waitFor();
    assert.ok((await status.innerText()).includes(`${APP}/codec`), await status.innerText());
    await page.screenshot({ path: join(SHOTS, "support-codec-session.png"), fullPage: true });
    opened = true;
  }
  await page.goto(`${UI}/namespaces/default/workflows`);
  await page.evaluate((endpoint) => {
    localStorage.setItem("endpoint", JSON.stringify(endpoint));
    localStorage.setItem("includeCredentials", "true");
    localStorage.setItem("passAccessToken", "false");
    localStorage.setItem("overrideRemoteCodecConfiguration", "true");
  }, `${APP}/codec`);
  return { context, page, opened };
}

/** Opens the run's page and waits for the UI's first answer from the codec server. */
async function openRun(page, url) {
  const answered = page.waitForResponse((r) => r.url().startsWith(`${APP}/codec/decode`) && r.request().method() === "POST", { timeout: 60_000 });
  await page.goto(url);
  return (await answered).status();
}

try {
  const sellerEmail = `owner-${run}@seller.test`, helperEmail = `helper-${run}@platform.test`;
  const seller = await register(sellerEmail);
  const helper = await register(helperEmail);
  step("granting support with the API binary's command");
  execFileSync(API_BIN, ["support", "grant", `helper-${run}@platform.test`, "--by", "support-ui test"], { stdio: "inherit" });

  const due = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  const invoice = await call("POST", "/api/invoices", seller.accessToken, {
    clientName: "Zyxwv Holdings", clientEmail: "ap@zyxwv.test", currency: "EUR", dueDate: due,
    items: [{ description: LINE, quantity: 1, unitPrice: "450.00" }],
  });
  const view = await call("GET", `/api/support/invoices/${invoice.id}`, helper.accessToken);
  const runUrl = view.run.temporalUiUrl;
  assert.ok(runUrl?.startsWith(UI), `the support view links the run in the UI: ${JSON.stringify(view.run)}`);

  step("support opens the run in the Temporal UI");
  const support = await openUi({ email: helperEmail });
  assert.ok(support.opened, "support opened a codec session");
  assert.equal(await openRun(support.page, runUrl), 200, "the codec server decodes for support");
  await support.page.waitForFunction((line) => globalThis.document.body.innerText.includes(line), LINE, { timeout: 60_000 });
  await support.page.screenshot({ path: join(SHOTS, "temporal-ui-support-decoded.png"), fullPage: true });

  step("the seller's admin opens the same run");
  const admin = await openUi({ email: sellerEmail });
  assert.ok(!admin.opened, "an organisation's admin opened a codec session");
  const refused = await fetch(`${APP}/api/support/codec-session`, { method: "POST", headers: { Authorization: `Bearer ${seller.accessToken}` } });
  assert.equal(refused.status, 403, "the API refuses the admin a codec session");
  const status = await openRun(admin.page, runUrl);
  assert.ok(status === 401 || status === 403, `the codec server refuses the admin: ${status}`);
  // The page shows what it has: the sealed payload, never the line.
  await admin.page.waitForTimeout(2_000);
  const text = await admin.page.evaluate(() => globalThis.document.body.innerText);
  assert.ok(!text.includes(LINE), "the admin's UI shows the invoice's line");
  await admin.page.screenshot({ path: join(SHOTS, "temporal-ui-admin-sealed.png"), fullPage: true });
  step("passed");
} finally {
  await browser.close();
}
