/**
 * UUIDv7 (RFC 9562 §5.7): 48-bit Unix time in milliseconds, version 7, a 12-bit counter, the `10` variant and
 * 62 random bits — ids that sort by creation time.
 *
 * Monotonicity follows RFC 9562 §6.2 method 1 (fixed-length dedicated counter in `rand_a`): within one
 * millisecond the counter increments from a random start below 2^11 (leaving room to count); when it would
 * overflow, the timestamp is advanced by one millisecond (the RFC allows this). Time comes from Effect's
 * `Clock` (so ids are ordered under `TestClock` too), randomness from Web Crypto.
 *
 * Hand-rolled: Effect has no UUID generator.
 */
import { Clock, Effect } from "effect"

let lastMillis = -1
let counter = 0

const hex: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/** Formats a UUIDv7 for `millis` (synchronous; the time source is the caller's). */
export const fromMillis = (millis: number): string => {
  let ms = Math.max(0, Math.floor(millis))
  const random = new Uint8Array(10)
  crypto.getRandomValues(random)
  if (ms <= lastMillis) {
    ms = lastMillis
    counter++
    if (counter > 0xfff) {
      ms = lastMillis + 1
      // random is a 16-byte array, so indexes 0 and 1 exist
      counter = ((random[0] as number) << 3 | (random[1] as number) >> 5) & 0x7ff
    }
  } else {
    // random is a 16-byte array, so indexes 0 and 1 exist
    counter = ((random[0] as number) << 3 | (random[1] as number) >> 5) & 0x7ff
  }
  lastMillis = ms
  const b = new Uint8Array(16)
  // 48-bit big-endian timestamp (split: bitwise operators are 32-bit)
  const high = Math.floor(ms / 0x1000000)
  const low = ms % 0x1000000
  b[0] = (high >>> 16) & 0xff
  b[1] = (high >>> 8) & 0xff
  b[2] = high & 0xff
  b[3] = (low >>> 16) & 0xff
  b[4] = (low >>> 8) & 0xff
  b[5] = low & 0xff
  b[6] = 0x70 | ((counter >>> 8) & 0x0f) // version 7 + counter high nibble
  b[7] = counter & 0xff
  b[8] = 0x80 | ((random[2] as number) & 0x3f) // variant 10
  for (let i = 9; i < 16; i++) b[i] = random[i - 6] as number
  let out = ""
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += "-"
    // b is a 16-byte array and i < 16
    out += hex[b[i] as number]
  }
  return out
}

/** A fresh UUIDv7 using Effect's Clock. */
export const make: Effect.Effect<string> = Effect.map(Clock.currentTimeMillis, fromMillis)

const PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** Is the string a UUIDv7 (lowercase canonical form)? */
export const isUuid7 = (s: string): boolean => PATTERN.test(s)

/** The millisecond timestamp embedded in a UUIDv7. */
export const timestampOf = (uuid: string): number => parseInt(uuid.slice(0, 8) + uuid.slice(9, 13), 16)
