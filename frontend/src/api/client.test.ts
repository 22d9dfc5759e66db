// The typed client: the access token on every call, one silent refresh for any number of calls
// that find it expired, and error answers as ApiError.
import { afterEach, describe, expect, it, vi } from "vitest";
import { json, SESSION, stubApi } from "../testing/fakes";
import { adoptSession, ApiError, client, currentAccessToken, unwrap } from "./client";

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
    expect(localStorage.getItem("invoices.refreshToken")).toBe("refresh-2");
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
    expect(localStorage.getItem("invoices.refreshToken")).toBeNull();
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
