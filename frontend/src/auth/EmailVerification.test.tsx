// Email verification: the banner of an unverified user (and no banner otherwise), sending the
// link again, and the page the link opens sending its token once (StrictMode runs effects
// twice), out of the address bar, and saying what came of it.
import { cleanup, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { StrictMode } from "react";
import { Route } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Schemas } from "../api/client";
import { Layout } from "../components/Layout";
import { json, ME, stubApi, type Handler } from "../testing/fakes";
import { renderRoutes, renderSignedIn, signOut } from "../testing/renderApp";
import { VerifyEmailBanner, VerifyEmailPage } from "./EmailVerification";

const UNVERIFIED: Schemas["Me"] = { ...ME, user: { ...ME.user!, emailVerified: false } };
const BANNER = "Verify your email address to send invoices to your clients: we sent a link to owner@example.com.";

const routeOf = (request: Request) => `${request.method} ${new URL(request.url).pathname}`;

function renderLayout() {
  renderSignedIn("/invoices", (
    <Route element={<Layout />}>
      <Route path="/invoices" element={<p>the invoice list</p>} />
    </Route>
  ));
  return screen.findByText("the invoice list");
}

/**
 * The page the emailed link opens, with the token in the fragment, under StrictMode; with the
 * banner beside it, to see a signed-in user's go away.
 */
function openLink(hash: string, signedIn: boolean) {
  window.history.replaceState(null, "", `/verify-email${hash}`);
  const page = <><VerifyEmailBanner /><StrictMode><VerifyEmailPage /></StrictMode></>;
  const routes = (
    <>
      <Route path="/verify-email" element={page} />
      <Route path="/invoices" element={<p>the invoice list</p>} />
    </>
  );
  return signedIn ? renderSignedIn("/verify-email", routes) : renderRoutes("/verify-email", routes);
}

const signedOut: Handler = (route) =>
  route === "POST /api/auth/refresh" ? json(401, { error: { code: "unauthorized", message: "No session." } }) : undefined;

afterEach(() => {
  cleanup();
  signOut();
  vi.unstubAllGlobals();
  window.history.replaceState(null, "", "/");
});

describe("VerifyEmailBanner", () => {
  it("asks an unverified user to verify, and not a verified one or an API key", async () => {
    stubApi((route) => (route === "GET /api/me" ? json(200, UNVERIFIED) : undefined));
    await renderLayout();
    expect(screen.getByRole("status").textContent).toContain(BANNER);
    cleanup();

    stubApi();
    await renderLayout();
    expect(screen.queryByText(BANNER)).toBeNull();
    expect(screen.queryByRole("button", { name: "Send the link again" })).toBeNull();
    cleanup();

    stubApi((route) => (route === "GET /api/me" ? json(200, { ...ME, user: null }) : undefined));
    await renderLayout();
    expect(screen.queryByText(BANNER)).toBeNull();
  });

  it("sends the link again once per click, and says where", async () => {
    const requests = stubApi((route) => {
      if (route === "GET /api/me") return json(200, UNVERIFIED);
      if (route === "POST /api/auth/verify-email/resend") return json(202, { sentTo: "owner@example.com" });
      return undefined;
    });
    await renderLayout();
    await userEvent.setup().click(screen.getByRole("button", { name: "Send the link again" }));

    expect(await screen.findByText("Sent to owner@example.com.")).toBeTruthy();
    const resends = requests.filter((r) => routeOf(r) === "POST /api/auth/verify-email/resend");
    expect(resends).toHaveLength(1);
    expect(resends[0].headers.get("Authorization")).toBe("Bearer access-1");
  });

  it("shows why a resend was refused", async () => {
    stubApi((route) => {
      if (route === "GET /api/me") return json(200, UNVERIFIED);
      if (route === "POST /api/auth/verify-email/resend") {
        return json(429, { error: { code: "rate_limited", message: "Too many requests; try again in 60 seconds." } });
      }
      return undefined;
    });
    await renderLayout();
    await userEvent.setup().click(screen.getByRole("button", { name: "Send the link again" }));

    expect((await screen.findByRole("alert")).textContent).toBe("Too many requests; try again in 60 seconds.");
    expect(screen.queryByText(/^Sent to/)).toBeNull();
  });

  it("goes away when the address turns out verified already", async () => {
    let verified = false;
    stubApi((route) => {
      if (route === "GET /api/me") return json(200, verified ? ME : UNVERIFIED);
      if (route === "POST /api/auth/verify-email/resend") {
        verified = true;
        return json(409, { error: { code: "already_verified", message: "The email address is verified already." } });
      }
      return undefined;
    });
    await renderLayout();
    await userEvent.setup().click(screen.getByRole("button", { name: "Send the link again" }));

    await waitFor(() => expect(screen.queryByText(BANNER)).toBeNull());
    expect(screen.queryByRole("alert")).toBeNull();
  });
});

describe("VerifyEmailPage", () => {
  it("sends the link's token once, clears it from the address bar, and reads the user again", async () => {
    // The verification answers once the user was read unverified: only reading again shows it.
    let verified = false;
    let meRead = () => {};
    const read = new Promise<void>((resolve) => (meRead = resolve));
    const requests = stubApi(async (route) => {
      if (route === "GET /api/me") {
        meRead();
        return json(200, verified ? ME : UNVERIFIED);
      }
      if (route === "POST /api/auth/verify-email") {
        await read;
        verified = true;
        return json(200, { email: "owner@example.com" });
      }
      return undefined;
    });
    openLink("#token=tok-1", true);

    expect((await screen.findByText(/is verified/)).textContent).toBe("Your email address owner@example.com is verified.");
    expect(window.location.hash).toBe("");
    const verifications = requests.filter((r) => routeOf(r) === "POST /api/auth/verify-email");
    expect(verifications).toHaveLength(1);
    expect(await verifications[0].json()).toEqual({ token: "tok-1" });
    await waitFor(() => expect(screen.queryByText(BANNER)).toBeNull());
    expect(requests.filter((r) => routeOf(r) === "GET /api/me")).toHaveLength(2);

    await userEvent.setup().click(screen.getByRole("link", { name: "Go to your invoices" }));
    expect(await screen.findByText("the invoice list")).toBeTruthy();
  });

  it("verifies for a visitor who is not logged in", async () => {
    const requests = stubApi((route, request) =>
      route === "POST /api/auth/verify-email" ? json(200, { email: "owner@example.com" }) : signedOut(route, request));
    openLink("#token=tok-1", false);

    expect(await screen.findByText("Your email address owner@example.com is verified.")).toBeTruthy();
    expect(requests.map(routeOf)).not.toContain("GET /api/me");
    expect(requests.filter((r) => routeOf(r) === "POST /api/auth/verify-email")).toHaveLength(1);
  });

  it("says an invalid or expired link is one, and sends it once only", async () => {
    const requests = stubApi((route) =>
      route === "POST /api/auth/verify-email"
        ? json(400, { error: { code: "invalid_token", message: "This link is invalid or has expired." } })
        : undefined);
    openLink("#token=used", true);

    expect((await screen.findByRole("alert")).textContent).toBe("This link is invalid or has expired.");
    expect(screen.queryByText(/is verified/)).toBeNull();
    expect(requests.filter((r) => routeOf(r) === "POST /api/auth/verify-email")).toHaveLength(1);
    expect(window.location.hash).toBe("");
  });

  it("sends nothing for a link without a token", async () => {
    const requests = stubApi();
    openLink("", true);

    expect((await screen.findByRole("alert")).textContent).toBe("This link is invalid or has expired.");
    expect(requests.map(routeOf)).not.toContain("POST /api/auth/verify-email");
  });
});
