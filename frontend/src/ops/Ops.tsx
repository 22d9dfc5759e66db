// Ops: invoices needing attention and failed runs, with the reason; retry one or all. Below,
// payments the provider confirmed that no invoice took (each needs a person).
import { useState } from "react";
import { Link } from "react-router-dom";
import { ApiError, client, unwrap, type Schemas } from "../api/client";
import { useMoney } from "../appConfig";
import { Empty, ErrorBox, Loading } from "../components/ui";
import { formatDateTime } from "../money";
import { useAsync } from "../useAsync";

export function Ops() {
  const runs = useAsync(() => unwrap(client.GET("/api/ops/workflows")), []);
  const [message, setMessage] = useState<string>();
  async function retry(body: Schemas["RetryRequest"]) {
    setMessage(undefined);
    try {
      const outcome = await unwrap(client.POST("/api/ops/retry", { body }));
      setMessage(`Retried ${outcome.retried}; skipped ${outcome.skipped.length}.`);
      runs.reload(true);
    } catch (err) {
      setMessage(err instanceof ApiError ? err.message : String(err));
    }
  }
  return (
    <section>
      <div className="page-head">
        <h1>Ops</h1>
        <button onClick={() => retry({ filter: {} })} disabled={!runs.data?.items.length}>Retry all</button>
      </div>
      {message && <p className="notice" role="status">{message}</p>}
      {runs.error ? <ErrorBox error={runs.error} onRetry={() => runs.reload()} /> : !runs.data ? <Loading /> : (
        <>
          {!runs.data.runsChecked && <p className="error-box">Temporal could not be asked for failed runs; only invoices needing attention are listed.</p>}
          {runs.data.items.length === 0 ? <Empty>Nothing needs attention. Every invoice's run is healthy.</Empty> : (
            <div className="table-wrap">
              <table data-testid="ops-table">
                <thead><tr><th>Invoice</th><th>Client</th><th>Problem</th><th>Reason</th><th>Since</th><th /></tr></thead>
                <tbody>
                  {runs.data.items.map((r) => (
                    <tr key={r.invoiceId}>
                      <td><Link to={`/invoices/${r.invoiceId}`}>{r.number ?? r.invoiceId.slice(0, 8)}</Link></td>
                      <td>{r.clientName}</td><td>{r.problem.replace("_", " ")}</td><td>{r.reason ?? "—"}</td><td>{formatDateTime(r.since)}</td>
                      <td><button onClick={() => retry({ invoiceId: r.invoiceId })}>Retry</button></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
      <UnappliedPayments />
    </section>
  );
}

function UnappliedPayments() {
  const unapplied = useAsync(() => unwrap(client.GET("/api/ops/unapplied-payments")), []);
  const money = useMoney();
  return (
    <>
      <h2>Unapplied payments</h2>
      {unapplied.error ? <ErrorBox error={unapplied.error} onRetry={() => unapplied.reload()} /> : !unapplied.data ? <Loading /> : (
        unapplied.data.length === 0 ? <Empty>Every confirmed payment reached its invoice.</Empty> : (
          <div className="table-wrap">
            <table data-testid="unapplied-table">
              <thead><tr><th>Received</th><th>Invoice</th><th>Amount</th><th>Payment</th><th>Why not applied</th></tr></thead>
              <tbody>
                {unapplied.data.map((p) => (
                  <tr key={p.eventId}>
                    <td>{formatDateTime(p.receivedAt)}</td>
                    <td>{p.invoiceId ? <Link to={`/invoices/${p.invoiceId}`}>{p.invoiceNumber ?? p.invoiceId.slice(0, 8)}</Link> : "—"}</td>
                    <td className="num">{money.format(p.amount, p.currency)}</td>
                    <td>{p.provider} {p.reference ?? p.eventId}</td>
                    <td>{p.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      )}
    </>
  );
}
