// Customers: the list with search and a create form, and one customer with their invoices.
import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { ApiError, client, unwrap } from "../api/client";
import { can, useAuth } from "../auth/AuthContext";
import { Empty, ErrorBox, Field, Loading } from "../components/ui";
import { InvoiceList } from "../invoices/InvoiceList";
import { useAsync } from "../useAsync";

export function CustomerList() {
  const { me } = useAuth();
  const [q, setQ] = useState("");
  const list = useAsync(() => unwrap(client.GET("/api/customers", { params: { query: { q, limit: 100 } } })), [q]);
  const [adding, setAdding] = useState(false);
  return (
    <section>
      <div className="page-head">
        <h1>Customers</h1>
        {can(me?.role, "accountant") && <button className="primary" onClick={() => setAdding(!adding)}>{adding ? "Close" : "New customer"}</button>}
      </div>
      {adding && <CustomerForm onSaved={() => { setAdding(false); list.reload(); }} />}
      <input type="search" aria-label="Search customers" placeholder="Search name or email…" value={q} onChange={(e) => setQ(e.target.value)} />
      {list.error ? <ErrorBox error={list.error} onRetry={() => list.reload()} /> : !list.data ? <Loading /> : list.data.items.length === 0 ? (
        <Empty>No customers yet. They are also created from a new invoice's client.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead><tr><th>Name</th><th>Email</th><th>Currency</th><th>Time zone</th></tr></thead>
            <tbody>
              {list.data.items.map((c) => (
                <tr key={c.id}><td data-label="Name"><Link to={`/customers/${c.id}`}>{c.name}</Link></td><td data-label="Email">{c.email ?? "—"}</td><td data-label="Currency">{c.currency}</td><td data-label="Time zone">{c.timeZone}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function CustomerForm({ onSaved }: { onSaved(): void }) {
  const [form, setForm] = useState({ name: "", email: "", currency: "EUR", timeZone: "Europe/Berlin", locale: "en" });
  const [error, setError] = useState<ApiError | null>(null);
  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      await unwrap(client.POST("/api/customers", { body: { ...form, email: form.email || undefined } }));
      onSaved();
    } catch (err) {
      setError(err instanceof ApiError ? err : null);
    }
  }
  const f = error?.fields ?? {};
  const bind = (k: keyof typeof form) => ({ value: form[k], onChange: (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value }) });
  return (
    <form className="card row" onSubmit={submit}>
      {error && Object.keys(f).length === 0 && <p className="error-box">{error.message}</p>}
      <Field label="Name" error={f.name}><input {...bind("name")} /></Field>
      <Field label="Email" error={f.email}><input type="email" {...bind("email")} /></Field>
      <Field label="Currency" error={f.currency}><input {...bind("currency")} /></Field>
      <Field label="Time zone" error={f.timeZone}><input {...bind("timeZone")} /></Field>
      <Field label="Language" error={f.locale}><input {...bind("locale")} /></Field>
      <button type="submit" className="primary">Save customer</button>
    </form>
  );
}

export function CustomerDetail() {
  const { id = "" } = useParams();
  const customer = useAsync(() => unwrap(client.GET("/api/customers/{id}", { params: { path: { id } } })), [id]);
  if (customer.error) return <ErrorBox error={customer.error} />;
  if (!customer.data) return <Loading />;
  const c = customer.data;
  return (
    <section>
      <h1>{c.name}</h1>
      <dl className="facts card">
        <dt>Email</dt><dd>{c.email ?? "—"}</dd>
        <dt>Currency</dt><dd>{c.currency}</dd>
        <dt>Time zone</dt><dd>{c.timeZone}</dd>
        <dt>Tax id</dt><dd>{c.taxId ?? "—"}</dd>
      </dl>
      <h2>Invoices</h2>
      <InvoiceList customerId={id} />
    </section>
  );
}
