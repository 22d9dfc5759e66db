// Test doubles: the API behind `fetch`, answering by method and path, and the live WebSocket.
import { vi } from "vitest";
import type { Schemas } from "../api/client";

/** Part of the server's ISO 4217 table, with currencies where the browser's Intl disagrees. */
export const CURRENCIES: Schemas["CurrencyInfo"][] = [
  { code: "COP", exponent: 2 },
  { code: "EUR", exponent: 2 },
  { code: "HUF", exponent: 2 },
  { code: "IDR", exponent: 2 },
  { code: "IQD", exponent: 3 },
  { code: "JPY", exponent: 0 },
  { code: "USD", exponent: 2 },
];

export const APP_CONFIG: Schemas["AppConfig"] = { currencies: CURRENCIES };

export const SESSION: Schemas["Session"] = {
  accessToken: "access-1",
  expiresIn: 900,
  organization: { id: "org-1", name: "Acme" },
  refreshToken: "refresh-1",
  role: "owner",
  tokenType: "Bearer",
  user: { id: "user-1", email: "owner@example.com", emailVerified: true, createdAt: "2026-01-01T00:00:00Z" },
};

export const ME: Schemas["Me"] = {
  memberships: [{ organization: SESSION.organization, role: "owner" }],
  organization: SESSION.organization,
  role: "owner",
  user: SESSION.user,
};

export function json(status: number, body?: unknown): Response {
  if (body === undefined) return new Response(null, { status });
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** Answers a request (`route` is e.g. `GET /api/invoices`), or undefined for the defaults. */
export type Handler = (route: string, request: Request) => Response | undefined | Promise<Response | undefined>;

/**
 * Stubs `fetch` with `handler`; what it leaves unanswered gets the defaults (the app config, a
 * session for a refresh, `/api/me`) or a 404. Returns every request, unread, in order.
 */
export function stubApi(handler: Handler = () => undefined): Request[] {
  const requests: Request[] = [];
  vi.stubGlobal("fetch", vi.fn(async (request: Request) => {
    requests.push(request.clone());
    const route = `${request.method} ${new URL(request.url).pathname}`;
    const answer = await handler(route, request);
    if (answer) return answer;
    if (route === "GET /api/app-config") return json(200, APP_CONFIG);
    if (route === "POST /api/auth/refresh") return json(200, SESSION);
    if (route === "GET /api/me") return json(200, ME);
    return json(404, { error: { code: "not_found", message: `No ${route} here.` } });
  }));
  return requests;
}

/** A WebSocket the test speaks for: `FakeSocket.last.receive(message)`. */
export class FakeSocket {
  static last: FakeSocket | undefined;
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  /** What the app sent, in order (the first is the auth message). */
  readonly sent: string[] = [];

  constructor(readonly url: string) {
    FakeSocket.last = this;
  }

  open() {
    this.onopen?.();
  }

  receive(message: unknown) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  send(data: string) {
    this.sent.push(data);
  }

  /** The server closes the socket (4001: the token expired). */
  close(code = 1000) {
    this.onclose?.({ code });
  }
}

