/**
 * The cause of a log line, masked: what `maskingLogger` hands its logger beside the masked message.
 *
 * Rules:
 * - Loggers render a cause with `Cause.pretty` (effect's pretty, logfmt, JSON and tracer loggers all do), so the
 *   cause is masked as it is rendered: each failure and defect is rendered alone, its text masked by `mask`.
 * - A reason whose text holds nothing to mask is kept as it is (the same reference; a cause with none is the same
 *   cause); an interruption is always kept.
 * - A reason whose text is masked is replaced by one of the same kind (a failure stays a failure, a defect a
 *   defect) holding a `MaskedCause`, an `Error` whose `Cause.pretty` is the masked text: the loggers' output is the
 *   original one with the secrets masked.
 *
 * Hand-rolled over effect's `Cause` constructors; the text is effect's own `Cause.pretty`.
 *
 * @internal
 */
import { Cause } from "effect"

/** An error whose rendering (`name: message`, then the stack lines) is a given, already masked, text. */
class MaskedCause extends Error {
  constructor(text: string) {
    const [first = "", ...rest] = text.split("\n")
    const at = first.indexOf(": ")
    super(at > 0 ? first.slice(at + 2) : first)
    this.name = at > 0 ? first.slice(0, at) : "Error"
    // Cause.pretty renders `name: message` and then the stack's lines after that header
    this.stack = [`${this.name}: ${this.message}`, ...rest].join("\n")
  }
}

/** `cause` with the text of each failure and defect masked by `mask` (the same cause when nothing is masked). */
export const maskCause = <E>(cause: Cause.Cause<E>, mask: (text: string) => string): Cause.Cause<unknown> => {
  if (cause.reasons.length === 0) return cause
  let changed = false
  const reasons = cause.reasons.map((reason): Cause.Reason<unknown> => {
    if (Cause.isInterruptReason(reason)) return reason
    const text = Cause.pretty(Cause.fromReasons([reason]))
    const masked = mask(text)
    if (masked === text) return reason
    changed = true
    const error = new MaskedCause(masked)
    return Cause.isFailReason(reason) ? Cause.makeFailReason(error) : Cause.makeDieReason(error)
  })
  return changed ? Cause.fromReasons(reasons) : cause
}
