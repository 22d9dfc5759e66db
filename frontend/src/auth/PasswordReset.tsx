// A forgotten password: asking for a link by email, and the page that link opens to set a new
// password. Asking says the same whether or not there is an account for the address.
import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { asApiError, client, unwrap, type ApiError } from "../api/client";
import { Field } from "../components/ui";
import { INVALID_LINK, useLinkToken } from "./linkToken";

export const PASSWORD_CHANGED = "Your password was changed. Log in with the new one; other sessions were logged out.";

/** The server's length rule, checked here first so that a short password costs no round trip. */
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 128;

/** `/forgot-password`: an email address in, a link to reset the password out (if there is an account). */
export function ForgotPasswordPage() {
  const [email, setEmail] = useState("");
  const [sentFor, setSentFor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await unwrap(client.POST("/api/auth/password-reset/request", { body: { email } }));
      setSentFor(email);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  }

  const fields = error?.fields ?? {};
  return (
    <div className="auth">
      <form onSubmit={submit} className="card">
        <h1>Reset your password</h1>
        {sentFor ? (
          <p className="notice" role="status">
            If an account exists for {sentFor}, we have sent a link to reset its password. The link works for one hour.
          </p>
        ) : (
          <>
            <p className="muted">Enter the email address you log in with, and we will send you a link to set a new password.</p>
            {error && !fields.email && <p className="error-box" role="alert">{error.message}</p>}
            <Field label="Email" error={fields.email}>
              <input name="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
            </Field>
            <button type="submit" className="primary" disabled={busy}>Send the link</button>
          </>
        )}
        <p><Link to="/login">Back to log in</Link></p>
      </form>
    </div>
  );
}

/** `/reset-password#token=...`: a new password, twice; then log in with it. */
export function ResetPasswordPage() {
  const token = useLinkToken();
  const navigate = useNavigate();
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [invalid, setInvalid] = useState<{ password?: string; confirm?: string }>({});
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    const checked = {
      password: password.length < MIN_PASSWORD ? `At least ${MIN_PASSWORD} characters.` : undefined,
      confirm: password !== confirm ? "The passwords do not match." : undefined,
    };
    setInvalid(checked);
    if (!token || checked.password || checked.confirm) return;
    setBusy(true);
    try {
      await unwrap(client.POST("/api/auth/password-reset", { body: { token, password } }));
      navigate("/login", { replace: true, state: { notice: PASSWORD_CHANGED } });
    } catch (err) {
      setError(asApiError(err));
      setBusy(false);
    }
  }

  if (!token || error?.code === "invalid_token") {
    return (
      <div className="auth">
        <div className="card">
          <h1>Set a new password</h1>
          <p className="error-box" role="alert">{error?.message ?? INVALID_LINK}</p>
          <p><Link to="/forgot-password">Ask for a new link</Link></p>
        </div>
      </div>
    );
  }

  const fields = error?.fields ?? {};
  return (
    <div className="auth">
      <form onSubmit={submit} className="card">
        <h1>Set a new password</h1>
        {error && !fields.password && <p className="error-box" role="alert">{error.message}</p>}
        <Field label={`New password (at least ${MIN_PASSWORD} characters)`} error={invalid.password ?? fields.password}>
          <input
            name="password"
            type="password"
            autoComplete="new-password"
            required
            minLength={MIN_PASSWORD}
            maxLength={MAX_PASSWORD}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        <Field label="Confirm the new password" error={invalid.confirm}>
          <input
            name="confirm"
            type="password"
            autoComplete="new-password"
            required
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
          />
        </Field>
        <button type="submit" className="primary" disabled={busy}>Set the new password</button>
      </form>
    </div>
  );
}
