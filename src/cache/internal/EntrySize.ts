/**
 * Sizes of cache keys and values, for the `maxKeyBytes`, `maxValueBytes` and `maxBytes` bounds.
 *
 * Keys are measured exactly in UTF-8 bytes, with a fast path that skips the measurement when even the worst
 * case (3 bytes per UTF-16 code unit) fits. Values are measured by the caller's `sizeOf`, or by a cheap
 * estimate (the same approach as `lru-cache`'s `sizeCalculation`, which it leaves to the caller): strings count
 * two bytes per code unit, binary data its byte length, other objects the length of their JSON form. The Redis
 * tier measures the encoded envelope exactly.
 *
 * @since 0.1.0
 */
import { CacheKeyTooLarge, InvalidCacheOptions } from "../CacheError.ts"

/** Estimated heap bytes of a value (see the module doc). */
export const estimateValueBytes = (value: unknown): number => {
  switch (typeof value) {
    case "string":
      return 2 * value.length
    case "number":
      return 8
    case "boolean":
      return 4
    case "bigint":
      return 16
    case "undefined":
      return 0
    case "object": {
      if (value === null) return 0
      if (ArrayBuffer.isView(value)) return value.byteLength
      if (value instanceof ArrayBuffer) return value.byteLength
      try {
        const json = JSON.stringify(value)
        return json === undefined ? 64 : 2 * json.length
      } catch {
        return 64
      }
    }
    default:
      return 64
  }
}

/** Default `sizeOf`: the key's UTF-16 bytes plus the value estimate. */
export const defaultSizeOf = (value: unknown, key: string): number => 2 * key.length + estimateValueBytes(value)

/** `undefined` when `key` fits in `maxKeyBytes` UTF-8 bytes, else the error to fail with. */
export const checkKey = (key: string, maxKeyBytes: number): CacheKeyTooLarge | InvalidCacheOptions | undefined => {
  if (typeof key !== "string") {
    return InvalidCacheOptions.at("key", `expected a string key, got ${key === null ? "null" : typeof key}`)
  }
  if (key.length * 3 <= maxKeyBytes) return undefined
  const bytes = Buffer.byteLength(key, "utf8")
  return bytes <= maxKeyBytes ? undefined : new CacheKeyTooLarge({ preview: key.slice(0, 64), bytes, maxKeyBytes })
}
