// A forgotten password: the login page leads to asking for a link, which says the same whether
// or not there is an account; the link's page checks the two passwords, sends the token (taken
// out of the address bar) with the new one, and sends the user to log in with a notice.
import { cleanup, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { StrictMode } from "react";
import { Route } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { json, stubApi, type Handler } from "../testing/fakes";
import { renderRoutes, signOut } from "../testing/renderApp";
import { LoginPage } from "./AuthPages";
import { ForgotPasswordPage, PASSWORD_CHANGED, ResetPasswordPage } from "./PasswordReset";

const routeOf = (request: Request) => `${request.method} ${new URL(request.url).pathname}`;

/** A visitor without a session, and the API's answers to the password reset calls. */
function stubSignedOut(handler: Handler = () => undefined) {
  return stubApi((route, request) => {
    if (route === "POST /api/auth/refresh") return json(401, { error: { code: "unauthorized", message: "No session." } });
    return handler(route, request);
  });
}

const pages = (
  <>
    <Route path="/login" element={<LoginPage />} />
    <Route path="/forgot-password" element={<ForgotPasswordPage />} />
    <Route path="/reset-password" element={<StrictMode><ResetPasswordPage /></StrictMode>} />
  </>
);

function openResetLink(hash: string) {
  window.history.replaceState(null, "", `/reset-password${hash}`);
  renderRoutes("/reset-password", pages);
}

afterEach(() => {
  cleanup();
  signOut();
  vi.unstubAllGlobals();
  window.history.replaceState(null, "", "/");
});

describe("ForgotPasswordPage", () => {
  it("is linked from the login page, and says the same whatever the address", async () => {
    const requests = stubSignedOut((route) => (route === "POST /api/auth/password-reset/request" ? json(202, {}) : undefined));
    renderRoutes("/login", pages);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("link", { name: "Forgot your password?" }));

    await user.type(await screen.findByLabelText("Email"), "nobody@example.com");
    await user.click(screen.getByRole("button", { name: "Send the link" }));

    expect((await screen.findByRole("status")).textContent).toBe(
      "If an account exists for nobody@example.com, we have sent a link to reset its password. The link works for one hour.",
    );
    const asked = requests.filter((r) => routeOf(r) === "POST /api/auth/password-reset/request");
    expect(asked).toHaveLength(1);
    expect(await asked[0].json()).toEqual({ email: "nobody@example.com" });
  });

  it("shows an invalid address on its field, and too many requests above the form", async () => {
    let answer = json(422, {
      error: { code: "validation_failed", message: "The request has invalid fields.", details: { fields: [{ field: "email", code: "invalid", message: "Not an email address." }] } },
    });
    stubSignedOut((route) => (route === "POST /api/auth/password-reset/request" ? answer : undefined));
    renderRoutes("/forgot-password", pages);
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Email"), "owner@example");
    await user.click(screen.getByRole("button", { name: "Send the link" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Not an email address.");

    answer = json(429, { error: { code: "rate_limited", message: "Too many requests; try again in 60 seconds." } });
    await user.click(screen.getByRole("button", { name: "Send the link" }));
    expect((await screen.findByText(/^Too many requests/)).className).toBe("error-box");
    expect(screen.queryByRole("status")).toBeNull();
  });
});

describe("ResetPasswordPage", () => {
  it("checks the passwords, sends the token with the new one, and has the user log in", async () => {
    const requests = stubSignedOut((route) => (route === "POST /api/auth/password-reset" ? json(204) : undefined));
    openResetLink("#token=reset-1");
    const password = await screen.findByLabelText(/^New password/);
    expect(window.location.hash).toBe("");
    const user = userEvent.setup();

    await user.type(password, "short");
    await user.type(screen.getByLabelText(/^Confirm the new password/), "short");
    await user.click(screen.getByRole("button", { name: "Set the new password" }));
    expect(screen.getByText("At least 8 characters.")).toBeTruthy();

    await user.clear(password);
    await user.type(password, "a new password");
    await user.clear(screen.getByLabelText(/^Confirm the new password/));
    await user.type(screen.getByLabelText(/^Confirm the new password/), "a new pasword");
    await user.click(screen.getByRole("button", { name: "Set the new password" }));
    expect(screen.getByText("The passwords do not match.")).toBeTruthy();
    expect(requests.map(routeOf)).not.toContain("POST /api/auth/password-reset");

    await user.clear(screen.getByLabelText(/^Confirm the new password/));
    await user.type(screen.getByLabelText(/^Confirm the new password/), "a new password");
    await user.click(screen.getByRole("button", { name: "Set the new password" }));

    expect((await screen.findByRole("status")).textContent).toBe(PASSWORD_CHANGED);
    expect(screen.getByRole("heading", { name: "Log in" })).toBeTruthy();
    const resets = requests.filter((r) => routeOf(r) === "POST /api/auth/password-reset");
    expect(resets).toHaveLength(1);
    expect(await resets[0].json()).toEqual({ token: "reset-1", password: "a new password" });
  });

  it("says an invalid or expired link is one, and leads to asking for a new one", async () => {
    stubSignedOut((route) =>
      route === "POST /api/auth/password-reset"
        ? json(400, { error: { code: "invalid_token", message: "This link is invalid or has expired." } })
        : undefined);
    openResetLink("#token=used");
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText(/^New password/), "a new password");
    await user.type(screen.getByLabelText(/^Confirm the new password/), "a new password");
    await user.click(screen.getByRole("button", { name: "Set the new password" }));

    expect((await screen.findByRole("alert")).textContent).toBe("This link is invalid or has expired.");
    await user.click(screen.getByRole("link", { name: "Ask for a new link" }));
    expect(await screen.findByRole("button", { name: "Send the link" })).toBeTruthy();
  });

  it("shows the password rule the server applied on its field", async () => {
    stubSignedOut((route) =>
      route === "POST /api/auth/password-reset"
        ? json(422, {
          error: { code: "validation_failed", message: "The request has invalid fields.", details: { fields: [{ field: "password", code: "too_long", message: "At most 128 characters." }] } },
        })
        : undefined);
    openResetLink("#token=reset-1");
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText(/^New password/), "a new password");
    await user.type(screen.getByLabelText(/^Confirm the new password/), "a new password");
    await user.click(screen.getByRole("button", { name: "Set the new password" }));

    expect((await screen.findByRole("alert")).textContent).toBe("At most 128 characters.");
  });

  it("says a link without a token is invalid", async () => {
    const requests = stubSignedOut();
    openResetLink("");
    expect((await screen.findByRole("alert")).textContent).toBe("This link is invalid or has expired.");
    expect(screen.getByRole("link", { name: "Ask for a new link" }).getAttribute("href")).toBe("/forgot-password");
    expect(requests.map(routeOf)).not.toContain("POST /api/auth/password-reset");
  });
});
