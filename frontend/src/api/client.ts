// The one way the app talks to the API: an openapi-fetch client typed from the generated
// `paths`, sending same-origin JSON with the access token and refreshing silently (one at a
// time: refresh tokens are single use); `unwrap` turns an error answer into an ApiError.
// The refresh token never reaches this code: the API keeps it in an HttpOnly cookie (we ask
// for that on every call), which the browser sends to /api/auth/* alone.
import createClient, { createQuerySerializer } from "openapi-fetch";
import { isRecord } from "./json";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Session = Schemas["Session"];

export interface FieldError {
  field: string;
  code: string;
  message: string;
}

function isFieldError(value: unknown): value is FieldError {
  return isRecord(value) && typeof value.field === "string" && typeof value.message === "string";
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
    const list: unknown[] = isRecord(this.details) && Array.isArray(this.details.fields) ? this.details.fields : [];
    return Object.fromEntries(list.filter(isFieldError).map((f) => [f.field, f.message]));
  }
}

/** What a failed call threw, as an ApiError: one that never reached the API is a network error. */
export function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, "network", "The server cannot be reached.");
}

/** The ApiError for an error answer, whatever its body (a proxy's HTML page has none of ours). */
function toApiError(response: Response, body: unknown): ApiError {
  const error = isRecord(body) ? body.error : undefined;
  if (isRecord(error) && typeof error.code === "string" && typeof error.message === "string") {
    return new ApiError(response.status, error.code, error.message, error.details);
  }
  return new ApiError(response.status, "http_error", `The server answered ${response.status}.`);
}

let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
let onSession: (session: Session | null) => void = () => {};

export function setSessionListener(listener: (session: Session | null) => void) {
  onSession = listener;
}

export function currentAccessToken(): string | null {
  return accessToken;
}

/** Keeps a new session's access token, in memory only (the refresh token is the cookie's). */
export function adoptSession(session: Session | null) {
  accessToken = session?.accessToken ?? null;
  onSession(session);
}

/** Asks the API to set the refresh token as an HttpOnly cookie instead of answering it. */
export const REFRESH_TRANSPORT = { header: "X-Refresh-Token-Transport", value: "cookie" } as const;

// Request objects need an absolute URL outside a browser (Vitest); the page's own origin keeps
// every call same-origin, as the API serves the app (and Vite proxies it in development).
const baseUrl = window.location.origin;

// An empty filter means no filter, not an empty value: `from=` is not a date, `status=` no status.
const serializeQuery = createQuerySerializer();
const querySerializer = (query: Record<string, unknown>) =>
  serializeQuery(Object.fromEntries(Object.entries(query).filter(([, value]) => value !== "")));

/** `fetch` as it is at call time, not at start-up (tests stub it), with the cookie transport. */
const send = (request: Request) => {
  request.headers.set(REFRESH_TRANSPORT.header, REFRESH_TRANSPORT.value);
  return globalThis.fetch(request);
};

/** Without the session: for the refresh itself, which must not wait on a refresh. */
const sessionless = createClient<paths>({ baseUrl, querySerializer, fetch: send });

/**
 * Trades the refresh cookie for a new session (optionally in another organisation); false when
 * there is none, which is also how a reload finds out whether it is signed in.
 */
export function refreshSession(organizationId?: string): Promise<boolean> {
  if (refreshing && !organizationId) return refreshing;
  const attempt = (async () => {
    try {
      const body = organizationId ? { organizationId } : {};
      const { data, response } = await sessionless.POST("/api/auth/refresh", { body });
      if (!data) {
        if (response.status === 401 || response.status === 400) adoptSession(null);
        return false;
      }
      adoptSession(data);
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

function authorized(request: Request): Request {
  if (accessToken) request.headers.set("Authorization", `Bearer ${accessToken}`);
  return request;
}

/**
 * Sends with the access token; when it has expired, refreshes once and sends a copy again. A
 * call that went out before another one's refresh just goes again with the new token.
 */
async function sendWithSession(request: Request): Promise<Response> {
  const copy = request.clone();
  const sentWith = accessToken;
  const res = await send(authorized(request));
  // Without a session (signing in, signed out) a 401 is the answer, not an expired token.
  if (res.status !== 401 || sentWith === null) return res;
  if (accessToken !== sentWith || (await refreshSession())) return send(authorized(copy));
  return res;
}

/** Every call of the app: `client.GET("/api/invoices/{id}", { params: { path: { id } } })`. */
export const client = createClient<paths>({ baseUrl, querySerializer, fetch: sendWithSession });

/** The success half of what a client call resolves to (the other half has an `error`). */
type Success<Answer> = Extract<Answer, { data: unknown }>;

// openapi-fetch answers `{ data, response }` for a success and `{ error, response }` otherwise.
function succeeded<Answer extends { response: Response }>(answer: Answer): answer is Success<Answer> {
  return answer.response.ok && "data" in answer;
}

/** The data of a successful answer; an error answer throws, as an ApiError. */
export async function unwrap<Answer extends { response: Response }>(pending: Promise<Answer>): Promise<Success<Answer>["data"]> {
  const answer = await pending;
  if (succeeded(answer)) return answer.data;
  throw toApiError(answer.response, "error" in answer ? answer.error : undefined);
}
