// Create an invoice (or edit a draft): customer or new client, lines, tax, discount, currency,
// dates, notes; live totals computed as the server does; server field errors on their fields.
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { ApiError, asApiError, client, unwrap, type Schemas } from "../api/client";
import { useMoney } from "../appConfig";
import { ErrorBox, Field, Loading } from "../components/ui";
import { computeTotals, type LineDraft } from "./totals";

type Customer = Schemas["Customer"];
interface Line extends LineDraft {
  description: string;
}

const inDays = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);

export function InvoiceForm() {
  const { id } = useParams();
  const navigate = useNavigate();
  const money = useMoney();
  const [customers, setCustomers] = useState<Customer[]>([]);
  const [loading, setLoading] = useState(Boolean(id));
  const [loadError, setLoadError] = useState<Error>();
  const [customerId, setCustomerId] = useState("");
  const [clientName, setClientName] = useState("");
  const [clientEmail, setClientEmail] = useState("");
  const [currency, setCurrency] = useState("EUR");
  const [issueDate, setIssueDate] = useState("");
  const [dueDate, setDueDate] = useState(inDays(30));
  const [taxRate, setTaxRate] = useState("0");
  const [discount, setDiscount] = useState("0");
  const [notes, setNotes] = useState("");
  const [lines, setLines] = useState<Line[]>([{ description: "", quantity: "1", unitPrice: "" }]);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  // One key per form: a retried submit never creates a second invoice.
  const idempotencyKey = useRef(crypto.randomUUID());

  useEffect(() => {
    unwrap(client.GET("/api/customers", { params: { query: { limit: 100 } } })).then((p) => setCustomers(p.items), () => {});
    if (!id) return;
    unwrap(client.GET("/api/invoices/{id}", { params: { path: { id } } })).then(
      (inv) => {
        setCustomerId(inv.customerId);
        setCurrency(inv.currency);
        setIssueDate(inv.issueDate ?? "");
        setDueDate(inv.dueDate);
        setTaxRate(inv.taxRate);
        setDiscount(inv.discountRate);
        setNotes(inv.notes ?? "");
        setLines((inv.lines ?? []).map((l) => ({ description: l.description, quantity: l.quantity, unitPrice: money.toDecimal(l.unitPrice, inv.currency) })));
        setLoading(false);
      },
      (err: Error) => {
        setLoadError(err);
        setLoading(false);
      },
    );
  }, [id, money]);

  const exp = money.exponent(currency);
  const totals = useMemo(() => (exp === undefined ? null : computeTotals(lines, discount, taxRate, exp)), [lines, discount, taxRate, exp]);
  const fields = error?.fields ?? {};
  const setLine = (i: number, patch: Partial<Line>) => setLines((ls) => ls.map((l, j) => (j === i ? { ...l, ...patch } : l)));

  async function submit(draft: boolean, e?: FormEvent) {
    e?.preventDefault();
    setBusy(true);
    setError(null);
    const body = {
      ...(customerId ? { customerId } : { clientName, clientEmail: clientEmail || undefined }),
      currency,
      dueDate,
      issueDate: issueDate || undefined,
      taxRate,
      discount,
      notes: notes || undefined,
      items: lines.map((l) => ({ description: l.description, quantity: l.quantity, unitPrice: l.unitPrice })),
    };
    try {
      const saved = id
        ? await unwrap(client.PATCH("/api/invoices/{id}", { params: { path: { id } }, body }))
        : await unwrap(client.POST("/api/invoices", { params: { header: { "Idempotency-Key": idempotencyKey.current } }, body: { ...body, draft } }));
      navigate(`/invoices/${saved.id}`);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  }

  if (loading) return <Loading />;
  if (loadError) return <ErrorBox error={loadError} />;
  const unplaced = error && Object.keys(fields).length === 0;
  return (
    <form className="invoice-form" onSubmit={(e) => submit(false, e)} noValidate data-testid="invoice-form">
      <h1>{id ? "Edit draft" : "New invoice"}</h1>
      {unplaced && <p className="error-box" role="alert">{error.message}</p>}
      {error && !unplaced && <p className="error-box" role="alert">Please correct the highlighted fields.</p>}
      <fieldset>
        <legend>Client</legend>
        <Field label="Customer" error={fields.customerId}>
          <select name="customerId" value={customerId} onChange={(e) => setCustomerId(e.target.value)}>
            <option value="">New client…</option>
            {customers.map((c) => (
              <option key={c.id} value={c.id}>{c.name}{c.email ? ` <${c.email}>` : ""}</option>
            ))}
          </select>
        </Field>
        {!customerId && (
          <>
            <Field label="Client name" error={fields.clientName}>
              <input name="clientName" value={clientName} onChange={(e) => setClientName(e.target.value)} />
            </Field>
            <Field label="Client email" error={fields.clientEmail}>
              <input name="clientEmail" type="email" value={clientEmail} onChange={(e) => setClientEmail(e.target.value)} />
            </Field>
          </>
        )}
      </fieldset>
      <fieldset className="row">
        <legend>Terms</legend>
        <Field label="Currency" error={fields.currency}>
          <select name="currency" value={currency} onChange={(e) => setCurrency(e.target.value)}>
            {money.codes.map((c) => <option key={c}>{c}</option>)}
          </select>
        </Field>
        <Field label="Issue date (optional)" error={fields.issueDate}>
          <input name="issueDate" type="date" value={issueDate} onChange={(e) => setIssueDate(e.target.value)} />
        </Field>
        <Field label="Due date" error={fields.dueDate}>
          <input name="dueDate" type="date" value={dueDate} onChange={(e) => setDueDate(e.target.value)} />
        </Field>
        <Field label="Tax %" error={fields.taxRate}>
          <input name="taxRate" inputMode="decimal" value={taxRate} onChange={(e) => setTaxRate(e.target.value)} />
        </Field>
        <Field label="Discount %" error={fields.discount}>
          <input name="discount" inputMode="decimal" value={discount} onChange={(e) => setDiscount(e.target.value)} />
        </Field>
      </fieldset>
      <fieldset>
        <legend>Lines</legend>
        {fields.items && <p className="field-error" role="alert">{fields.items}</p>}
        {lines.map((line, i) => (
          <div className="line" key={i} data-testid="line">
            <Field label="Description" error={fields[`items[${i}].description`]}>
              <input name={`items[${i}].description`} value={line.description} onChange={(e) => setLine(i, { description: e.target.value })} />
            </Field>
            <Field label="Quantity" error={fields[`items[${i}].quantity`]}>
              <input name={`items[${i}].quantity`} inputMode="decimal" value={line.quantity} onChange={(e) => setLine(i, { quantity: e.target.value })} />
            </Field>
            <Field label="Unit price" error={fields[`items[${i}].unitPrice`]}>
              <input name={`items[${i}].unitPrice`} inputMode="decimal" value={line.unitPrice} onChange={(e) => setLine(i, { unitPrice: e.target.value })} />
            </Field>
            <span className="num line-amount" data-testid="line-amount">
              {totals ? money.format(totals.lines[i].amount, currency) : "—"}
            </span>
            <button type="button" className="link" aria-label={`Remove line ${i + 1}`} disabled={lines.length === 1}
              onClick={() => setLines((ls) => ls.filter((_, j) => j !== i))}>
              Remove
            </button>
          </div>
        ))}
        <button type="button" onClick={() => setLines((ls) => [...ls, { description: "", quantity: "1", unitPrice: "" }])}>
          Add line
        </button>
      </fieldset>
      <Field label="Notes" error={fields.notes}>
        <textarea name="notes" value={notes} onChange={(e) => setNotes(e.target.value)} />
      </Field>
      <dl className="totals" data-testid="totals">
        <dt>Subtotal</dt><dd data-testid="subtotal">{totals ? money.format(totals.subtotal, currency) : "—"}</dd>
        <dt>Discount</dt><dd data-testid="discount">{totals ? money.format(-totals.discount, currency) : "—"}</dd>
        <dt>Tax</dt><dd data-testid="tax">{totals ? money.format(totals.tax, currency) : "—"}</dd>
        <dt>Total</dt><dd data-testid="total"><strong>{totals ? money.format(totals.total, currency) : "—"}</strong></dd>
      </dl>
      <div className="actions">
        {id ? (
          <button type="submit" className="primary" disabled={busy}>Save draft</button>
        ) : (
          <>
            <button type="button" disabled={busy} onClick={() => submit(true)}>Save as draft</button>
            <button type="submit" className="primary" disabled={busy} data-testid="create-and-send">Create and send</button>
          </>
        )}
      </div>
    </form>
  );
}
