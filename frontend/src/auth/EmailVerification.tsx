// Verifying the user's email address: the page the emailed link opens, and the banner of the
// signed-in app asking an unverified user to click it (and sending it again on request).
import { useEffect, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { asApiError, client, unwrap, type ApiError } from "../api/client";
import { useAuth } from "./AuthContext";
import { INVALID_LINK, useLinkToken } from "./linkToken";

type Verification = { state: "verifying" } | { state: "verified"; email: string } | { state: "failed"; error: ApiError };

/** `/verify-email#token=...`: sends the token once, and says what came of it. */
export function VerifyEmailPage() {
  const token = useLinkToken();
  const { reloadMe } = useAuth();
  const [result, setResult] = useState<Verification>({ state: "verifying" });
  // A token works once: StrictMode's second run of the effect must not send it again.
  const sent = useRef(false);

  useEffect(() => {
    if (!token || sent.current) return;
    sent.current = true;
    unwrap(client.POST("/api/auth/verify-email", { body: { token } })).then(
      ({ email }) => {
        setResult({ state: "verified", email });
        // A signed-in user's banner goes away.
        void reloadMe().catch(() => {});
      },
      (err: unknown) => setResult({ state: "failed", error: asApiError(err) }),
    );
  }, [token, reloadMe]);

  return (
    <div className="auth">
      <div className="card">
        <h1>Verify your email address</h1>
        {!token ? (
          <VerifyFailed message={INVALID_LINK} />
        ) : result.state === "verifying" ? (
          <p className="muted" role="status">Verifying…</p>
        ) : result.state === "verified" ? (
          <>
            <p className="notice" role="status">Your email address {result.email} is verified.</p>
            <p><Link to="/invoices">Go to your invoices</Link></p>
          </>
        ) : (
          <VerifyFailed message={result.error.message} />
        )}
      </div>
    </div>
  );
}

function VerifyFailed({ message }: { message: string }) {
  return (
    <>
      <p className="error-box" role="alert">{message}</p>
      <p><Link to="/invoices">Open the app</Link> and choose “Send the link again” to get a new link.</p>
    </>
  );
}

/** Above every signed-in screen while the user's address is unverified (never for API keys). */
export function VerifyEmailBanner() {
  const { me, reloadMe } = useAuth();
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const user = me?.user;
  if (!user || user.emailVerified) return null;

  async function resend() {
    setBusy(true);
    setSentTo(null);
    setError(null);
    try {
      setSentTo((await unwrap(client.POST("/api/auth/verify-email/resend"))).sentTo);
    } catch (err) {
      const apiError = asApiError(err);
      // Verified meanwhile (in another tab): reading `me` again takes the banner away.
      if (apiError.code === "already_verified") await reloadMe().catch(() => {});
      else setError(apiError);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="banner" role="status">
      <p>Verify your email address to send invoices to your clients: we sent a link to {user.email}.</p>
      <button onClick={resend} disabled={busy}>Send the link again</button>
      {sentTo && <p>Sent to {sentTo}.</p>}
      {error && <p className="field-error" role="alert">{error.message}</p>}
    </div>
  );
}
