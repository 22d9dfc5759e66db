// One WebSocket to /api/ws for the whole app: invoice changes of the organisation reach every
// subscriber. The access token goes in the first message, never the URL. The server closes the
// socket when that token expires (4001) or the membership ends (4003); like after any drop, it
// reconnects with a fresh token and backoff, and tells subscribers to reload everything then
// (changes may have been missed).
import { useEffect, useState } from "react";
import { currentAccessToken, refreshSession, type Schemas } from "../api/client";
import { isRecord, oneOf } from "../api/json";
import { invoiceStatusValues } from "../api/schema";

export type LiveMessage = Schemas["LiveMessage"];
export type LiveStatus = "connecting" | "live" | "reconnecting" | "off";

/** `what` of the message announcing that a draft was deleted (its status is then null). */
export const DELETED = "delete";

/** Whether `message` says that an invoice (a draft: nothing else can be deleted) is gone. */
export function isDeletion(message: LiveMessage): message is Extract<LiveMessage, { type: "invoice_changed" }> {
  return message.type === "invoice_changed" && message.what === DELETED;
}

/** A message of ours from the socket's text, or null for anything else. */
export function parseLiveMessage(text: string): LiveMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  if (value.type === "resync") return { type: "resync" };
  if (value.type !== "invoice_changed" || typeof value.invoiceId !== "string" || typeof value.what !== "string") return null;
  return {
    type: "invoice_changed",
    invoiceId: value.invoiceId,
    what: value.what,
    status: oneOf(invoiceStatusValues, value.status) ?? null,
    at: typeof value.at === "string" ? value.at : null,
  };
}

type Listener = (message: LiveMessage) => void;
const listeners = new Set<Listener>();
const statusListeners = new Set<(s: LiveStatus) => void>();
let socket: WebSocket | null = null;
let status: LiveStatus = "off";
let attempt = 0;
let retry: number | undefined;
let wanted = false;
/** The token the last socket authenticated with: after a close, a fresh one is needed. */
let lastToken: string | null = null;

function setStatus(next: LiveStatus) {
  status = next;
  statusListeners.forEach((l) => l(next));
}

function emit(message: LiveMessage) {
  listeners.forEach((l) => l(message));
}

async function open() {
  if (!wanted) return;
  let token = currentAccessToken();
  // The session may have renewed the token since the last socket opened; else refresh it.
  if (!token || (attempt > 0 && token === lastToken)) {
    await refreshSession();
    token = currentAccessToken();
  }
  if (!token || !wanted) return;
  const authToken = token;
  lastToken = authToken;
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/ws`);
  socket = ws;
  ws.onopen = () => {
    ws.send(authMessage(authToken));
    if (attempt > 0) emit({ type: "resync" });
    attempt = 0;
    setStatus("live");
  };
  ws.onmessage = (event) => {
    // what is not ours is ignored
    const message = parseLiveMessage(String(event.data));
    if (message) emit(message);
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    if (!wanted) return;
    setStatus("reconnecting");
    attempt += 1;
    const delay = Math.min(30_000, 1000 * 2 ** Math.min(attempt - 1, 5));
    retry = window.setTimeout(() => void open(), delay);
  };
}

/** The first message of every socket: the server closes one that sends anything else. */
export function authMessage(token: string): string {
  return JSON.stringify({ type: "auth", token });
}

/** Starts the connection (after login). */
export function connectLive() {
  if (wanted) return;
  wanted = true;
  attempt = 0;
  setStatus("connecting");
  void open();
}

/** Stops it (at logout). */
export function disconnectLive() {
  wanted = false;
  window.clearTimeout(retry);
  socket?.close();
  socket = null;
  setStatus("off");
}

/** Calls `onMessage` for every live message while the component is mounted. */
export function useLiveEvents(onMessage: Listener) {
  useEffect(() => {
    listeners.add(onMessage);
    return () => void listeners.delete(onMessage);
  }, [onMessage]);
}

export function useLiveStatus(): LiveStatus {
  const [value, setValue] = useState(status);
  useEffect(() => {
    statusListeners.add(setValue);
    return () => void statusListeners.delete(setValue);
  }, []);
  return value;
}
