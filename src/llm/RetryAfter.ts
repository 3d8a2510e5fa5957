/**
 * Reading a provider's requested retry delay from response headers.
 *
 * `retry-after-ms` (OpenAI, milliseconds, may be fractional) wins over `Retry-After` (RFC 9110: delay-seconds or
 * an HTTP-date, taken relative to `nowMillis` — pass `Clock.currentTimeMillis` so TestClock controls it). Values
 * that do not parse, or are negative, are ignored. Pure functions; nothing from Effect needed.
 *
 * @since 0.1.0
 */

const header = (headers: Readonly<Record<string, string | undefined>>, name: string): string | undefined => {
  const direct = headers[name]
  if (direct !== undefined) return direct
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return headers[key]
  return undefined
}

const NUMBER = /^\s*\d+(\.\d+)?\s*$/

/**
 * The requested delay in milliseconds, or `undefined` when the headers ask for none.
 *
 * @example
 * ```ts
 * parseRetryAfterMillis({ "retry-after": "2" }, Date.now())           // 2000
 * parseRetryAfterMillis({ "retry-after-ms": "150.5" }, Date.now())    // 150.5
 * parseRetryAfterMillis({ "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT" }, now) // max(0, date - now)
 * ```
 */
export const parseRetryAfterMillis = (
  headers: Readonly<Record<string, string | undefined>>,
  nowMillis: number
): number | undefined => {
  const ms = header(headers, "retry-after-ms")
  if (ms !== undefined && NUMBER.test(ms)) return Number(ms)
  const value = header(headers, "retry-after")
  if (value === undefined) return undefined
  if (NUMBER.test(value)) return Number(value) * 1000
  if (!/[A-Za-z]/.test(value)) return undefined
  const date = Date.parse(value)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - nowMillis)
}
