/**
 * A total string rendering of any thrown or failed value, for telemetry reasons and tag values.
 *
 * `String(value)` throws for a value with no string form (`Object.create(null)`, an object whose `toString` or
 * `Symbol.toPrimitive` throws or returns an object); telemetry must still describe it, so this falls back to
 * `Object.prototype.toString.call(value)` (`[object Object]`), which never throws for such values.
 *
 * @since 0.1.0
 */

/** `String(value)`, or `Object.prototype.toString.call(value)` when `value` has no string form. */
export const renderUnknown = (value: unknown): string => {
  try {
    return String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}
