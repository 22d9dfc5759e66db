// What the socket says, read into the generated LiveMessage without trusting it; how it
// authenticates (first message, not the URL) and reconnects when its token expires.
import { afterEach, describe, expect, it, vi } from "vitest";
import { adoptSession, currentAccessToken } from "../api/client";
import { FakeSocket, SESSION, json, stubApi } from "../testing/fakes";
import { connectLive, disconnectLive, isDeletion, parseLiveMessage } from "./live";

describe("parseLiveMessage", () => {
  it("reads a change, a deletion and a resync", () => {
    expect(parseLiveMessage('{"type":"invoice_changed","invoiceId":"inv-1","status":"sent","what":"email_sent","at":"2026-01-01T00:00:00Z"}'))
      .toEqual({ type: "invoice_changed", invoiceId: "inv-1", status: "sent", what: "email_sent", at: "2026-01-01T00:00:00Z" });
    const deleted = parseLiveMessage('{"type":"invoice_changed","invoiceId":"inv-1","status":null,"what":"delete","at":null}');
    expect(deleted).toEqual({ type: "invoice_changed", invoiceId: "inv-1", status: null, what: "delete", at: null });
    expect(deleted && isDeletion(deleted)).toBe(true);
    expect(parseLiveMessage('{"type":"resync"}')).toEqual({ type: "resync" });
  });

  it("drops a status the API does not have, and ignores what is not ours", () => {
    expect(parseLiveMessage('{"type":"invoice_changed","invoiceId":"inv-1","status":"lost","what":"update"}'))
      .toMatchObject({ status: null, at: null });
    expect(parseLiveMessage("not json")).toBeNull();
    expect(parseLiveMessage("[1]")).toBeNull();
    expect(parseLiveMessage('{"type":"invoice_changed","what":"update"}')).toBeNull();
    expect(parseLiveMessage('{"type":"ping"}')).toBeNull();
  });
});

describe("the live socket", () => {
  afterEach(() => {
    disconnectLive();
    adoptSession(null);
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("sends the token as its first message, never in the URL", async () => {
    adoptSession(SESSION);
    FakeSocket.last = undefined;
    vi.stubGlobal("WebSocket", FakeSocket);
    connectLive();
    await vi.waitFor(() => expect(FakeSocket.last).toBeDefined());
    const socket = FakeSocket.last!;
    expect(socket.url).toMatch(/\/api\/ws$/);
    expect(socket.url).not.toContain("access-1");
    socket.open();
    expect(socket.sent.map((m) => JSON.parse(m))).toEqual([{ type: "auth", token: "access-1" }]);
  });

  it("reconnects with a fresh token after the server closes on expiry", async () => {
    vi.useFakeTimers();
    adoptSession(SESSION);
    let refreshes = 0;
    stubApi((route) => {
      if (route !== "POST /api/auth/refresh") return undefined;
      refreshes += 1;
      return json(200, { ...SESSION, accessToken: "access-2" });
    });
    FakeSocket.last = undefined;
    vi.stubGlobal("WebSocket", FakeSocket);
    connectLive();
    await vi.waitFor(() => expect(FakeSocket.last).toBeDefined());
    const first = FakeSocket.last!;
    first.open();
    first.close(4001);
    await vi.advanceTimersByTimeAsync(1000);
    await vi.waitFor(() => expect(FakeSocket.last).not.toBe(first));
    const second = FakeSocket.last!;
    second.open();
    expect(refreshes).toBe(1);
    expect(currentAccessToken()).toBe("access-2");
    expect(second.sent.map((m) => JSON.parse(m))).toEqual([{ type: "auth", token: "access-2" }]);
  });
});
