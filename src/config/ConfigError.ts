/**
 * The ConfigStore's typed errors, one `Schema.TaggedError` class each.
 *
 * They play the role of the `{error, Reason}` tuples that Elixir's `Application.fetch_env/2` and Erlang's
 * `application:get_env/2` callers match on, but every one names *where* the problem is: a validation error carries
 * one {@link ConfigIssue} per bad field (dotted path + readable message), lookups name the thing that was not found
 * and list what is known, and alias cycles carry the cycle path.
 *
 * Secrets: no error here ever stores a configuration *value* — only paths, names and messages written by this
 * subsystem (and validation messages are scrubbed of any secret text before they get here, see `SecretMasking.ts`).
 * Names a caller typed (a model alias, a provider, a spec) are printed through `sanitize` (`src/llm/internal/SecretScrub.ts`),
 * so a key typed into the wrong field is masked, and the lookups store them sanitized too.
 */
import { Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"
import { sanitize } from "../llm/internal/SecretScrub.ts"

/** One problem found while validating a configuration: a dotted path (`providers.openai.timeout`) and a message. */
export const ConfigIssue = Schema.Struct({
  path: Schema.String,
  message: Schema.String
})
export type ConfigIssue = typeof ConfigIssue.Type

/** Renders issues one per line as `path: message` (`(root)` for the root). */
export const formatIssues = (issues: ReadonlyArray<ConfigIssue>): string =>
  issues.map((issue) => `${issue.path === "" ? "(root)" : issue.path}: ${issue.message}`).join("\n")

/**
 * A candidate configuration was rejected. `issues` lists every error found (not only the first), each with its path.
 * `operation` says what produced the candidate (`initial`, `update`, `patch`, `reload`, `reset`, `validate`).
 */
export class ConfigValidationError extends Schema.TaggedError<ConfigValidationError>()("ConfigValidationError", {
  operation: Schema.String,
  issues: Schema.Array(ConfigIssue)
}) {
  override get message(): string {
    const n = this.issues.length
    return `invalid configuration (${this.operation}), ${n} issue${n === 1 ? "" : "s"}:\n${formatIssues(this.issues)}`
  }
}

/** A configuration source (the JSON file, the environment) could not be read or parsed. */
export class ConfigSourceError extends Schema.TaggedError<ConfigSourceError>()("ConfigSourceError", {
  source: Schema.Literals(["file", "env"]),
  location: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot read configuration ${this.source} ${this.location}: ${this.reason}`
  }
}

/** `getModelConfig` was given a name that is neither a model alias nor a `provider:model` spec. */
export class UnknownModelAlias extends Schema.TaggedError<UnknownModelAlias>()("UnknownModelAlias", {
  alias: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `unknown model alias "${sanitize(this.alias)}" (known aliases: ${this.known.join(", ") || "none"}; ` +
      `or use a "provider:model" spec)`
  }
}

/** Following model aliases came back to an alias already visited; `cycle` is the path, e.g. `[a, b, a]`. */
export class ModelAliasCycle extends Schema.TaggedError<ModelAliasCycle>()("ModelAliasCycle", {
  cycle: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `model alias cycle: ${this.cycle.map(sanitize).join(" -> ")}`
  }
}

/** A provider name (from `getProviderConfig` or a `provider:model` spec) is not configured. */
export class UnknownProvider extends Schema.TaggedError<UnknownProvider>()("UnknownProvider", {
  provider: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `unknown provider "${sanitize(this.provider)}" (configured providers: ${this.known.join(", ") || "none"})`
  }
}

/** A `provider:model` spec is malformed (empty provider or model part). */
export class InvalidModelSpec extends Schema.TaggedError<InvalidModelSpec>()("InvalidModelSpec", {
  ...Invalid.InvalidInputFields,
  spec: Schema.String
}) {
  /** An `InvalidModelSpec` for `spec` (sanitised) saying what was expected. */
  static of(spec: string, detail: string): InvalidModelSpec {
    const shown = sanitize(spec)
    return new InvalidModelSpec({ spec: shown, ...Invalid.fields(`model spec "${shown}"`, "", detail) })
  }

  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** Everything `getModelConfig` can fail with. */
export type ModelLookupError = UnknownModelAlias | ModelAliasCycle | UnknownProvider | InvalidModelSpec
