// The analytics dashboard on the organisation's real invoices, one currency at a time: KPI
// cards, daily collected revenue with its 7-day average and anomalies, revenue by channel,
// hosted-page views by device, the payment funnel and weekly collection cohorts. Every filter
// refetches once and redraws every chart; live invoice changes refresh it.
import { useCallback, useMemo, useState } from "react";
import { client, unwrap, type Schemas } from "../api/client";
import { oneOf } from "../api/json";
import { deviceValues, paymentMethodValues } from "../api/schema";
import { useMoney } from "../appConfig";
import { ErrorBox, Loading } from "../components/ui";
import { useLiveEvents } from "../live/live";
import { debounce, useAsync } from "../useAsync";
import { Chart } from "./Chart";
import { funnel, heatmapCells, revenueSeries } from "./transforms";

type Dashboard = Schemas["Dashboard"];
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
const pct = (v: number | null | undefined) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);

export function Analytics() {
  const [filters, setFilters] = useState({ from: daysAgo(89), to: daysAgo(0), currency: "", channel: "", device: "" });
  // An empty select is no filter; anything else is one of the generated values.
  const query = {
    ...filters,
    channel: oneOf(paymentMethodValues, filters.channel),
    device: oneOf(deviceValues, filters.device),
  };
  const data = useAsync(() => unwrap(client.GET("/api/analytics/dashboard", { params: { query } })), [filters]);
  const { reload } = data;
  const refresh = useMemo(() => debounce(() => reload(true), 800), [reload]);
  useLiveEvents(useCallback(() => refresh(), [refresh]));
  const set = (k: keyof typeof filters) => (e: { target: { value: string } }) => setFilters({ ...filters, [k]: e.target.value });
  const d = data.data;

  return (
    <section className="analytics">
      <div className="page-head"><h1>Analytics</h1></div>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Dashboard filters">
        <label>From <input type="date" value={filters.from} onChange={set("from")} /></label>
        <label>To <input type="date" value={filters.to} onChange={set("to")} /></label>
        <label>Currency
          <select value={filters.currency || d?.currency || ""} onChange={set("currency")}>
            {(d?.currencies.length ? d.currencies : [d?.currency ?? "EUR"]).map((c) => <option key={c}>{c}</option>)}
          </select>
        </label>
        <label>Channel
          <select value={filters.channel} onChange={set("channel")}>
            <option value="">All channels</option>
            {paymentMethodValues.map((c) => <option key={c} value={c}>{c.replace("_", " ")}</option>)}
          </select>
        </label>
        <label>Device
          <select value={filters.device} onChange={set("device")}>
            <option value="">All devices</option>
            {deviceValues.map((c) => <option key={c}>{c}</option>)}
          </select>
        </label>
      </form>
      {data.error ? <ErrorBox error={data.error} onRetry={() => data.reload()} /> : !d ? <Loading /> : <Charts d={d} stale={data.loading} />}
    </section>
  );
}

function Charts({ d, stale }: { d: Dashboard; stale: boolean }) {
  const currencies = useMoney();
  const money = (v: number) => currencies.format(v, d.currency);
  // Charts draw major units; a code without a known exponent stays in minor units, as `money` shows it.
  const major = 10 ** (currencies.exponent(d.currency) ?? 0);
  const revenue = useMemo(() => revenueSeries(d.daily, major), [d.daily, major]);
  const steps = useMemo(() => funnel(d.funnel), [d.funnel]);
  const cells = useMemo(() => heatmapCells(d.cohorts), [d.cohorts]);
  const k = d.kpis;
  return (
    <div className={stale ? "dashboard stale" : "dashboard"} aria-busy={stale}>
      <div className="kpis">
        <div className="kpi" data-testid="kpi-collected"><span>Collected revenue</span><strong>{money(k.collected)}</strong></div>
        <div className="kpi" data-testid="kpi-outstanding"><span>Outstanding</span><strong>{money(k.outstanding)}</strong></div>
        <div className="kpi" data-testid="kpi-collection-rate"><span>Collection rate</span><strong>{pct(k.collectionRate)}</strong><small>{k.paidCount} of {k.invoiceCount} invoices paid</small></div>
        <div className="kpi" data-testid="kpi-days-to-pay"><span>Average days to pay</span><strong>{k.averageDaysToPay ?? "—"}</strong></div>
      </div>
      <div className="charts">
        <div className="card wide">
          <h2>Daily collected revenue</h2>
          <Chart label="Daily collected revenue with a 7-day moving average" testId="chart-revenue" option={{
            tooltip: { trigger: "axis" },
            legend: { data: ["Collected", "7-day average", "Anomaly"] },
            grid: { left: 60, right: 20, top: 40, bottom: 30 },
            xAxis: { type: "category", data: revenue.dates },
            yAxis: { type: "value" },
            series: [
              { name: "Collected", type: "bar", data: revenue.values, itemStyle: { color: "#9db4d8" } },
              { name: "7-day average", type: "line", data: revenue.average, smooth: true, showSymbol: false, lineStyle: { width: 2 } },
              { name: "Anomaly", type: "scatter", symbolSize: 12, itemStyle: { color: "#d9534f" }, data: revenue.anomalies.map((a) => [a.date, a.value]) },
            ],
          }} />
        </div>
        <div className="card">
          <h2>Revenue by channel</h2>
          <Chart label="Revenue by payment channel" testId="chart-channels" option={{
            tooltip: {},
            grid: { left: 100, right: 20, top: 10, bottom: 30 },
            xAxis: { type: "value" },
            yAxis: { type: "category", data: d.channels.map((c) => c.channel.replace("_", " ")) },
            series: [{ type: "bar", data: d.channels.map((c) => c.amount / major) }],
          }} />
        </div>
        <div className="card">
          <h2>Invoice page views by device</h2>
          <Chart label="Hosted page views by device" testId="chart-devices" option={{
            tooltip: { trigger: "item" },
            legend: { bottom: 0 },
            series: [{ type: "pie", radius: ["45%", "70%"], data: d.devices.map((v) => ({ name: v.device, value: v.views })) }],
          }} />
        </div>
        <div className="card">
          <h2>Funnel</h2>
          <Chart label="Funnel from created to paid" testId="chart-funnel" option={{
            tooltip: { trigger: "item" },
            series: [{ type: "funnel", sort: "none", left: 10, right: 10, label: { position: "inside", formatter: "{b}: {c}" },
              data: steps.map((s) => ({ name: s.stage.replace("_", " "), value: s.count })) }],
          }} />
          <ol className="funnel-list">
            {steps.map((s) => <li key={s.stage}>{s.stage.replace("_", " ")}: {s.count} ({pct(s.ofFirst)} of created, {pct(s.ofPrevious)} of previous)</li>)}
          </ol>
        </div>
        <div className="card wide">
          <h2>Share of value collected, by issue week</h2>
          <Chart label="Weekly cohorts: share of invoiced value collected by week" testId="chart-cohorts" option={{
            tooltip: { formatter: (p: { value: [number, number, number] }) => `${d.cohorts[p.value[1]].week}, week ${p.value[0]}: ${p.value[2]}%` },
            grid: { left: 90, right: 20, top: 10, bottom: 60 },
            xAxis: { type: "category", data: Array.from({ length: 8 }, (_, i) => `week ${i}`) },
            yAxis: { type: "category", data: d.cohorts.map((c) => c.week) },
            visualMap: { min: 0, max: 100, calculable: true, orient: "horizontal", left: "center", bottom: 0 },
            series: [{ type: "heatmap", data: cells, label: { show: true, formatter: (p: { value: number[] }) => `${p.value[2]}%` } }],
          }} />
        </div>
      </div>
    </div>
  );
}
