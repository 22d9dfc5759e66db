// One invoice: status, amounts, lines, payments, the PDF, the next scheduled action, the live
// timeline, the actions the user's role allows, the client's hosted page and, for admins, its
// run in the Temporal UI.
import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { ApiError, api, type Schemas } from "../api/client";
import { can, useAuth } from "../auth/AuthContext";
import { Dialog, ErrorBox, Field, Loading, StatusBadge } from "../components/ui";
import { useLiveEvents, type LiveEvent } from "../live/live";
import { formatDate, formatDateTime, formatMoney, toDecimal } from "../money";
import { debounce, useAsync } from "../useAsync";

type Invoice = Schemas["InvoiceView"];
type Entry = Schemas["TimelineEntry"];

let appConfig: Promise<Schemas["AppConfig"]> | null = null;
const loadAppConfig = () => (appConfig ??= api<Schemas["AppConfig"]>("/api/app-config"));

const OPEN = ["open", "sent", "overdue", "partially_paid"];

export function InvoiceDetail() {
  const { id = "" } = useParams();
  const { me } = useAuth();
  const invoice = useAsync(() => api<Invoice>(`/api/invoices/${id}`), [id]);
  const timeline = useAsync(() => api<Entry[]>(`/api/invoices/${id}/timeline`), [id]);
  const [config, setConfig] = useState<Schemas["AppConfig"]>();
  const [actionError, setActionError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const [paying, setPaying] = useState(false);
  const [voiding, setVoiding] = useState(false);
  useEffect(() => void loadAppConfig().then(setConfig, () => {}), []);

  const refresh = useMemo(() => debounce(() => { invoice.reload(true); timeline.reload(true); }, 250), [invoice.reload, timeline.reload]);
  useLiveEvents(useCallback((e: LiveEvent) => { if (e.type === "resync" || e.invoiceId === id) refresh(); }, [id, refresh]));

  if (invoice.error) return <ErrorBox error={invoice.error} onRetry={() => invoice.reload()} />;
  if (!invoice.data) return <Loading />;
  const inv = invoice.data;
  const entries = timeline.data ?? [];
  const role = me?.role;
  const writer = can(role, "accountant");

  async function act(action: string, body?: unknown) {
    setBusy(action);
    setActionError(undefined);
    try {
      await api(`/api/invoices/${id}/${action}`, { method: "POST", body: body ?? {} });
      invoice.reload(true);
      timeline.reload(true);
      return true;
    } catch (err) {
      setActionError(err instanceof ApiError ? err.message : String(err));
      return false;
    } finally {
      setBusy(undefined);
    }
  }

  const next = inv.nextAction as { kind?: string; at?: string } | null | undefined;
  return (
    <article className="detail">
      <div className="page-head">
        <h1>
          {inv.number ?? "Draft invoice"} <StatusBadge status={inv.status} />
        </h1>
        <div className="actions" data-testid="invoice-actions">
          {writer && inv.status === "draft" && <Link className="button" to={`/invoices/${id}/edit`}>Edit</Link>}
          {writer && inv.status === "draft" && <button disabled={!!busy} onClick={() => act("finalize")} data-testid="action-finalize">Finalize and send</button>}
          {writer && OPEN.includes(inv.status) && <button disabled={!!busy} onClick={() => act("resend")} data-testid="action-resend">Send again</button>}
          {writer && OPEN.includes(inv.status) && <button disabled={!!busy} onClick={() => act("remind")} data-testid="action-remind">Remind now</button>}
          {writer && OPEN.includes(inv.status) && <button disabled={!!busy} onClick={() => setPaying(true)} data-testid="action-payment">Record payment</button>}
          {can(role, "admin") && inv.status === "needs_attention" && <button disabled={!!busy} onClick={() => act("retry")} data-testid="action-retry">Retry</button>}
          {writer && !["void", "paid", "refunded"].includes(inv.status) && <button className="danger" disabled={!!busy} onClick={() => setVoiding(true)} data-testid="action-void">Void</button>}
        </div>
      </div>
      {actionError && <p className="error-box" role="alert">{actionError}</p>}
      {inv.attentionReason && <p className="error-box">Needs attention: {inv.attentionReason}</p>}
      <div className="grid">
        <section className="card">
          <h2>Summary</h2>
          <dl className="facts">
            <dt>Client</dt><dd><Link to={`/customers/${inv.customerId}`}>{inv.clientName}</Link>{inv.clientEmail ? ` · ${inv.clientEmail}` : ""}</dd>
            <dt>Issued</dt><dd>{formatDate(inv.issueDate)}</dd>
            <dt>Due</dt><dd>{formatDate(inv.dueDate)}</dd>
            <dt>Total</dt><dd className="num">{formatMoney(inv.total, inv.currency)}</dd>
            <dt>Paid</dt><dd className="num" data-testid="amount-paid">{formatMoney(inv.amountPaid, inv.currency)}</dd>
            <dt>Due now</dt><dd className="num" data-testid="amount-due"><strong>{formatMoney(inv.amountDue, inv.currency)}</strong></dd>
            <dt>Next</dt><dd data-testid="next-action">{next?.kind ? `${next.kind.replace(/_/g, " ")} · ${formatDateTime(next.at)}` : "Nothing scheduled"}</dd>
          </dl>
          <p className="links">
            {inv.hostedPath && <a href={inv.hostedPath} target="_blank" rel="noreferrer" data-testid="hosted-link">Client's invoice page ↗</a>}
            {can(role, "admin") && config?.temporalUiUrl && (
              <a href={`${config.temporalUiUrl}/namespaces/${config.temporalNamespace}/workflows/${encodeURIComponent(inv.workflowId)}`} target="_blank" rel="noreferrer" data-testid="temporal-link">
                Open in Temporal UI ↗
              </a>
            )}
          </p>
        </section>
        <section className="card">
          <h2>Lines</h2>
          <div className="table-wrap">
            <table>
              <thead><tr><th>Description</th><th className="num">Qty</th><th className="num">Unit</th><th className="num">Amount</th></tr></thead>
              <tbody>
                {(inv.lines ?? []).map((l, i) => (
                  <tr key={i}><td>{l.description}</td><td className="num">{l.quantity}</td><td className="num">{formatMoney(l.unitPrice, inv.currency)}</td><td className="num">{formatMoney(l.amount, inv.currency)}</td></tr>
                ))}
              </tbody>
              <tfoot>
                <tr><td colSpan={3}>Subtotal</td><td className="num">{formatMoney(inv.subtotal, inv.currency)}</td></tr>
                {inv.discountTotal > 0 && <tr><td colSpan={3}>Discount {inv.discountRate}%</td><td className="num">{formatMoney(-inv.discountTotal, inv.currency)}</td></tr>}
                {inv.taxTotal > 0 && <tr><td colSpan={3}>Tax {inv.taxRate}%</td><td className="num">{formatMoney(inv.taxTotal, inv.currency)}</td></tr>}
                <tr><td colSpan={3}><strong>Total</strong></td><td className="num"><strong>{formatMoney(inv.total, inv.currency)}</strong></td></tr>
              </tfoot>
            </table>
          </div>
          <h2>Payments</h2>
          {(inv.payments ?? []).length === 0 ? <p className="muted">No payments yet.</p> : (
            <ul className="payments">
              {(inv.payments ?? []).map((p) => (
                <li key={p.id}>{formatDateTime(p.paidAt)} · {p.method.replace("_", " ")} · <span className="num">{formatMoney(p.amount, p.currency)}</span>{p.reference ? ` · ${p.reference}` : ""}</li>
              ))}
            </ul>
          )}
        </section>
        <section className="card pdf">
          <h2>PDF</h2>
          {inv.hasPdf ? <Pdf id={id} version={inv.updatedAt} number={inv.number ?? "invoice"} /> : <p className="muted">Rendered once the invoice is finalized.</p>}
        </section>
        <section className="card">
          <h2>Timeline</h2>
          {timeline.error ? <ErrorBox error={timeline.error} /> : (
            <ol className="timeline" data-testid="timeline">
              {entries.map((e) => (
                <li key={e.id}>
                  <time>{formatDateTime(e.at)}</time> <strong>{e.kind.replace(/_/g, " ")}</strong> <span className="muted">by {e.actor}</span>
                  {Object.keys(e.data ?? {}).length > 0 && <code>{JSON.stringify(e.data)}</code>}
                </li>
              ))}
            </ol>
          )}
        </section>
      </div>
      <Dialog title="Record a payment" open={paying} onClose={() => setPaying(false)}>
        <PaymentForm invoice={inv} onCancel={() => setPaying(false)} onSubmit={async (body) => { if (await act("payments", body)) setPaying(false); }} />
      </Dialog>
      <Dialog title="Void this invoice?" open={voiding} onClose={() => setVoiding(false)}>
        <p>The client's link stops working and no more reminders go out. This cannot be undone.</p>
        <div className="actions">
          <button onClick={() => setVoiding(false)}>Cancel</button>
          <button className="danger" onClick={async () => { if (await act("void")) setVoiding(false); }} data-testid="confirm-void">Void invoice</button>
        </div>
      </Dialog>
    </article>
  );
}

function PaymentForm({ invoice, onSubmit, onCancel }: { invoice: Invoice; onSubmit(body: unknown): void; onCancel(): void }) {
  const [amount, setAmount] = useState(toDecimal(invoice.amountDue, invoice.currency));
  const [method, setMethod] = useState("bank_transfer");
  const [reference, setReference] = useState("");
  const [date, setDate] = useState(new Date().toISOString().slice(0, 10));
  const [key] = useState(() => crypto.randomUUID());
  function submit(e: FormEvent) {
    e.preventDefault();
    onSubmit({ amount, method, reference: reference || undefined, paidAt: new Date(`${date}T12:00:00Z`).toISOString(), idempotencyKey: key });
  }
  return (
    <form onSubmit={submit}>
      <Field label={`Amount (${invoice.currency})`}><input autoFocus inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} /></Field>
      <Field label="Method">
        <select value={method} onChange={(e) => setMethod(e.target.value)}>
          {["bank_transfer", "card", "cash", "check", "wallet", "other"].map((m) => <option key={m} value={m}>{m.replace("_", " ")}</option>)}
        </select>
      </Field>
      <Field label="Received on"><input type="date" value={date} onChange={(e) => setDate(e.target.value)} /></Field>
      <Field label="Reference"><input value={reference} onChange={(e) => setReference(e.target.value)} /></Field>
      <div className="actions">
        <button type="button" onClick={onCancel}>Cancel</button>
        <button type="submit" className="primary">Record payment</button>
      </div>
    </form>
  );
}

/** The PDF through the authenticated endpoint, shown inline and downloadable. */
function Pdf({ id, version, number }: { id: string; version: string; number: string }) {
  const [url, setUrl] = useState<string>();
  const [error, setError] = useState<Error>();
  useEffect(() => {
    let objectUrl: string | undefined;
    api<Response>(`/api/invoices/${id}/pdf`, { raw: true })
      .then((res) => res.blob())
      .then((blob) => {
        objectUrl = URL.createObjectURL(blob);
        setUrl(objectUrl);
      }, setError);
    return () => { if (objectUrl) URL.revokeObjectURL(objectUrl); };
  }, [id, version]);
  if (error) return <ErrorBox error={error} />;
  if (!url) return <Loading />;
  return (
    <>
      <object data={url} type="application/pdf" aria-label="Invoice PDF" className="pdf-frame">
        <p>Your browser cannot show PDFs inline.</p>
      </object>
      <a className="button" href={url} download={`${number}.pdf`}>Download PDF</a>
    </>
  );
}
