// The invoice list: the statuses the API has, and a draft deleted elsewhere leaving the open list
// at once, before the reload that follows.
import { act, cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { Link, Route } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { invoiceStatusValues } from "../api/schema";
import { json, stubApi } from "../testing/fakes";
import { goLive, renderSignedIn, signOut } from "../testing/renderApp";
import { InvoiceList } from "./InvoiceList";

const row = (id: string, clientName: string, status: string, total: number) => ({
  id, clientName, status, total, amountDue: total, amountPaid: 0, currency: "HUF", customerId: `cus-${id}`, dueDate: "2026-12-31",
  taxRate: "0", discountRate: "0", subtotal: total, discountTotal: 0, taxTotal: 0, hasPdf: false,
  createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z", workflowId: `invoice:org-1:${id}`,
});
const draft = row("inv-1", "Initech", "draft", 50_000);
const sent = { ...row("inv-2", "Globex", "sent", 123_456), number: "INV-0001" };

afterEach(() => {
  cleanup();
  signOut();
  vi.unstubAllGlobals();
});

describe("InvoiceList", () => {
  it("offers every status the API has, and shows amounts in the server's decimals", async () => {
    stubApi((route) => (route === "GET /api/invoices" ? json(200, { items: [sent] }) : undefined));
    renderSignedIn("/invoices", <Route path="/invoices" element={<InvoiceList />} />);
    await screen.findByText("Globex");
    const chips = screen.getByRole("group", { name: "Status" }).querySelectorAll("button");
    expect([...chips].map((c) => c.textContent)).toEqual(invoiceStatusValues.map((s) => s.replace("_", " ")));
    expect(screen.getAllByRole("cell", { name: "HUF\u00a01,234.56" })).toHaveLength(2);
  });

  it("drops a draft deleted elsewhere at once", async () => {
    let deleted = false;
    const requests = stubApi((route) => (route === "GET /api/invoices" ? json(200, { items: deleted ? [sent] : [draft, sent] }) : undefined));
    const lists = () => requests.filter((r) => new URL(r.url).pathname === "/api/invoices").length;
    renderSignedIn("/invoices", <Route path="/invoices" element={<InvoiceList />} />);
    await screen.findByText("Initech");
    const socket = await goLive();
    const loaded = lists();

    deleted = true;
    act(() => socket.receive({ type: "invoice_changed", invoiceId: "inv-1", status: null, what: "delete", at: "2026-01-02T00:00:00Z" }));
    expect(screen.queryByText("Initech")).toBeNull();
    expect(screen.getByText("Globex")).toBeTruthy();
    expect(lists()).toBe(loaded);

    // The quiet reload that follows agrees.
    await waitFor(() => expect(lists()).toBe(loaded + 1));
    expect(screen.queryByText("Initech")).toBeNull();
    expect(screen.getAllByTestId("invoice-row")).toHaveLength(1);
  });

  it("clears the search box when a link leaves the search", async () => {
    const requests = stubApi((route) => (route === "GET /api/invoices" ? json(200, { items: [sent] }) : undefined));
    const page = <><Link to="/invoices">All invoices</Link><InvoiceList /></>;
    renderSignedIn("/invoices?q=glob", <Route path="/invoices" element={page} />);
    const box = await screen.findByRole<HTMLInputElement>("searchbox", { name: "Search invoices" });
    expect(box.value).toBe("glob");

    fireEvent.click(screen.getByText("All invoices"));
    await waitFor(() => expect(box.value).toBe(""));
    // Well past the box's pause: it does not write the old search back.
    await new Promise((r) => setTimeout(r, 400));
    expect(box.value).toBe("");
    const last = requests.filter((r) => new URL(r.url).pathname === "/api/invoices").at(-1);
    expect(new URL(last!.url).searchParams.get("q")).toBeNull();
  });
});
