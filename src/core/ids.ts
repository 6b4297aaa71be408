import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32: sorts like the numbers it encodes
let lastMs = 0;
let lastRandom: Buffer = Buffer.alloc(10);

/**
 * A new id: `prefix_` then 26 characters that sort by creation time (48-bit
 * milliseconds, then 80 random bits, incremented within one millisecond so ids
 * from one process stay strictly increasing). Ids are the pagination cursors.
 *
 * @example
 * newId("msg"); // "msg_01JDQ3Z6V8K2M4N5P6Q7R8S9T0"
 */
export function newId(prefix: string, nowMs: number = Date.now()): string {
  let random: Buffer;
  if (nowMs <= lastMs) {
    random = Buffer.from(lastRandom);
    for (let i = random.length - 1; i >= 0; i--) {
      random[i] = ((random[i] ?? 0) + 1) & 0xff;
      if (random[i] !== 0) break;
    }
    nowMs = lastMs;
  } else {
    random = randomBytes(10);
  }
  lastMs = nowMs;
  lastRandom = random;
  let time = "";
  let ms = nowMs;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[ms % 32] + time;
    ms = Math.floor(ms / 32);
  }
  // 80 random bits = 16 base32 characters.
  let bits = 0n;
  for (const byte of random) bits = (bits << 8n) | BigInt(byte);
  let tail = "";
  for (let i = 0; i < 16; i++) {
    tail = ALPHABET[Number(bits & 31n)] + tail;
    bits >>= 5n;
  }
  return `${prefix}_${time}${tail}`;
}
