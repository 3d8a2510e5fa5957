/**
 * A total string rendering of any thrown or failed value, for telemetry reasons and tag values.
 *
 * `String(value)` throws for a value with no string form (`Object.create(null)`, an object whose `toString` or
 * `Symbol.toPrimitive` throws or returns an object); telemetry must still describe it, so this falls back to
 * `Object.prototype.toString.call(value)` (`[object Object]`), and, when even that throws (a revoked `Proxy`), to
 * `UNRENDERABLE`. It never throws. Used by telemetry and by the agent subsystem's failure texts.
 *
 * @since 0.1.0
 */

/** What a value that cannot be rendered at all (a revoked `Proxy`) is shown as. */
export const UNRENDERABLE = "[value without a string form]"

/**
 * `String(value)`, or `Object.prototype.toString.call(value)` when `value` has no string form, or `UNRENDERABLE`
 * when neither can read it.
 */
export const renderUnknown = (value: unknown): string => {
  try {
    return String(value)
  } catch {
    try {
      return Object.prototype.toString.call(value)
    } catch {
      return UNRENDERABLE
    }
  }
}
