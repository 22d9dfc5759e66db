// One invoice: amounts in the server's decimals, the next action from the typed read model, and
// a draft deleted while it is open saying so (with the way back) instead of failing.
import { act, cleanup, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { json, stubApi } from "../testing/fakes";
import { goLive, renderSignedIn, signOut } from "../testing/renderApp";
import { InvoiceDetail } from "./InvoiceDetail";

const invoice = {
  id: "inv-1", customerId: "cus-1", clientName: "Initech", currency: "HUF", status: "draft", dueDate: "2026-12-31",
  taxRate: "0", discountRate: "0", lines: [{ description: "Audit", quantity: "1", unitPrice: 123_456, amount: 123_456 }],
  subtotal: 123_456, discountTotal: 0, taxTotal: 0, total: 123_456, amountDue: 123_456, amountPaid: 0, hasPdf: false,
  nextAction: { kind: "mark_overdue", at: "2026-12-31T09:00:00Z" },
  createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z", workflowId: "invoice:org-1:inv-1",
};

function stubInvoice() {
  return stubApi((route) => {
    if (route === "GET /api/invoices/inv-1") return json(200, invoice);
    if (route === "GET /api/invoices/inv-1/timeline") return json(200, []);
    return undefined;
  });
}

function renderDetail() {
  return renderSignedIn("/invoices/inv-1", (
    <>
      <Route path="/invoices/:id" element={<InvoiceDetail />} />
      <Route path="/invoices" element={<p>the invoice list</p>} />
    </>
  ));
}

afterEach(() => {
  cleanup();
  signOut();
  vi.unstubAllGlobals();
});

describe("InvoiceDetail", () => {
  it("shows amounts in the server's decimals and the next scheduled action", async () => {
    stubInvoice();
    renderDetail();
    expect((await screen.findByTestId("amount-due")).textContent).toBe("HUF\u00a01,234.56");
    expect(screen.getByTestId("next-action").textContent).toMatch(/^mark overdue · /);
  });

  it("says a draft deleted while open is gone, and leads back to the list", async () => {
    const requests = stubInvoice();
    const reads = () => requests.filter((r) => new URL(r.url).pathname === "/api/invoices/inv-1").length;
    renderDetail();
    await screen.findByTestId("amount-due");
    const socket = await goLive();
    const loaded = reads();

    act(() => socket.receive({ type: "invoice_changed", invoiceId: "inv-2", status: null, what: "delete", at: null }));
    expect(screen.queryByTestId("invoice-deleted")).toBeNull();

    act(() => socket.receive({ type: "invoice_changed", invoiceId: "inv-1", status: null, what: "delete", at: null }));
    expect(screen.getByTestId("invoice-deleted").textContent).toContain("This draft was deleted.");
    expect(screen.queryByRole("alert")).toBeNull();
    expect(reads()).toBe(loaded);

    await userEvent.setup().click(screen.getByRole("link", { name: "Back to invoices" }));
    expect(await screen.findByText("the invoice list")).toBeTruthy();
  });
});
