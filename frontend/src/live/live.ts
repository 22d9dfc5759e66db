// One WebSocket to /api/ws for the whole app: invoice changes of the organisation reach every
// subscriber; it reconnects with a fresh token and backoff after a drop, and tells subscribers
// to reload everything then (changes may have been missed).
import { useEffect, useState } from "react";
import { currentAccessToken, refreshSession } from "../api/client";

export type LiveEvent = { type: "invoice_changed"; invoiceId: string; status?: string | null; what: string } | { type: "resync" };
export type LiveStatus = "connecting" | "live" | "reconnecting" | "off";

type Listener = (event: LiveEvent) => void;
const listeners = new Set<Listener>();
const statusListeners = new Set<(s: LiveStatus) => void>();
let socket: WebSocket | null = null;
let status: LiveStatus = "off";
let attempt = 0;
let retry: number | undefined;
let wanted = false;

function setStatus(next: LiveStatus) {
  status = next;
  statusListeners.forEach((l) => l(next));
}

function emit(event: LiveEvent) {
  listeners.forEach((l) => l(event));
}

async function open() {
  if (!wanted) return;
  let token = currentAccessToken();
  if (!token || attempt > 0) {
    await refreshSession();
    token = currentAccessToken();
  }
  if (!token || !wanted) return;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/ws?token=${encodeURIComponent(token)}`;
  const ws = new WebSocket(url);
  socket = ws;
  ws.onopen = () => {
    if (attempt > 0) emit({ type: "resync" });
    attempt = 0;
    setStatus("live");
  };
  ws.onmessage = (message) => {
    try {
      emit(JSON.parse(String(message.data)) as LiveEvent);
    } catch {
      // ignore what is not ours
    }
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

/** Calls `onEvent` for every live event while the component is mounted. */
export function useLiveEvents(onEvent: Listener) {
  useEffect(() => {
    listeners.add(onEvent);
    return () => void listeners.delete(onEvent);
  }, [onEvent]);
}

export function useLiveStatus(): LiveStatus {
  const [value, setValue] = useState(status);
  useEffect(() => {
    statusListeners.add(setValue);
    return () => void statusListeners.delete(setValue);
  }, []);
  return value;
}
