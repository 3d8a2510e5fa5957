/**
 * The guard's typed errors.
 *
 * - `GuardBlocked`: a policy with action `block` stopped a text; it names the **stage** (`input`, `document`,
 *   `output`), the **scanner** and the **rule** that decided, and the score — never the matched text, so the error
 *   can be logged and returned to a client without leaking what it caught.
 * - `InvalidGuardOptions`: guard policies (untrusted configuration) failed to decode; `path` names the bad field.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"

/**
 * A `block` policy matched: which stage, scanner and rule, the score, and the types found (never the matched
 * values).
 */
export class GuardBlocked extends Schema.TaggedError<GuardBlocked>()("GuardBlocked", {
  stage: Schema.String,
  scanner: Schema.String,
  rule: Schema.String,
  score: Schema.Number,
  /** Content categories, entity or secret types that were found (no values). */
  types: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `blocked by the guard at ${this.stage}: scanner "${this.scanner}", rule "${this.rule}" (score ${
      this.score.toFixed(2)
    }${this.types.length > 0 ? `; ${this.types.join(", ")}` : ""})`
  }
}

/** Guard policies or options that do not decode; `path` names the bad field. */
export class InvalidGuardOptions
  extends Schema.TaggedError<InvalidGuardOptions>()("InvalidGuardOptions", Invalid.InvalidInputFields)
{
  /** An `InvalidGuardOptions` for a rule Schema cannot express, at `path` (`a.b[2].c`). */
  static at(path: string, detail: string): InvalidGuardOptions {
    return new InvalidGuardOptions(Invalid.fields("guard options", path, detail))
  }

  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}
