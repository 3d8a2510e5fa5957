/**
 * Schema validation of the runtime's untrusted inputs (start options, call options, stop timeouts, child specs,
 * supervisor options).
 *
 * Every public entry point decodes its options here and fails with `InvalidOptions`, whose `path` names the
 * offending field in the caller's terms (`children[2].shutdown`, `mailbox.capacity`) and whose `detail` lists
 * every problem found. Functions inside specs (`start`, `run`) are checked as functions; behaviours are values
 * the type system already checks.
 */
import { Duration, Result, Schema } from "effect"
import * as Invalid from "../../internal/InvalidInput.ts"
import { InvalidOptions } from "../RuntimeError.ts"

/** Decodes `input` with `schema`; on failure, an `InvalidOptions` naming the first bad path and every issue. */
export const validate = <S extends Schema.Codec<unknown, unknown, never, never>>(
  schema: S,
  input: unknown,
  subject: string,
  pathPrefix = ""
): Result.Result<S["Type"], InvalidOptions> =>
  Invalid.decode(schema, input, subject, (f) => new InvalidOptions(f), pathPrefix)

/** An integer ≥ 1. */
export const PositiveInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))
/** An integer ≥ 0. */
export const NonNegativeInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))
/** A number ≥ 0. */
export const NonNegative = Schema.Number.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))
/** Is `u` a `Duration.Input` that is not negative (finite milliseconds, or e.g. `"100 millis"`)? */
const isDurationInput = (u: unknown): u is Duration.Input => {
  if (typeof u === "number") return Number.isFinite(u) && u >= 0
  if (typeof u !== "string" && typeof u !== "object") return false
  try {
    // a string or object: fromInputUnsafe validates it and throws (caught below) for a bad one
    return Duration.toMillis(Duration.fromInputUnsafe(u as Duration.Input)) >= 0
  } catch {
    return false
  }
}

/** A `Duration.Input` that is not negative (milliseconds, or e.g. `"100 millis"`); shared by the runtime and the agent server. */
export const DurationInput = Schema.declare(isDurationInput, {
  expected: "a duration (milliseconds or e.g. \"100 millis\")"
})

/** Is `u` a timeout of `Actor.call` / `Actor.stop`: a non-negative duration, or `"infinity"` (or `Infinity` ms)? */
export const isTimeout = (u: unknown): u is Duration.Input | "infinity" =>
  u === "infinity" || (typeof u === "number" ? u >= 0 : isDurationInput(u))

const TIMEOUT_EXPECTED = "a duration (milliseconds or e.g. \"5 seconds\") or \"infinity\""

/** A timeout of `Actor.call` / `Actor.stop` (`isTimeout`). */
export const TimeoutInput = Schema.declare(isTimeout, { expected: TIMEOUT_EXPECTED })

/** Any function (start functions and callbacks are checked only for being functions). */
export const AFunction = Schema.declare((u: unknown): u is Function => typeof u === "function", {
  expected: "a function"
})

const NameRegistrationShape = Schema.declare(
  (u: unknown): u is object => typeof u === "object" && u !== null && "_tag" in u && u._tag === "NameRegistration",
  { expected: "a name or a registration (Registry.via)" }
)

/** The Schema of `Actor.StartOptions`. */
export const StartOptions = Schema.Struct({
  name: Schema.optional(Schema.Union([Schema.String, NameRegistrationShape])),
  mailbox: Schema.optional(Schema.Struct({
    capacity: Schema.optional(PositiveInt),
    overflow: Schema.optional(Schema.Literals(["backpressure", "dropping", "sliding", "fail"]))
  })),
  kind: Schema.optional(Schema.Literals(["worker", "supervisor"])),
  trapExit: Schema.optional(Schema.Boolean)
})

/** The Schema of `Actor.CallOptions`. */
export const CallOptions = Schema.Struct({
  timeout: Schema.optional(TimeoutInput),
  onTimeout: Schema.optional(Schema.Literals(["continue", "interrupt"]))
})

/**
 * Checks `Actor.call`'s options: `undefined` when valid, else the `InvalidOptions` naming the bad field. Valid
 * options are recognised inline (a call's hot path); Schema runs only to describe a bad one.
 */
export const checkCallOptions = (options: unknown): InvalidOptions | undefined => {
  if (typeof options === "object" && options !== null && !Array.isArray(options)) {
    // reading the two fields of call options; whatever they hold is checked right here
    const { onTimeout, timeout } = options as { readonly timeout?: unknown; readonly onTimeout?: unknown }
    const onTimeoutOk = onTimeout === undefined || onTimeout === "continue" || onTimeout === "interrupt"
    if (onTimeoutOk && (timeout === undefined || isTimeout(timeout))) return undefined
  }
  const result = validate(CallOptions, options, "actor call options")
  return Result.isFailure(result) ? result.failure : undefined
}

/** Checks `Actor.stop`'s timeout (`isTimeout`): `undefined` when valid, else an `InvalidOptions` at `timeout`. */
export const checkStopTimeout = (timeout: unknown): InvalidOptions | undefined =>
  isTimeout(timeout) ? undefined : invalid("stop", "timeout", `expected ${TIMEOUT_EXPECTED}`)

/**
 * The key under which a name registration carries why no start may use it (`Registry.via` on a duplicate
 * registry): `decodeStartOptions` then fails with `InvalidOptions` at `name`. A symbol key survives `{ ...via }`.
 */
export const RegistrationRefused: unique symbol = Symbol.for("troupe/NameRegistration/refused")

const refusal = (options: object): InvalidOptions | undefined => {
  // reading the name field of start options that the Schema has just accepted
  const name = (options as { readonly name?: unknown }).name
  if (typeof name !== "object" || name === null || !(RegistrationRefused in name)) return undefined
  return invalid("actor start options", "name", String(name[RegistrationRefused]))
}

const checked = new WeakSet<object>()

/**
 * Validates start options once per options object (options reused across many starts are checked once); a
 * refused registration (see `RegistrationRefused`) fails with `InvalidOptions` at `name`.
 */
export const decodeStartOptions = (options: object): Result.Result<unknown, InvalidOptions> | undefined => {
  if (checked.has(options)) return undefined
  const result = validate(StartOptions, options, "actor start options")
  if (Result.isFailure(result)) return result
  const refused = refusal(options)
  if (refused !== undefined) return Result.fail(refused)
  checked.add(options)
  return result
}

/** An `InvalidOptions` for a rule Schema cannot express (cross-field checks). */
export const invalid = (subject: string, path: string, detail: string): InvalidOptions =>
  new InvalidOptions(Invalid.fields(subject, path, detail))
