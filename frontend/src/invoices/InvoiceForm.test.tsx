// The invoice form: live totals as the user types, in the exponent the server's currency table
// gives, and the server's field errors shown on the fields they name.
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AppConfigProvider } from "../appConfig";
import { json, stubApi } from "../testing/fakes";
import { InvoiceForm } from "./InvoiceForm";

const customers = (route: string) => (route === "GET /api/customers" ? json(200, { items: [] }) : undefined);

function renderForm(path = "/invoices/new") {
  return render(
    <AppConfigProvider>
      <MemoryRouter initialEntries={[path]} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <Routes>
          <Route path="/invoices/new" element={<InvoiceForm />} />
          <Route path="/invoices/:id/edit" element={<InvoiceForm />} />
          <Route path="/invoices/:id" element={<p>detail page</p>} />
        </Routes>
      </MemoryRouter>
    </AppConfigProvider>,
  );
}

const input = (name: string) => document.querySelector<HTMLInputElement>(`[name="${name}"]`)!;
/** The form, once the currency table (and with it the form) is there. */
const form = () => screen.findByTestId("invoice-form");

describe("InvoiceForm", () => {
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
  });

  it("computes totals live, per line and rounded half up, discount before tax", async () => {
    stubApi(customers);
    const user = userEvent.setup();
    renderForm();
    await form();
    await user.clear(input("items[0].quantity"));
    await user.type(input("items[0].quantity"), "1.5");
    await user.type(input("items[0].unitPrice"), "0.33");
    await user.click(screen.getByRole("button", { name: "Add line" }));
    await user.clear(input("items[1].quantity"));
    await user.type(input("items[1].quantity"), "1.5");
    await user.type(input("items[1].unitPrice"), "0.33");
    await user.clear(input("taxRate"));
    await user.type(input("taxRate"), "19");
    const totals = screen.getByTestId("totals");
    expect(within(totals).getByTestId("subtotal").textContent).toBe("€1.00");
    expect(within(totals).getByTestId("tax").textContent).toBe("€0.20");
    expect(within(totals).getByTestId("total").textContent).toBe("€1.20");
    expect(screen.getAllByTestId("line-amount").map((e) => e.textContent)).toEqual(["€0.50", "€0.50"]);

    await user.clear(input("discount"));
    await user.type(input("discount"), "10");
    // 1.00 - 0.10 discount (0.05 a line) + 19 % of 0.45 per line (0.0855 -> 0.09) twice.
    expect(screen.getByTestId("discount").textContent).toBe("-€0.10");
    expect(screen.getByTestId("total").textContent).toBe("€1.08");
  });

  it("shows a dash while an amount does not parse", async () => {
    stubApi(customers);
    const user = userEvent.setup();
    renderForm();
    await form();
    await user.type(input("items[0].unitPrice"), "12.345");
    expect(screen.getByTestId("total").textContent).toBe("—");
  });

  it("takes each currency's decimals from the server's table, not from Intl", async () => {
    stubApi(customers);
    const user = userEvent.setup();
    renderForm();
    await form();
    const currency = document.querySelector<HTMLSelectElement>('[name="currency"]')!;
    // The choice is the server's table.
    expect([...currency.options].map((o) => o.value)).toEqual(["COP", "EUR", "HUF", "IDR", "IQD", "JPY", "USD"]);

    // Intl says HUF has no minor unit; ISO 4217 and the server say 2. (Intl puts a no-break
    // space after a currency code.)
    await user.selectOptions(currency, "HUF");
    await user.type(input("items[0].unitPrice"), "1234.56");
    expect(screen.getByTestId("total").textContent).toBe("HUF\u00a01,234.56");

    // Intl says IQD has none either; it has 3.
    await user.selectOptions(currency, "IQD");
    await user.clear(input("items[0].unitPrice"));
    await user.type(input("items[0].unitPrice"), "12.345");
    expect(screen.getByTestId("total").textContent).toBe("IQD\u00a012.345");

    await user.selectOptions(currency, "JPY");
    expect(screen.getByTestId("total").textContent).toBe("—");
    await user.clear(input("items[0].unitPrice"));
    await user.type(input("items[0].unitPrice"), "1500");
    expect(screen.getByTestId("total").textContent).toBe("¥1,500");
  });

  it("puts a draft's amounts in its fields with the server's decimals", async () => {
    stubApi((route) => {
      if (route !== "GET /api/invoices/inv-1") return customers(route);
      return json(200, {
        id: "inv-1", customerId: "cus-1", clientName: "Initech", currency: "HUF", status: "draft", dueDate: "2026-12-31",
        taxRate: "0", discountRate: "0", lines: [{ description: "Audit", quantity: "1", unitPrice: 123456, amount: 123456 }],
        subtotal: 123456, discountTotal: 0, taxTotal: 0, total: 123456, amountDue: 123456, amountPaid: 0, hasPdf: false,
        createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z", workflowId: "invoice:org-1:inv-1",
      });
    });
    renderForm("/invoices/inv-1/edit");
    await form();
    expect(input("items[0].unitPrice").value).toBe("1234.56");
    expect(screen.getByTestId("total").textContent).toBe("HUF\u00a01,234.56");
  });

  it("puts each server field error on its field and sends one idempotency key", async () => {
    const requests = stubApi((route) => {
      if (route !== "POST /api/invoices") return customers(route);
      return json(422, {
        error: {
          code: "validation_failed",
          message: "The request has invalid fields.",
          details: { fields: [
            { field: "clientName", code: "required", message: "Must not be empty." },
            { field: "items[0].unitPrice", code: "invalid_amount", message: "Must be an amount like 100.00." },
          ] },
        },
      });
    });
    const user = userEvent.setup();
    renderForm();
    await form();
    await user.type(input("items[0].description"), "Audit");
    await user.type(input("items[0].unitPrice"), "100");
    await user.click(screen.getByTestId("create-and-send"));
    await waitFor(() => expect(screen.getByText("Must not be empty.")).toBeTruthy());
    expect(input("clientName").closest("label")!.textContent).toContain("Must not be empty.");
    expect(input("items[0].unitPrice").closest("label")!.textContent).toContain("Must be an amount like 100.00.");
    expect(input("items[0].description").closest("label")!.classList.contains("has-error")).toBe(false);

    await user.click(screen.getByTestId("create-and-send"));
    await waitFor(() => expect(requests.filter((r) => r.method === "POST")).toHaveLength(2));
    const posts = requests.filter((r) => r.method === "POST");
    const keys = posts.map((r) => r.headers.get("Idempotency-Key"));
    expect(keys[0]).toBeTruthy();
    expect(keys[0]).toBe(keys[1]);
    expect(await posts[0].json()).toMatchObject({ draft: false, currency: "EUR", items: [{ description: "Audit", quantity: "1", unitPrice: "100" }] });
  });
});
