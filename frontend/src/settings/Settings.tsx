// Organisation settings: name and currency, the reminder schedule, seller details printed on
// invoices, payment instructions, members and roles, API keys. Admins edit; others read.
import { useState, type FormEvent } from "react";
import { ApiError, client, unwrap, type Schemas } from "../api/client";
import { oneOf } from "../api/json";
import { roleValues } from "../api/schema";
import { can, useAuth } from "../auth/AuthContext";
import { ErrorBox, Field, Loading } from "../components/ui";
import { formatDateTime } from "../money";
import { useAsync } from "../useAsync";

type Org = Schemas["Organization"];
type Role = Schemas["Role"];
/** An API key acts for the organisation, never as its owner. */
const KEY_ROLES = roleValues.filter((r) => r !== "owner");

export function Settings() {
  const { me } = useAuth();
  const admin = can(me?.role, "admin");
  const org = useAsync(() => unwrap(client.GET("/api/org")), []);
  if (org.error) return <ErrorBox error={org.error} />;
  if (!org.data) return <Loading />;
  return (
    <section className="settings">
      <h1>Settings</h1>
      <OrgForm org={org.data} editable={admin} onSaved={() => org.reload(true)} />
      <Members admin={admin} />
      {admin && <ApiKeys />}
    </section>
  );
}

function OrgForm({ org, editable, onSaved }: { org: Org; editable: boolean; onSaved(): void }) {
  const [name, setName] = useState(org.name);
  const [currency, setCurrency] = useState(org.defaultCurrency);
  const [offsets, setOffsets] = useState(org.reminderOffsets.join(", "));
  const [legalName, setLegalName] = useState(org.sellerDetails.legalName ?? "");
  const [address, setAddress] = useState((org.sellerDetails.addressLines ?? []).join("\n"));
  const [sellerEmail, setSellerEmail] = useState(org.sellerDetails.email ?? "");
  const [taxId, setTaxId] = useState(org.sellerDetails.taxId ?? "");
  const [instructions, setInstructions] = useState(org.paymentInstructions ?? "");
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setSaved(false);
    const reminderOffsets = offsets.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
    try {
      await unwrap(client.PATCH("/api/org", {
        body: {
          name, defaultCurrency: currency, reminderOffsets, paymentInstructions: instructions || null,
          sellerDetails: { legalName: legalName || null, addressLines: address.split("\n").map((l) => l.trim()).filter(Boolean), email: sellerEmail || null, taxId: taxId || null },
        },
      }));
      setSaved(true);
      onSaved();
    } catch (err) {
      setError(err instanceof ApiError ? err : null);
    }
  }
  const f = error?.fields ?? {};
  return (
    <form className="card" onSubmit={submit}>
      <h2>Organisation</h2>
      <fieldset disabled={!editable}>
        <Field label="Name" error={f.name}><input value={name} onChange={(e) => setName(e.target.value)} /></Field>
        <Field label="Default currency" error={f.defaultCurrency}><input value={currency} onChange={(e) => setCurrency(e.target.value)} /></Field>
        <Field label="Reminder days relative to the due date (e.g. -3, 0, 3, 7)" error={f.reminderOffsets}>
          <input value={offsets} onChange={(e) => setOffsets(e.target.value)} />
        </Field>
        <h3>Seller details printed on invoices</h3>
        <Field label="Legal name" error={f["sellerDetails.legalName"]}><input value={legalName} onChange={(e) => setLegalName(e.target.value)} /></Field>
        <Field label="Address (one line per row)" error={f["sellerDetails.addressLines"]}><textarea value={address} onChange={(e) => setAddress(e.target.value)} /></Field>
        <Field label="Email" error={f["sellerDetails.email"]}><input value={sellerEmail} onChange={(e) => setSellerEmail(e.target.value)} /></Field>
        <Field label="Tax id" error={f["sellerDetails.taxId"]}><input value={taxId} onChange={(e) => setTaxId(e.target.value)} /></Field>
        <Field label="Payment instructions" error={f.paymentInstructions}><textarea value={instructions} onChange={(e) => setInstructions(e.target.value)} /></Field>
        {editable && <button type="submit" className="primary">Save settings</button>}
      </fieldset>
      {error && Object.keys(f).length === 0 && <p className="error-box">{error.message}</p>}
      {saved && <p className="notice" role="status">Saved.</p>}
    </form>
  );
}

function Members({ admin }: { admin: boolean }) {
  const members = useAsync(() => unwrap(client.GET("/api/org/members")), []);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [error, setError] = useState<string>();
  const list = members.data ?? [];
  async function run(fn: () => Promise<unknown>) {
    setError(undefined);
    try {
      await fn();
      members.reload(true);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }
  return (
    <section className="card">
      <h2>Members</h2>
      {error && <p className="error-box" role="alert">{error}</p>}
      <table>
        <thead><tr><th>Email</th><th>Role</th><th>Joined</th><th /></tr></thead>
        <tbody>
          {list.map((m) => (
            <tr key={m.userId}>
              <td>{m.email}</td>
              <td>
                {admin ? (
                  <select aria-label={`Role of ${m.email}`} value={m.role} onChange={(e) => {
                    const role = oneOf(roleValues, e.target.value);
                    if (role) void run(() => unwrap(client.PATCH("/api/org/members/{userId}", { params: { path: { userId: m.userId } }, body: { role } })));
                  }}>
                    {roleValues.map((r) => <option key={r}>{r}</option>)}
                  </select>
                ) : m.role}
              </td>
              <td>{formatDateTime(m.joinedAt)}</td>
              <td>{admin && <button className="link" onClick={() => run(() => unwrap(client.DELETE("/api/org/members/{userId}", { params: { path: { userId: m.userId } } })))}>Remove</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {admin && (
        <form className="row" onSubmit={(e) => { e.preventDefault(); void run(() => unwrap(client.POST("/api/org/members", { body: { email, role } }))); }}>
          <Field label="Add an existing user by email"><input type="email" value={email} onChange={(e) => setEmail(e.target.value)} /></Field>
          <Field label="Role">
            <select value={role} onChange={(e) => setRole(oneOf(roleValues, e.target.value) ?? role)}>{roleValues.map((r) => <option key={r}>{r}</option>)}</select>
          </Field>
          <button type="submit">Add member</button>
        </form>
      )}
    </section>
  );
}

function ApiKeys() {
  const keys = useAsync(() => unwrap(client.GET("/api/org/api-keys")), []);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("accountant");
  const [secret, setSecret] = useState<string>();
  const [error, setError] = useState<string>();
  const list = keys.data ?? [];
  async function create(e: FormEvent) {
    e.preventDefault();
    setError(undefined);
    try {
      const created = await unwrap(client.POST("/api/org/api-keys", { body: { name, role } }));
      setSecret(created.key);
      setName("");
      keys.reload(true);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }
  return (
    <section className="card">
      <h2>API keys</h2>
      {error && <p className="error-box" role="alert">{error}</p>}
      {secret && <p className="notice">Copy this key now; it is not shown again: <code data-testid="api-key-secret">{secret}</code></p>}
      <table>
        <thead><tr><th>Name</th><th>Prefix</th><th>Role</th><th>Last used</th><th /></tr></thead>
        <tbody>
          {list.map((k) => (
            <tr key={k.id}>
              <td>{k.name}</td><td><code>{k.prefix}</code></td><td>{k.role}</td><td>{formatDateTime(k.lastUsedAt)}</td>
              <td><button className="link" onClick={async () => { await unwrap(client.DELETE("/api/org/api-keys/{id}", { params: { path: { id: k.id } } })); keys.reload(true); }}>Revoke</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="row" onSubmit={create}>
        <Field label="Key name"><input value={name} onChange={(e) => setName(e.target.value)} required /></Field>
        <Field label="Role"><select value={role} onChange={(e) => setRole(oneOf(KEY_ROLES, e.target.value) ?? role)}>{KEY_ROLES.map((r) => <option key={r}>{r}</option>)}</select></Field>
        <button type="submit">Create key</button>
      </form>
    </section>
  );
}
