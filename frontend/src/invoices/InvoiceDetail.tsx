// One invoice: status, amounts, lines, payments, the PDF, the next scheduled action, the live
// timeline, the actions the user's role allows and the client's hosted page. A draft deleted
// while it is open says so. (No Temporal UI link: that UI spans every organisation's runs.)
import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { ApiError, client, unwrap, type Schemas } from "../api/client";
import { oneOf } from "../api/json";
import { paymentMethodValues } from "../api/schema";
import { useMoney } from "../appConfig";
import { can, useAuth } from "../auth/AuthContext";
import { Dialog, ErrorBox, Field, Loading, StatusBadge } from "../components/ui";
import { isDeletion, useLiveEvents, type LiveMessage } from "../live/live";
import { formatDate, formatDateTime } from "../money";
import { debounce, useAsync } from "../useAsync";

type Invoice = Schemas["InvoiceView"];
type Status = Schemas["InvoiceStatus"];
type PaymentMethod = Schemas["PaymentMethod"];
/** The actions that take no input (`POST /api/invoices/{id}/<action>`). */
type Action = "finalize" | "resend" | "remind" | "retry" | "void";

const OPEN: readonly Status[] = ["open", "sent", "overdue", "partially_paid"];
const SETTLED: readonly Status[] = ["void", "paid", "refunded"];

export function InvoiceDetail() {
  const { id = "" } = useParams();
  const { me } = useAuth();
  const money = useMoney();
  const path = { params: { path: { id } } };
  const invoice = useAsync(() => unwrap(client.GET("/api/invoices/{id}", path)), [id]);
  const timeline = useAsync(() => unwrap(client.GET("/api/invoices/{id}/timeline", path)), [id]);
  // The id whose draft was deleted while open (the component stays when the id changes).
  const [deletedId, setDeletedId] = useState<string>();
  const [actionError, setActionError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const [paying, setPaying] = useState(false);
  const [voiding, setVoiding] = useState(false);

  const { reload: reloadInvoice } = invoice;
  const { reload: reloadTimeline } = timeline;
  const refresh = useMemo(() => debounce(() => { reloadInvoice(true); reloadTimeline(true); }, 250), [reloadInvoice, reloadTimeline]);
  useLiveEvents(useCallback((message: LiveMessage) => {
    if (isDeletion(message) && message.invoiceId === id) setDeletedId(id);
    else if (message.type === "resync" || message.invoiceId === id) refresh();
  }, [id, refresh]));

  if (deletedId === id) {
    return (
      <div className="notice" role="status" data-testid="invoice-deleted">
        <p>This draft was deleted.</p>
        <Link to="/invoices">Back to invoices</Link>
      </div>
    );
  }
  if (invoice.error) return <ErrorBox error={invoice.error} onRetry={() => invoice.reload()} />;
  if (!invoice.data) return <Loading />;
  const inv = invoice.data;
  const entries = timeline.data ?? [];
  const role = me?.role;
  const writer = can(role, "accountant");

  async function act(name: string, request: () => Promise<unknown>) {
    setBusy(name);
    setActionError(undefined);
    try {
      await request();
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
  const action = (name: Action) => act(name, () => unwrap(client.POST(`/api/invoices/{id}/${name}`, { ...path, body: {} })));
  const pay = (body: Schemas["RecordPayment"]) => act("payments", () => unwrap(client.POST("/api/invoices/{id}/payments", { ...path, body })));

  const next = inv.nextAction;
  return (
    <article className="detail">
      <div className="page-head">
        <h1>
          {inv.number ?? "Draft invoice"} <StatusBadge status={inv.status} />
        </h1>
        <div className="actions" data-testid="invoice-actions">
          {writer && inv.status === "draft" && <Link className="button" to={`/invoices/${id}/edit`}>Edit</Link>}
          {writer && inv.status === "draft" && <button disabled={!!busy} onClick={() => action("finalize")} data-testid="action-finalize">Finalize and send</button>}
          {writer && OPEN.includes(inv.status) && <button disabled={!!busy} onClick={() => action("resend")} data-testid="action-resend">Send again</button>}
          {writer && OPEN.includes(inv.status) && <button disabled={!!busy} onClick={() => action("remind")} data-testid="action-remind">Remind now</button>}
          {writer && OPEN.includes(inv.status) && <button disabled={!!busy} onClick={() => setPaying(true)} data-testid="action-payment">Record payment</button>}
          {can(role, "admin") && inv.status === "needs_attention" && <button disabled={!!busy} onClick={() => action("retry")} data-testid="action-retry">Retry</button>}
          {writer && !SETTLED.includes(inv.status) && <button className="danger" disabled={!!busy} onClick={() => setVoiding(true)} data-testid="action-void">Void</button>}
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
            <dt>Total</dt><dd className="num">{money.format(inv.total, inv.currency)}</dd>
            <dt>Paid</dt><dd className="num" data-testid="amount-paid">{money.format(inv.amountPaid, inv.currency)}</dd>
            <dt>Due now</dt><dd className="num" data-testid="amount-due"><strong>{money.format(inv.amountDue, inv.currency)}</strong></dd>
            <dt>Next</dt><dd data-testid="next-action">{next ? `${next.kind.replace(/_/g, " ")} · ${formatDateTime(next.at)}` : "Nothing scheduled"}</dd>
          </dl>
          <p className="links">
            {inv.hostedPath && <a href={inv.hostedPath} target="_blank" rel="noreferrer" data-testid="hosted-link">Client's invoice page ↗</a>}
          </p>
        </section>
        <section className="card">
          <h2>Lines</h2>
          <div className="table-wrap">
            <table>
              <thead><tr><th>Description</th><th className="num">Qty</th><th className="num">Unit</th><th className="num">Amount</th></tr></thead>
              <tbody>
                {(inv.lines ?? []).map((l, i) => (
                  <tr key={i}><td>{l.description}</td><td className="num">{l.quantity}</td><td className="num">{money.format(l.unitPrice, inv.currency)}</td><td className="num">{money.format(l.amount, inv.currency)}</td></tr>
                ))}
              </tbody>
              <tfoot>
                <tr><td colSpan={3}>Subtotal</td><td className="num">{money.format(inv.subtotal, inv.currency)}</td></tr>
                {inv.discountTotal > 0 && <tr><td colSpan={3}>Discount {inv.discountRate}%</td><td className="num">{money.format(-inv.discountTotal, inv.currency)}</td></tr>}
                {inv.taxTotal > 0 && <tr><td colSpan={3}>Tax {inv.taxRate}%</td><td className="num">{money.format(inv.taxTotal, inv.currency)}</td></tr>}
                <tr><td colSpan={3}><strong>Total</strong></td><td className="num"><strong>{money.format(inv.total, inv.currency)}</strong></td></tr>
              </tfoot>
            </table>
          </div>
          <h2>Payments</h2>
          {(inv.payments ?? []).length === 0 ? <p className="muted">No payments yet.</p> : (
            <ul className="payments">
              {(inv.payments ?? []).map((p) => (
                <li key={p.id}>{formatDateTime(p.paidAt)} · {p.method.replace("_", " ")} · <span className="num">{money.format(p.amount, p.currency)}</span>{p.reference ? ` · ${p.reference}` : ""}</li>
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
        {actionError && <p className="error-box" role="alert">{actionError}</p>}
        <PaymentForm invoice={inv} onCancel={() => setPaying(false)} onSubmit={async (body) => { if (await pay(body)) setPaying(false); }} />
      </Dialog>
      <Dialog title="Void this invoice?" open={voiding} onClose={() => setVoiding(false)}>
        <p>The client's link stops working and no more reminders go out. This cannot be undone.</p>
        {actionError && <p className="error-box" role="alert">{actionError}</p>}
        <div className="actions">
          <button onClick={() => setVoiding(false)}>Cancel</button>
          <button className="danger" onClick={async () => { if (await action("void")) setVoiding(false); }} data-testid="confirm-void">Void invoice</button>
        </div>
      </Dialog>
    </article>
  );
}

function PaymentForm({ invoice, onSubmit, onCancel }: { invoice: Invoice; onSubmit(body: Schemas["RecordPayment"]): void; onCancel(): void }) {
  const money = useMoney();
  const [amount, setAmount] = useState(money.toDecimal(invoice.amountDue, invoice.currency));
  const [method, setMethod] = useState<PaymentMethod>("bank_transfer");
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
        <select value={method} onChange={(e) => setMethod(oneOf(paymentMethodValues, e.target.value) ?? method)}>
          {paymentMethodValues.map((m) => <option key={m} value={m}>{m.replace("_", " ")}</option>)}
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
    unwrap(client.GET("/api/invoices/{id}/pdf", { params: { path: { id } }, parseAs: "blob" })).then((blob) => {
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
