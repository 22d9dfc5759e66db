// The token of an emailed link (`/verify-email#token=...`, `/reset-password#token=...`). It
// travels in the fragment, which the browser never sends to a server nor puts in a Referer;
// once read it leaves the address bar too, so that it is not left on screen or in the history.
import { useEffect, useState } from "react";

/** What the API says of a bad token, for a link that has none at all. */
export const INVALID_LINK = "This link is invalid or has expired.";

/** The `token` of the page's fragment, or null. */
function readLinkToken(): string | null {
  return new URLSearchParams(window.location.hash.slice(1)).get("token") || null;
}

/** Drops the fragment from the address bar, keeping the router's history state. */
function clearLinkToken() {
  if (!window.location.hash) return;
  const { pathname, search } = window.location;
  window.history.replaceState(window.history.state, "", pathname + search);
}

/**
 * The link's token, read once when the page mounts; the address bar loses it after the first
 * render, not during it (StrictMode reads twice, and the second read must still find it).
 */
export function useLinkToken(): string | null {
  const [token] = useState(readLinkToken);
  useEffect(clearLinkToken, []);
  return token;
}
