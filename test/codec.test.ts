import { createDecipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { HooklineError } from "../src/core/errors.js";
import { parseEncryptionKey, SecretCodec } from "../src/store/codec.js";

const keyA = randomBytes(32).toString("base64");
const keyB = randomBytes(32).toString("base64");

describe("SecretCodec", () => {
  it("round-trips and never stores the clear text", () => {
    const codec = new SecretCodec([keyA]);
    const stored = codec.encode("whsec_topsecret");
    expect(stored).not.toContain("whsec_topsecret");
    expect(stored).not.toContain(Buffer.from("whsec_topsecret").toString("base64"));
    expect(codec.decode(stored)).toBe("whsec_topsecret");
    expect(codec.encode("x")).not.toBe(codec.encode("x"));
  });

  it("is plain AES-256-GCM: iv, tag and ciphertext decrypt with node:crypto directly", () => {
    const codec = new SecretCodec([keyA]);
    const stored = codec.encode("header-value");
    const raw = Buffer.from(stored.split(":")[2] ?? "", "base64");
    const d = createDecipheriv("aes-256-gcm", Buffer.from(keyA, "base64"), raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    expect(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString()).toBe("header-value");
  });

  it("tags each value with its key id and accepts older keys during a rotation", () => {
    const old = new SecretCodec([keyA]);
    const stored = old.encode("s1");
    expect(SecretCodec.keyIdOf(stored)).toBe(parseEncryptionKey(keyA).id);
    const rotating = new SecretCodec([keyB, keyA]);
    expect(rotating.decode(stored)).toBe("s1");
    expect(SecretCodec.keyIdOf(rotating.encode("s1"))).toBe(rotating.mainKeyId);
  });

  it("names the key id when the key is missing or wrong, and reads clear text as is", () => {
    const stored = new SecretCodec([keyA]).encode("s1");
    const wrong = new SecretCodec([keyB]);
    expect(() => wrong.decode(stored)).toThrow(parseEncryptionKey(keyA).id);
    try {
      wrong.decode(stored);
    } catch (e) {
      expect((e as HooklineError).code).toBe("HOOKLINE_ENCRYPTION_KEY_INVALID");
    }
    const tampered = `${stored.slice(0, -4)}AAAA`;
    expect(() => new SecretCodec([keyA]).decode(tampered)).toThrow(/cannot decrypt/);
    expect(wrong.decode("whsec_clear")).toBe("whsec_clear");
    expect(() => parseEncryptionKey(randomBytes(16).toString("base64"))).toThrow(/32 bytes/);
  });
});
