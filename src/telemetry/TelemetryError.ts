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
import { Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"

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
export class InvalidTelemetryInput
  extends Schema.TaggedError<InvalidTelemetryInput>()("InvalidTelemetryInput", Invalid.InvalidInputFields)
{
  override get message(): string {
    return Invalid.invalidMessage(this)
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

/** Converts a `SchemaError` into an `InvalidTelemetryInput` whose `subject` is `input` (every issue in `detail`). */
export const fromSchemaError = (input: string, error: Schema.SchemaError): InvalidTelemetryInput =>
  Invalid.fromSchemaError(error, input, (f) => new InvalidTelemetryInput(f))
