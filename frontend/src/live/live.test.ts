// What the socket says, read into the generated LiveMessage without trusting it.
import { describe, expect, it } from "vitest";
import { isDeletion, parseLiveMessage } from "./live";

describe("parseLiveMessage", () => {
  it("reads a change, a deletion and a resync", () => {
    expect(parseLiveMessage('{"type":"invoice_changed","invoiceId":"inv-1","status":"sent","what":"email_sent","at":"2026-01-01T00:00:00Z"}'))
      .toEqual({ type: "invoice_changed", invoiceId: "inv-1", status: "sent", what: "email_sent", at: "2026-01-01T00:00:00Z" });
    const deleted = parseLiveMessage('{"type":"invoice_changed","invoiceId":"inv-1","status":null,"what":"delete","at":null}');
    expect(deleted).toEqual({ type: "invoice_changed", invoiceId: "inv-1", status: null, what: "delete", at: null });
    expect(deleted && isDeletion(deleted)).toBe(true);
    expect(parseLiveMessage('{"type":"resync"}')).toEqual({ type: "resync" });
  });

  it("drops a status the API does not have, and ignores what is not ours", () => {
    expect(parseLiveMessage('{"type":"invoice_changed","invoiceId":"inv-1","status":"lost","what":"update"}'))
      .toMatchObject({ status: null, at: null });
    expect(parseLiveMessage("not json")).toBeNull();
    expect(parseLiveMessage("[1]")).toBeNull();
    expect(parseLiveMessage('{"type":"invoice_changed","what":"update"}')).toBeNull();
    expect(parseLiveMessage('{"type":"ping"}')).toBeNull();
  });
});
