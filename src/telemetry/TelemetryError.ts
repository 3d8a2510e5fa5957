/**
 * Typed errors of the telemetry subsystem.
 *
 * Mirrors the error returns of Erlang's `:telemetry` (`{:error, :already_exists}` from `attach/4`,
 * `{:error, :not_found}` from `detach/1`) as `Schema.TaggedError` classes, plus the errors of our own additions:
 * rejected untrusted input (handler ids, prefixes, metric definitions, layer options) and a failed JSON export.
 * Every message names the offending value or field path so the caller can fix it without reading our source.
 *
 * @since 0.1.0
 */
import { Schema, SchemaIssue } from "effect"

/** `attach` was called with an id that is already attached (`:telemetry`'s `{:error, :already_exists}`). */
export class DuplicateHandlerError extends Schema.TaggedError<DuplicateHandlerError>()("DuplicateHandlerError", {
  handlerId: Schema.String
}) {
  override get message(): string {
    return `a telemetry handler with id "${this.handlerId}" is already attached; detach it first or pick another id`
  }
}

/** `detach` was called with an id that is not attached (`:telemetry`'s `{:error, :not_found}`). */
export class HandlerNotFoundError extends Schema.TaggedError<HandlerNotFoundError>()("HandlerNotFoundError", {
  handlerId: Schema.String
}) {
  override get message(): string {
    return `no telemetry handler with id "${this.handlerId}" is attached`
  }
}

/** Untrusted input (options, prefixes, ids, metric definitions) failed to decode; `issues` lists every problem. */
export class InvalidTelemetryInput extends Schema.TaggedError<InvalidTelemetryInput>()("InvalidTelemetryInput", {
  input: Schema.String,
  issues: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String }))
}) {
  override get message(): string {
    return `invalid ${this.input}: ` + this.issues.map((i) => `${i.path === "" ? "(root)" : i.path}: ${i.message}`).join("; ")
  }
}

/** Writing the reporter's JSON export failed. */
export class TelemetryExportError extends Schema.TaggedError<TelemetryExportError>()("TelemetryExportError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `could not export telemetry report to ${this.path}: ${this.reason}`
  }
}

/**
 * `OtelExport.layer` could not load its optional peer dependencies (`@effect/opentelemetry` and the
 * `@opentelemetry/*` SDK and OTLP exporter packages); `reason` is the loader's message.
 */
export class OtelPackagesMissing extends Schema.TaggedError<OtelPackagesMissing>()("OtelPackagesMissing", {
  reason: Schema.String
}) {
  override get message(): string {
    return "OtelExport.layer needs the optional peer dependencies @effect/opentelemetry and @opentelemetry/* " +
      `(see OtelExport's module doc for the list): ${this.reason}`
  }
}

/** Any error the telemetry subsystem fails with. */
export type TelemetryError =
  | DuplicateHandlerError
  | HandlerNotFoundError
  | InvalidTelemetryInput
  | OtelPackagesMissing
  | TelemetryExportError

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Converts a `SchemaError` into an `InvalidTelemetryInput` naming `input` and every issue's path. */
export const fromSchemaError = (input: string, error: Schema.SchemaError): InvalidTelemetryInput =>
  new InvalidTelemetryInput({
    input,
    issues: formatter(error.issue).issues.map((issue) => ({
      path: (issue.path ?? []).map((segment) => typeof segment === "object" ? String(segment.key) : String(segment))
        .join("."),
      message: issue.message
    }))
  })
