// Sign up and log in (with what a page that sent here has to say, such as a changed password).
import { useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { asApiError, type ApiError } from "../api/client";
import { isRecord } from "../api/json";
import { Field } from "../components/ui";
import { useAuth } from "./AuthContext";

/** The `notice` another page navigated here with (`navigate("/login", { state: { notice } })`). */
function useNotice(): string | undefined {
  const { state } = useLocation();
  return isRecord(state) && typeof state.notice === "string" ? state.notice : undefined;
}

function AuthForm({ mode }: { mode: "login" | "signup" }) {
  const { login, signup } = useAuth();
  const navigate = useNavigate();
  const notice = useNotice();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [organizationName, setOrganizationName] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "login") await login(email, password);
      else await signup(email, password, organizationName || undefined);
      navigate("/invoices");
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
        <h1>{mode === "login" ? "Log in" : "Create your account"}</h1>
        {notice && <p className="notice" role="status">{notice}</p>}
        {error && Object.keys(fields).length === 0 && <p className="error-box" role="alert">{error.message}</p>}
        <Field label="Email" error={fields.email}>
          <input name="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field label="Password" error={fields.password}>
          <input
            name="password"
            type="password"
            autoComplete={mode === "login" ? "current-password" : "new-password"}
            required
            minLength={mode === "signup" ? 8 : undefined}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        {mode === "signup" && (
          <Field label="Organisation name (optional)" error={fields.organizationName}>
            <input name="organizationName" value={organizationName} onChange={(e) => setOrganizationName(e.target.value)} />
          </Field>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {mode === "login" ? "Log in" : "Sign up"}
        </button>
        {mode === "login" && <p><Link to="/forgot-password">Forgot your password?</Link></p>}
        <p>
          {mode === "login" ? (
            <>No account? <Link to="/signup">Sign up</Link></>
          ) : (
            <>Have an account? <Link to="/login">Log in</Link></>
          )}
        </p>
      </form>
    </div>
  );
}

export const LoginPage = () => <AuthForm mode="login" />;
export const SignupPage = () => <AuthForm mode="signup" />;
