/**
 * Schema validation of the runtime's untrusted inputs (start options, child specs, supervisor options).
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
/** A `Duration.Input` that is not negative (milliseconds, or e.g. `"100 millis"`); shared by the runtime and the agent server. */
export const DurationInput = Schema.declare(
  (u: unknown): u is Duration.Input => {
    if (typeof u === "number") return Number.isFinite(u) && u >= 0
    if (typeof u !== "string" && typeof u !== "object") return false
    try {
      // a string or object: fromInputUnsafe validates it and throws (caught below) for a bad one
      return Duration.toMillis(Duration.fromInputUnsafe(u as Duration.Input)) >= 0
    } catch {
      return false
    }
  },
  { expected: "a duration (milliseconds or e.g. \"100 millis\")" }
)

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

const checked = new WeakSet<object>()

/** Validates start options once per options object (options reused across many starts are checked once). */
export const decodeStartOptions = (options: object): Result.Result<unknown, InvalidOptions> | undefined => {
  if (checked.has(options)) return undefined
  const result = validate(StartOptions, options, "actor start options")
  if (Result.isSuccess(result)) checked.add(options)
  return result
}

/** An `InvalidOptions` for a rule Schema cannot express (cross-field checks). */
export const invalid = (subject: string, path: string, detail: string): InvalidOptions =>
  new InvalidOptions(Invalid.fields(subject, path, detail))
