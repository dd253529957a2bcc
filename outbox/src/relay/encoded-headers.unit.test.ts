import { Match } from "@nats-io/nats-core";
import { describe, expect, it } from "vitest";
import { EncodedHeaders } from "./encoded-headers.js";

const block =
  "NATS/1.0\r\nce-id: e-1\r\nce-subject: o-1\r\nx-twice: a\r\nx-twice: b\r\nNats-Msg-Id: e-1\r\n\r\n";

describe("EncodedHeaders", () => {
  it("encodes to exactly the bytes it was given", () => {
    const bytes = new TextEncoder().encode(block);
    expect(new EncodedHeaders(bytes).encode()).toBe(bytes);
  });

  it("reads like any MsgHdrs", () => {
    const h = new EncodedHeaders(new TextEncoder().encode(block));
    expect(h.get("ce-subject")).toBe("o-1");
    expect(h.get("nats-msg-id")).toBe("");
    expect(h.get("nats-msg-id", Match.IgnoreCase)).toBe("e-1");
    expect(h.values("x-twice")).toEqual(["a", "b"]);
    expect(h.last("x-twice")).toBe("b");
    expect(h.has("ce-id")).toBe(true);
    expect(h.keys()).toEqual(["ce-id", "ce-subject", "x-twice", "Nats-Msg-Id"]);
    expect([...h]).toContainEqual(["x-twice", ["a", "b"]]);
    expect({ code: h.code, hasError: h.hasError }).toEqual({ code: 0, hasError: false });
  });

  it("refuses changes, which could not reach the wire", () => {
    const h = new EncodedHeaders(new TextEncoder().encode(block));
    expect(() => h.set("ce-id", "e-2")).toThrow(TypeError);
    expect(() => h.append("x", "y")).toThrow(TypeError);
    expect(() => h.delete("ce-id")).toThrow(TypeError);
    expect(h.get("ce-id")).toBe("e-1");
  });
});
