// The invoice table: search, status chips, filters, sorting, pagination; updated live.
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { client, unwrap, type Schemas } from "../api/client";
import { invoiceStatusValues } from "../api/schema";
import { useMoney } from "../appConfig";
import { can, useAuth } from "../auth/AuthContext";
import { Empty, ErrorBox, Loading, StatusBadge } from "../components/ui";
import { isDeletion, useLiveEvents, type LiveMessage } from "../live/live";
import { formatDate } from "../money";
import { debounce, useAsync } from "../useAsync";

type Invoice = Schemas["Page_InvoiceView"]["items"][number];
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
  const set = useCallback((k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    setParams(next, { replace: true });
  }, [params, setParams]);
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
  // Deleted drafts leave at once, before the reload that follows confirms it.
  const [deleted, setDeleted] = useState<ReadonlySet<string>>(new Set());
  const money = useMoney();
  /** One page of the list, the first or the one after `after`. */
  const load = (after?: string) => {
    const { minAmount, maxAmount, ...rest } = filters;
    const amounts = { minAmount: minAmount ? Number(minAmount) : undefined, maxAmount: maxAmount ? Number(maxAmount) : undefined };
    return unwrap(client.GET("/api/invoices", { params: { query: { ...rest, ...amounts, customerId, limit: 25, cursor: after } } }));
  };
  const first = useAsync(async () => {
    const page = await load();
    setPages([]);
    setCursor(page.nextCursor ?? null);
    return page;
  }, [filters, customerId]);
  const { reload } = first;
  const reloadQuietly = useMemo(() => debounce(() => reload(true), 400), [reload]);
  useLiveEvents(useCallback((message: LiveMessage) => {
    if (isDeletion(message)) setDeleted((d) => new Set(d).add(message.invoiceId));
    reloadQuietly();
  }, [reloadQuietly]));

  async function more() {
    if (!cursor) return;
    const page = await load(cursor);
    setPages((p) => [...p, page.items]);
    setCursor(page.nextCursor ?? null);
  }

  // The search box types freely; the URL, and with it the list, follows after a pause. When the
  // URL changes from elsewhere (a link, Back), the box shows what it says.
  const [search, setSearch] = useState(filters.q);
  const [shownQ, setShownQ] = useState(filters.q);
  if (filters.q !== shownQ) {
    setShownQ(filters.q);
    setSearch(filters.q);
  }
  useEffect(() => {
    if (search === filters.q) return;
    const timer = window.setTimeout(() => set("q", search), 300);
    return () => window.clearTimeout(timer);
  }, [search, filters.q, set]);
  const rows = [...(first.data?.items ?? []), ...pages.flat()].filter((inv) => !deleted.has(inv.id));
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
        <input type="search" aria-label="Search invoices" placeholder="Search number, client, lines…" value={search}
          onChange={(e) => setSearch(e.target.value)} />
        <div className="chips" role="group" aria-label="Status">
          {invoiceStatusValues.map((s) => (
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
                  <td data-label="Total" className="num">{money.format(inv.total, inv.currency)}</td>
                  <td data-label="Created">{formatDate(inv.createdAt)}</td>
                  <td data-label="Due now" className="num">{money.format(inv.amountDue, inv.currency)}</td>
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

