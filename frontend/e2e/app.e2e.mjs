// End to end in headless Chromium against the real stack (APP_URL: the API serving the built
// app, with the real worker behind it): sign up, verify the address through the emailed link
// (MAILDUMP_URL: the mail catcher), watch a draft made through the API appear in
// the open list and leave it when it is deleted, without a reload; create an invoice, watch it
// turn `sent` without a reload, pay it on its hosted page through the test checkout, watch it
// turn `paid`, find it in the dashboard's collected revenue; a script typed into an invoice's
// fields never runs in the app or on the hosted page; then a viewer sees no write actions. Screenshots of the main screens go to SCREENSHOT_DIR.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const APP = process.env.APP_URL;
assert.ok(APP, "APP_URL must point at the API serving the built app");
const SHOTS = process.env.SCREENSHOT_DIR ?? "test-artifacts/screenshots";
mkdirSync(SHOTS, { recursive: true });
const run = Date.now().toString(36);
const owner = { email: `owner-${run}@example.com`, password: "SecurePassword123!" };
const viewer = { email: `viewer-${run}@example.com`, password: "SecurePassword123!" };
const LIVE = 60_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});
let page;
const shot = (p, name) => p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const step = (what) => console.log(`e2e: ${what}`);

/** JSON API calls from outside the browser. */
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

/** The link in the latest email to `to` at the mail catcher (MAILDUMP_URL) containing `marker`. */
async function emailedLink(to, marker) {
  const MAIL = process.env.MAILDUMP_URL;
  assert.ok(MAIL, "MAILDUMP_URL must point at the mail catcher's web API");
  const deadline = Date.now() + LIVE;
  for (;;) {
    const { messages } = await (await fetch(`${MAIL}/messages/`)).json();
    for (const m of messages.filter((m) => m.recipients.to.includes(to)).reverse()) {
      const text = await (await fetch(`${MAIL}/messages/${m.id}.plain`)).text();
      const found = text.split(/\s+/).find((word) => word.includes(marker));
      if (found) return found;
    }
    assert.ok(Date.now() < deadline, `no email to ${to} with ${marker}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on("pageerror", (err) => console.error("page error:", err.message));

  step("sign up");
  await page.goto(`${APP}/signup`);
  await page.fill('input[name="email"]', owner.email);
  await page.fill('input[name="password"]', owner.password);
  await page.fill('input[name="organizationName"]', `E2E Studio ${run}`);
  await page.click('button[type="submit"]');
  await page.waitForURL("**/invoices");
  await page.getByText("No invoices match").waitFor();
  await page.locator('[data-testid="live-status"]', { hasText: "live" }).waitFor({ timeout: LIVE });

  step("verify the address through the emailed link");
  // Until then the app says why invoices would not reach clients.
  await page.getByText("Verify your email address").waitFor();
  const link = await emailedLink(owner.email, "/verify-email#token=");
  await page.goto(link);
  await page.getByText(`${owner.email} is verified`).waitFor({ timeout: LIVE });
  await page.goto(`${APP}/invoices`);
  await page.getByText("No invoices match").waitFor();
  assert.equal(await page.getByText("Verify your email address").count(), 0, "the banner stayed");

  step("a draft deleted elsewhere leaves the open list without a reload");
  // A second session of the same owner stands for another tab or an API client; the page's own
  // refresh token stays untouched (refresh tokens are single use).
  const elsewhere = await call("POST", "/api/auth/login", undefined, owner);
  const listNavigations = [];
  const onListNavigated = (frame) => { if (frame === page.mainFrame()) listNavigations.push(frame.url()); };
  page.on("framenavigated", onListNavigated);
  const draft = await call("POST", "/api/invoices", elsewhere.accessToken, {
    clientName: "Initech", currency: "EUR", dueDate: "2030-01-31", draft: true,
    items: [{ description: "Discarded idea", quantity: "1", unitPrice: "10.00" }],
  });
  assert.equal(draft.status, "draft");
  const draftRow = page.locator('[data-testid="invoice-row"]', { hasText: "Initech" });
  await draftRow.waitFor({ timeout: LIVE });
  await call("DELETE", `/api/invoices/${draft.id}`, elsewhere.accessToken);
  await draftRow.waitFor({ state: "detached", timeout: LIVE });
  await page.getByText("No invoices match").waitFor();
  page.off("framenavigated", onListNavigated);
  assert.deepEqual(listNavigations, [], "the invoice list was not reloaded");

  step("create an invoice through the form");
  await page.click('[data-testid="new-invoice"]');
  await page.fill('input[name="clientName"]', "Globex Corporation");
  await page.fill('input[name="clientEmail"]', "ap@globex.example");
  await page.fill('input[name="items[0].description"]', "Design sprint");
  await page.fill('input[name="items[0].quantity"]', "2");
  await page.fill('input[name="items[0].unitPrice"]', "450.00");
  await page.click("text=Add line");
  await page.fill('input[name="items[1].description"]', "Hosting (month)");
  await page.fill('input[name="items[1].quantity"]', "1");
  await page.fill('input[name="items[1].unitPrice"]', "100.00");
  await page.locator('[data-testid="total"]', { hasText: "€1,000.00" }).waitFor();
  await shot(page, "02-invoice-form");
  await page.click('[data-testid="create-and-send"]');
  await page.waitForURL(/\/invoices\/[0-9a-f-]{36}$/);
  const invoiceUrl = page.url();

  step("it turns sent on screen without a reload");
  const navigations = [];
  page.on("framenavigated", (frame) => { if (frame === page.mainFrame()) navigations.push(frame.url()); });
  await page.locator('h1 [data-testid="status"]', { hasText: "sent" }).waitFor({ timeout: LIVE });
  await page.locator('[data-testid="timeline"]', { hasText: "email sent" }).waitFor({ timeout: LIVE });
  assert.deepEqual(navigations, [], "the detail page was not reloaded");
  await page.locator('object[type="application/pdf"]').waitFor({ timeout: LIVE });
  await shot(page, "03-invoice-detail-sent");

  step("the client pays on the hosted page through the test checkout");
  const hostedHref = await page.getAttribute('[data-testid="hosted-link"]', "href");
  assert.match(hostedHref, /^\/i\/[A-Za-z0-9_-]{20,}$/);
  const client = await context.newPage();
  await client.goto(`${APP}${hostedHref}`);
  await client.getByText("Globex Corporation").first().waitFor();
  await shot(client, "04-hosted-page");
  await client.click("button.pay");
  await client.waitForURL(/test-checkout/);
  await shot(client, "05-test-checkout");
  await client.click('button[value="pay"]');
  await client.waitForURL(/checkout=success/);

  step("the open detail page shows paid live");
  await page.bringToFront();
  await page.locator('h1 [data-testid="status"]', { hasText: "paid" }).waitFor({ timeout: LIVE });
  assert.equal(page.url(), invoiceUrl);
  assert.deepEqual(navigations, [], "the detail page was not reloaded");
  assert.equal((await page.textContent('[data-testid="amount-due"]')).trim(), "€0.00");
  await page.locator('[data-testid="timeline"]', { hasText: "payment recorded" }).waitFor({ timeout: LIVE });
  await shot(page, "06-invoice-detail-paid");

  step("the dashboard's collected revenue includes it");
  await page.click("nav >> text=Analytics");
  await page.locator('[data-testid="kpi-collected"]', { hasText: "€1,000.00" }).waitFor({ timeout: LIVE });
  await page.locator('[data-testid="chart-revenue"] svg').waitFor();
  await shot(page, "07-analytics");

  step("the other screens");
  await page.click("nav >> text=Invoices");
  await page.locator('[data-testid="invoice-row"]', { hasText: "Globex Corporation" }).waitFor();
  await shot(page, "01-invoices");
  await page.click("nav >> text=Customers");
  await page.getByRole("link", { name: "Globex Corporation" }).waitFor();
  await shot(page, "08-customers");
  await page.click("nav >> text=Settings");
  await page.getByRole("heading", { name: "Members" }).waitFor();
  await shot(page, "09-settings");
  await page.click("nav >> text=Ops");
  await page.getByText("Nothing needs attention").waitFor({ timeout: LIVE });
  await shot(page, "10-ops");

  step("a script typed into any invoice field never runs, in the app or on the hosted page");
  const xss = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>';
  const typed = await call("POST", "/api/auth/login", undefined, owner);
  const hostile = await call("POST", "/api/invoices", typed.accessToken, {
    clientName: `Mallory ${xss}`, clientEmail: "mallory@example.com", currency: "EUR", dueDate: "2030-01-31",
    notes: `Notes ${xss}`, reference: `Ref ${xss}`,
    items: [{ description: `Line ${xss}`, quantity: "1", unitPrice: "10.00" }],
  });
  let hostilePath;
  for (let i = 0; i < 120 && !hostilePath; i++) {
    hostilePath = (await call("GET", `/api/invoices/${hostile.id}`, typed.accessToken)).hostedPath;
    if (!hostilePath) await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(hostilePath, "the hostile invoice got its hosted page");
  const dialogs = [];
  for (const p of [page, client]) p.on("dialog", (d) => { dialogs.push(d.message()); void d.dismiss(); });
  await page.goto(`${APP}/invoices/${hostile.id}`);
  await page.getByText("Line <img", { exact: false }).first().waitFor({ timeout: LIVE });
  await client.goto(`${APP}${hostilePath}`);
  await client.getByText("Line <img", { exact: false }).first().waitFor();
  await page.waitForTimeout(500);
  for (const p of [page, client]) {
    assert.equal(await p.evaluate(() => globalThis.__xss), undefined, `a typed script ran on ${p.url()}`);
  }
  assert.deepEqual(dialogs, []);
  const headers = (await page.goto(`${APP}/invoices`)).headers();
  assert.match(headers["content-security-policy"] ?? "", /script-src 'self'/);
  assert.equal(headers["x-frame-options"], "DENY");

  step("a viewer sees no write actions");
  const session = await call("POST", "/api/auth/login", undefined, owner);
  await call("POST", "/api/auth/register", undefined, viewer);
  await call("POST", "/api/org/members", session.accessToken, { email: viewer.email, role: "viewer" });
  const viewerContext = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const v = await viewerContext.newPage();
  page = v;
  await v.goto(`${APP}/login`);
  await v.fill('input[name="email"]', viewer.email);
  await v.fill('input[name="password"]', viewer.password);
  await v.click('button[type="submit"]');
  await v.waitForURL("**/invoices");
  // The viewer belongs to two organisations: switch to the owner's.
  const switcher = v.locator('select[aria-label="Organisation"]');
  await switcher.waitFor();
  await switcher.selectOption(session.organization.id);
  await v.locator('[data-testid="invoice-row"]', { hasText: "Globex Corporation" }).waitFor({ timeout: LIVE });
  assert.equal(await v.locator('[data-testid="new-invoice"]').count(), 0, "viewer sees New invoice");
  await v.goto(invoiceUrl);
  await v.locator('h1 [data-testid="status"]', { hasText: "paid" }).waitFor();
  assert.equal(await v.locator('[data-testid="invoice-actions"] button, [data-testid="invoice-actions"] a').count(), 0,
    "viewer sees invoice actions");
  assert.equal(await v.locator('[data-testid="temporal-link"]').count(), 0, "viewer sees the Temporal link");
  await shot(v, "11-viewer-phone");
  await v.click("text=Menu");
  assert.equal(await v.locator("nav >> text=Ops").count(), 0, "viewer sees Ops");
  console.log(`e2e: passed; screenshots in ${SHOTS}`);
} catch (err) {
  if (page) await shot(page, "failure").catch(() => {});
  console.error(err);
  process.exitCode = 1;
} finally {
  await browser.close();
}
