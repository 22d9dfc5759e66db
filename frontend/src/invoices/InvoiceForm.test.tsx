// The invoice form: live totals as the user types, and the server's field errors shown on the
// fields they name.
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InvoiceForm } from "./InvoiceForm";

function respond(status: number, body: unknown) {
  return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }));
}

function renderForm() {
  return render(
    <MemoryRouter initialEntries={["/invoices/new"]} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <Routes>
        <Route path="/invoices/new" element={<InvoiceForm />} />
        <Route path="/invoices/:id" element={<p>detail page</p>} />
      </Routes>
    </MemoryRouter>,
  );
}

const input = (name: string) => document.querySelector<HTMLInputElement>(`[name="${name}"]`)!;

describe("InvoiceForm", () => {
  let fetchMock: ReturnType<typeof vi.fn>;
  beforeEach(() => {
    fetchMock = vi.fn((url: string) => (String(url).startsWith("/api/customers") ? respond(200, { items: [] }) : respond(500, {})));
    vi.stubGlobal("fetch", fetchMock);
  });
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
  });

  it("computes totals live, per line and rounded half up, discount before tax", async () => {
    const user = userEvent.setup();
    renderForm();
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
    const user = userEvent.setup();
    renderForm();
    await user.type(input("items[0].unitPrice"), "12.345");
    expect(screen.getByTestId("total").textContent).toBe("—");
  });

  it("puts each server field error on its field and sends one idempotency key", async () => {
    const user = userEvent.setup();
    fetchMock.mockImplementation((url: string, init?: RequestInit) => {
      if (String(url).startsWith("/api/customers")) return respond(200, { items: [] });
      expect(init?.method).toBe("POST");
      return respond(422, {
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
    renderForm();
    await user.type(input("items[0].description"), "Audit");
    await user.type(input("items[0].unitPrice"), "100");
    await user.click(screen.getByTestId("create-and-send"));
    await waitFor(() => expect(screen.getByText("Must not be empty.")).toBeTruthy());
    expect(input("clientName").closest("label")!.textContent).toContain("Must not be empty.");
    expect(input("items[0].unitPrice").closest("label")!.textContent).toContain("Must be an amount like 100.00.");
    expect(input("items[0].description").closest("label")!.classList.contains("has-error")).toBe(false);

    await user.click(screen.getByTestId("create-and-send"));
    const posts = fetchMock.mock.calls.filter(([url]) => url === "/api/invoices");
    expect(posts).toHaveLength(2);
    const keys = posts.map(([, init]) => (init as RequestInit & { headers: Record<string, string> }).headers["Idempotency-Key"]);
    expect(keys[0]).toBeTruthy();
    expect(keys[0]).toBe(keys[1]);
    const body = JSON.parse(String((posts[0][1] as RequestInit).body));
    expect(body).toMatchObject({ draft: false, currency: "EUR", items: [{ description: "Audit", quantity: "1", unitPrice: "100" }] });
  });
});
