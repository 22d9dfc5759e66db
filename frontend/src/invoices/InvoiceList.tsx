// The invoice table: search, status chips, filters, sorting, pagination; updated live.
import { useCallback, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, query, type Schemas } from "../api/client";
import { can, useAuth } from "../auth/AuthContext";
import { Empty, ErrorBox, Loading, StatusBadge } from "../components/ui";
import { useLiveEvents } from "../live/live";
import { formatDate, formatMoney } from "../money";
import { debounce, useAsync } from "../useAsync";

type Page = Schemas["Page_InvoiceView"];
type Invoice = Page["items"][number];

export const STATUSES = ["draft", "sent", "overdue", "partially_paid", "paid", "needs_attention", "void", "refunded"];
const COLUMNS: { key: string; label: string }[] = [
  { key: "number", label: "Number" },
  { key: "issueDate", label: "Issued" },
  { key: "dueDate", label: "Due" },
  { key: "total", label: "Total" },
  { key: "createdAt", label: "Created" },
];

export function InvoiceList({ customerId }: { customerId?: string }) {
  const { me } = useAuth();
  const [params, setParams] = useSearchParams();
  const get = (k: string) => params.get(k) ?? "";
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    setParams(next, { replace: true });
  };
  const filters = {
    q: get("q"),
    status: get("status"),
    from: get("from"),
    to: get("to"),
    minAmount: get("min"),
    maxAmount: get("max"),
    sort: get("sort") || "-createdAt",
  };
  const [pages, setPages] = useState<Invoice[][]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const key = JSON.stringify(filters) + customerId;
  const first = useAsync(async () => {
    const page = await api<Page>(`/api/invoices${query({ ...filters, customerId, limit: 25 })}`);
    setPages([]);
    setCursor(page.nextCursor ?? null);
    return page;
  }, [key]);
  const reloadQuietly = useMemo(() => debounce(() => first.reload(true), 400), [first.reload]);
  useLiveEvents(useCallback(() => reloadQuietly(), [reloadQuietly]));

  async function more() {
    if (!cursor) return;
    const page = await api<Page>(`/api/invoices${query({ ...filters, customerId, limit: 25, cursor })}`);
    setPages((p) => [...p, page.items]);
    setCursor(page.nextCursor ?? null);
  }

  const search = useRef(filters.q);
  const searchLater = useMemo(() => debounce(() => set("q", search.current), 300), [params]);
  const rows = [...(first.data?.items ?? []), ...pages.flat()];
  const toggleStatus = (s: string) => {
    const current = filters.status ? filters.status.split(",") : [];
    set("status", (current.includes(s) ? current.filter((x) => x !== s) : [...current, s]).join(","));
  };
  const sortBy = (col: string) => set("sort", filters.sort === col ? `-${col}` : col);
  const arrow = (col: string) => (filters.sort === col ? " ▲" : filters.sort === `-${col}` ? " ▼" : "");

  return (
    <section>
      {!customerId && (
        <div className="page-head">
          <h1>Invoices</h1>
          {can(me?.role, "accountant") && (
            <Link className="button primary" to="/invoices/new" data-testid="new-invoice">
              New invoice
            </Link>
          )}
        </div>
      )}
      <div className="filters">
        <input type="search" aria-label="Search invoices" placeholder="Search number, client, lines…" defaultValue={filters.q}
          onChange={(e) => { search.current = e.target.value; searchLater(); }} />
        <div className="chips" role="group" aria-label="Status">
          {STATUSES.map((s) => (
            <button key={s} className={filters.status.split(",").includes(s) ? "chip on" : "chip"} aria-pressed={filters.status.split(",").includes(s)} onClick={() => toggleStatus(s)}>
              {s.replace("_", " ")}
            </button>
          ))}
        </div>
        <label>Issued from <input type="date" value={filters.from} onChange={(e) => set("from", e.target.value)} /></label>
        <label>to <input type="date" value={filters.to} onChange={(e) => set("to", e.target.value)} /></label>
        <label>Total from <input type="number" min="0" inputMode="numeric" aria-label="Minimum total (minor units)" placeholder="min (cents)" value={filters.minAmount} onChange={(e) => set("min", e.target.value)} /></label>
        <label>to <input type="number" min="0" aria-label="Maximum total (minor units)" placeholder="max (cents)" value={filters.maxAmount} onChange={(e) => set("max", e.target.value)} /></label>
      </div>
      {first.error ? (
        <ErrorBox error={first.error} onRetry={() => first.reload()} />
      ) : first.loading && !first.data ? (
        <Loading />
      ) : rows.length === 0 ? (
        <Empty>No invoices match. {can(me?.role, "accountant") && !customerId && <Link to="/invoices/new">Create one</Link>}</Empty>
      ) : (
        <div className="table-wrap">
          <table className="invoices" data-testid="invoice-table">
            <thead>
              <tr>
                {COLUMNS.slice(0, 1).map((c) => (
                  <th key={c.key}><button className="link" onClick={() => sortBy(c.key)}>{c.label}{arrow(c.key)}</button></th>
                ))}
                <th>Client</th>
                <th>Status</th>
                {COLUMNS.slice(1).map((c) => (
                  <th key={c.key}><button className="link" onClick={() => sortBy(c.key)}>{c.label}{arrow(c.key)}</button></th>
                ))}
                <th>Due now</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((inv) => (
                <tr key={inv.id} data-testid="invoice-row">
                  <td data-label="Number"><Link to={`/invoices/${inv.id}`}>{inv.number ?? "Draft"}</Link></td>
                  <td data-label="Client">{inv.clientName}</td>
                  <td data-label="Status"><StatusBadge status={inv.status} /></td>
                  <td data-label="Issued">{formatDate(inv.issueDate)}</td>
                  <td data-label="Due">{formatDate(inv.dueDate)}</td>
                  <td data-label="Total" className="num">{formatMoney(inv.total, inv.currency)}</td>
                  <td data-label="Created">{formatDate(inv.createdAt)}</td>
                  <td data-label="Due now" className="num">{formatMoney(inv.amountDue, inv.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && <button onClick={more}>Load more</button>}
    </section>
  );
}

