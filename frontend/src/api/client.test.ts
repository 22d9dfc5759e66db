// The typed client: the access token on every call, one silent refresh for any number of calls
// that find it expired (by the HttpOnly cookie: no refresh token in reach of scripts), and
// error answers as ApiError.
import { afterEach, describe, expect, it, vi } from "vitest";
import { json, SESSION, stubApi } from "../testing/fakes";
import { adoptSession, ApiError, client, currentAccessToken, refreshSession, unwrap } from "./client";

/** Whatever a script could read across reloads: nothing of the session may be there. */
function storedAnywhere(): string {
  const all = (storage: Storage) => Array.from({ length: storage.length }, (_, i) => `${storage.key(i)}=${storage.getItem(storage.key(i)!)}`);
  return [...all(localStorage), ...all(sessionStorage), document.cookie].join(";");
}

afterEach(() => {
  adoptSession(null);
  vi.unstubAllGlobals();
});

describe("client", () => {
  it("sends the access token and drops empty query values", async () => {
    adoptSession(SESSION);
    const requests = stubApi((route) => (route === "GET /api/invoices" ? json(200, { items: [] }) : undefined));
    await unwrap(client.GET("/api/invoices", { params: { query: { q: "", status: "draft,sent", limit: 25 } } }));
    expect(requests[0].headers.get("Authorization")).toBe("Bearer access-1");
    expect(new URL(requests[0].url).search).toBe("?status=draft%2Csent&limit=25");
  });

  it("refreshes an expired token once for all the calls that need it, and sends each again", async () => {
    adoptSession({ ...SESSION, accessToken: "expired" });
    let refreshes = 0;
    const requests = stubApi((route, request) => {
      if (route === "POST /api/auth/refresh") {
        refreshes += 1;
        return json(200, { ...SESSION, accessToken: "fresh", refreshToken: "refresh-2" });
      }
      if (request.headers.get("Authorization") !== "Bearer fresh") return json(401, { error: { code: "unauthorized", message: "Expired." } });
      if (route === "POST /api/customers") return json(201, { id: "cus-1", name: "Initech" });
      return json(200, { items: [] });
    });
    const [page, created] = await Promise.all([
      unwrap(client.GET("/api/customers")),
      unwrap(client.POST("/api/customers", { body: { name: "Initech" } })),
    ]);
    expect(page.items).toEqual([]);
    expect(created.name).toBe("Initech");
    expect(refreshes).toBe(1);
    expect(currentAccessToken()).toBe("fresh");
    // The refresh sends no token: the browser adds the cookie; nothing is kept in storage.
    const refresh = requests.find((r) => r.url.endsWith("/api/auth/refresh"))!;
    expect(refresh.headers.get("X-Refresh-Token-Transport")).toBe("cookie");
    expect(await refresh.json()).toEqual({});
    expect(storedAnywhere()).not.toContain("refresh-");
    const resent = requests.filter((r) => r.method === "POST" && r.url.endsWith("/api/customers"));
    expect(resent).toHaveLength(2);
    expect(await resent[1].json()).toEqual({ name: "Initech" });
  });

  it("does not refresh again for a call that went out before another one's refresh", async () => {
    adoptSession({ ...SESSION, accessToken: "expired" });
    let refreshes = 0;
    let answerLate = () => {};
    const late = new Promise<void>((resolve) => (answerLate = resolve));
    stubApi(async (route, request) => {
      if (route === "POST /api/auth/refresh") {
        refreshes += 1;
        return json(200, { ...SESSION, accessToken: "fresh" });
      }
      const token = request.headers.get("Authorization");
      if (route === "GET /api/org" && token === "Bearer expired") await late;
      if (token !== "Bearer fresh") return json(401, { error: { code: "unauthorized", message: "Expired." } });
      return route === "GET /api/me" ? undefined : json(200, { id: "org-1" });
    });
    const slow = unwrap(client.GET("/api/org"));
    await unwrap(client.GET("/api/me"));
    answerLate();
    expect(await slow).toMatchObject({ id: "org-1" });
    expect(refreshes).toBe(1);
  });

  it("ends the session when the refresh token is refused", async () => {
    adoptSession({ ...SESSION, accessToken: "expired" });
    stubApi((route) =>
      route === "POST /api/auth/refresh"
        ? json(401, { error: { code: "unauthorized", message: "Refresh token reused." } })
        : json(401, { error: { code: "unauthorized", message: "Expired." } }));
    const error = await unwrap(client.GET("/api/me")).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ApiError);
    expect(currentAccessToken()).toBeNull();
  });

  it("asks for the refresh token as a cookie on every call and stores none", async () => {
    const requests = stubApi((route) => (route === "POST /api/auth/login" ? json(200, SESSION) : undefined));
    adoptSession(await unwrap(client.POST("/api/auth/login", { body: { email: "owner@example.com", password: "pw" } })));
    expect(requests[0].headers.get("X-Refresh-Token-Transport")).toBe("cookie");
    expect(currentAccessToken()).toBe("access-1");
    expect(storedAnywhere()).toBe("");
  });

  it("finds out on a reload whether there is a session, by refreshing", async () => {
    stubApi((route) => (route === "POST /api/auth/refresh" ? json(401, { error: { code: "missing_refresh_token", message: "None." } }) : undefined));
    expect(await refreshSession()).toBe(false);
    expect(currentAccessToken()).toBeNull();
    const requests = stubApi();
    expect(await refreshSession()).toBe(true);
    expect(currentAccessToken()).toBe("access-1");
    expect(requests.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual(["POST /api/auth/refresh"]);
  });

  it("does not refresh for a 401 without a session (a wrong password)", async () => {
    const requests = stubApi(() => json(401, { error: { code: "invalid_credentials", message: "Wrong." } }));
    await expect(unwrap(client.POST("/api/auth/login", { body: { email: "a@example.com", password: "x" } }))).rejects.toMatchObject({ status: 401 });
    expect(requests).toHaveLength(1);
  });

  it("throws error answers as ApiError, with the field errors and the refusal", async () => {
    stubApi((route) => {
      if (route === "POST /api/invoices") {
        return json(422, { error: { code: "validation_failed", message: "Invalid fields.", details: { fields: [{ field: "items[0].quantity", code: "invalid", message: "Must be a number." }] } } });
      }
      return json(409, { error: { code: "action_refused", message: "More than is due.", details: { refusal: "overpayment" } } });
    });
    const invalid = await unwrap(client.POST("/api/invoices", { body: { currency: "EUR", dueDate: "2026-12-31", items: [] } })).catch((err: unknown) => err);
    expect(invalid).toBeInstanceOf(ApiError);
    expect(invalid).toMatchObject({ status: 422, code: "validation_failed", message: "Invalid fields." });
    expect(invalid instanceof ApiError && invalid.fields).toEqual({ "items[0].quantity": "Must be a number." });

    const refused = await unwrap(client.POST("/api/invoices/{id}/payments", { params: { path: { id: "inv-1" } }, body: { amount: "9.00", method: "cash" } }))
      .catch((err: unknown) => err);
    expect(refused).toMatchObject({ status: 409, code: "action_refused", details: { refusal: "overpayment" } });
    expect(refused instanceof ApiError && refused.fields).toEqual({});
  });

  it("throws an answer that is not ours as an http_error", async () => {
    stubApi(() => new Response("<html>Bad gateway</html>", { status: 502 }));
    await expect(unwrap(client.GET("/api/org"))).rejects.toMatchObject({ status: 502, code: "http_error" });
  });

  it("answers undefined for No Content", async () => {
    stubApi(() => json(204));
    await expect(unwrap(client.DELETE("/api/invoices/{id}", { params: { path: { id: "inv-1" } } }))).resolves.toBeUndefined();
  });
});
