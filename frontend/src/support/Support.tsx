// Platform support (staff granted by `invoice-api support grant`, never by a button here): find
// any organisation's invoice by number, read it, its timeline and its run, and open a codec
// session so the Temporal UI shows the run's sealed payloads decrypted. Read-only; the API
// records every access.
import { useState, type FormEvent } from "react";
import { ApiError, client, unwrap, type Schemas } from "../api/client";
import { useMoney } from "../appConfig";
import { Empty, ErrorBox, Loading, StatusBadge } from "../components/ui";
import { formatDateTime } from "../money";
import { useAsync } from "../useAsync";

/** Whether the signed-in user is support staff (the navigation shows the page then). */
export function useSupport() {
  return useAsync(async () => {
    const answer = await client.GET("/api/support/me");
    return answer.response.ok ? answer.data ?? null : null;
  }, []);
}

export function Support() {
  const me = useSupport();
  const [number, setNumber] = useState("");
  const [query, setQuery] = useState<string>();
  const [selected, setSelected] = useState<string>();
  const found = useAsync(
    () => (query ? unwrap(client.GET("/api/support/invoices", { params: { query: { number: query } } })) : Promise.resolve([])),
    [query],
  );
  if (me.loading && !me.data) return <Loading />;
  if (!me.data) return <Empty>Only platform support staff can use this page.</Empty>;
  function search(e: FormEvent) {
    e.preventDefault();
    setSelected(undefined);
    setQuery(number.trim() || undefined);
  }
  return (
    <section>
      <div className="page-head">
        <h1>Support</h1>
        <CodecSession />
      </div>
      <p className="muted">Read-only, across organisations. Every read is recorded with your name ({me.data.email}).</p>
      <form onSubmit={search} className="inline-form">
        <label>
          Invoice number <input value={number} onChange={(e) => setNumber(e.target.value)} placeholder="INV-2026-00042" data-testid="support-number" />
        </label>
        <button type="submit">Find</button>
      </form>
      {found.error ? <ErrorBox error={found.error} /> : query && found.data && (
        found.data.length === 0 ? <Empty>No invoice has the number {query}.</Empty> : (
          <ul className="support-matches" data-testid="support-matches">
            {found.data.map((m) => (
              <li key={m.id}>
                <button className="link" onClick={() => setSelected(m.id)}>{m.number ?? m.id.slice(0, 8)}</button>{" "}
                {m.orgName} · <StatusBadge status={m.status} /> · {formatDateTime(m.createdAt)}
              </li>
            ))}
          </ul>
        )
      )}
      {selected && <SupportInvoiceView id={selected} />}
    </section>
  );
}

function SupportInvoiceView({ id }: { id: string }) {
  const money = useMoney();
  const view = useAsync(() => unwrap(client.GET("/api/support/invoices/{id}", { params: { path: { id } } })), [id]);
  const timeline = useAsync(() => unwrap(client.GET("/api/support/invoices/{id}/timeline", { params: { path: { id } } })), [id]);
  if (view.error) return <ErrorBox error={view.error} />;
  if (!view.data) return <Loading />;
  const { invoice, run, orgName }: Schemas["SupportInvoice"] = view.data;
  return (
    <article className="card" data-testid="support-invoice">
      <h2>{invoice.number ?? "Draft"} · {orgName}</h2>
      <dl className="facts">
        <dt>Status</dt><dd><StatusBadge status={invoice.status} />{invoice.attentionReason ? ` — ${invoice.attentionReason}` : ""}</dd>
        <dt>Client</dt><dd>{invoice.clientName}</dd>
        <dt>Total</dt><dd>{money.format(invoice.total, invoice.currency)} · due {money.format(invoice.amountDue, invoice.currency)} by {invoice.dueDate}</dd>
        <dt>Run</dt>
        <dd>
          <code>{run.workflowId}</code>
          {run.failure && <> · <strong>{run.failure}</strong></>}
          {run.temporalUiUrl && <> · <a href={run.temporalUiUrl} target="_blank" rel="noreferrer" data-testid="support-run-link">Open in the Temporal UI</a></>}
        </dd>
      </dl>
      <h3>Timeline</h3>
      {timeline.error ? <ErrorBox error={timeline.error} /> : !timeline.data ? <Loading /> : (
        <ol className="timeline">
          {timeline.data.map((e) => (
            <li key={e.id}><time>{formatDateTime(e.at)}</time> <strong>{e.kind.replace(/_/g, " ")}</strong> <span className="muted">by {e.actor}</span></li>
          ))}
        </ol>
      )}
    </article>
  );
}

/** Opens the codec session the Temporal UI sends as a cookie to decode sealed payloads. */
function CodecSession() {
  const [session, setSession] = useState<Schemas["CodecSession"]>();
  const [error, setError] = useState<string>();
  async function open() {
    setError(undefined);
    try {
      setSession(await unwrap(client.POST("/api/support/codec-session", {})));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }
  return (
    <div className="codec-session">
      <button onClick={open} data-testid="codec-session">Decode runs in the Temporal UI</button>
      {error && <p className="error-box">{error}</p>}
      {session && (
        <p className="notice" role="status" data-testid="codec-session-status">
          Decoding on until {formatDateTime(session.expiresAt)}. In the Temporal UI, set the codec server to{" "}
          <code>{session.codecEndpoint}</code> and tick “Include cross-origin credentials”.
        </p>
      )}
    </div>
  );
}
