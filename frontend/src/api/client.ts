// The one way the app talks to the API: same-origin JSON with the access token, a silent
// refresh (one at a time: refresh tokens are single use) and errors as ApiError.
import type { components } from "./schema";

export type Schemas = components["schemas"];
export type Session = Schemas["Session"];

export interface FieldError {
  field: string;
  code: string;
  message: string;
}

/** An error answer of the API: `{"error":{"code","message","details"}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  /** Validation errors by field path (`items[0].quantity`). */
  get fields(): Record<string, string> {
    const list = (this.details as { fields?: FieldError[] } | undefined)?.fields ?? [];
    return Object.fromEntries(list.map((f) => [f.field, f.message]));
  }
}

const REFRESH_KEY = "invoices.refreshToken";
let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
let onSession: (session: Session | null) => void = () => {};

export function setSessionListener(listener: (session: Session | null) => void) {
  onSession = listener;
}

export function currentAccessToken(): string | null {
  return accessToken;
}

export function hasRefreshToken(): boolean {
  return storedRefreshToken() !== null;
}

export function storedRefreshToken(): string | null {
  return localStorage.getItem(REFRESH_KEY);
}

/** Keeps a new session: the access token in memory, the refresh token across reloads. */
export function adoptSession(session: Session | null) {
  accessToken = session?.accessToken ?? null;
  if (session) localStorage.setItem(REFRESH_KEY, session.refreshToken);
  else localStorage.removeItem(REFRESH_KEY);
  onSession(session);
}

/** Trades the refresh token for a new session (optionally in another organisation). */
export function refreshSession(organizationId?: string): Promise<boolean> {
  if (refreshing && !organizationId) return refreshing;
  const token = storedRefreshToken();
  if (!token) return Promise.resolve(false);
  const attempt = (async () => {
    try {
      const res = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refreshToken: token, organizationId }),
      });
      if (!res.ok) {
        if (res.status === 401 || res.status === 400) adoptSession(null);
        return false;
      }
      adoptSession((await res.json()) as Session);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  refreshing = attempt;
  return attempt;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Answer the raw response (for files). */
  raw?: boolean;
}

async function send(path: string, options: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(path, {
    method: options.method ?? "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
}

async function toError(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { code: string; message: string; details?: unknown } };
    if (body.error) return new ApiError(res.status, body.error.code, body.error.message, body.error.details);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(res.status, "http_error", `The server answered ${res.status}.`);
}

/** Calls the API; on an expired token refreshes once and tries again. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  let res = await send(path, options);
  if (res.status === 401 && hasRefreshToken() && (await refreshSession())) {
    res = await send(path, options);
  }
  if (!res.ok) throw await toError(res);
  if (options.raw) return res as unknown as T;
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** A query string from the set values only. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  if (entries.length === 0) return "";
  return "?" + new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString();
}
