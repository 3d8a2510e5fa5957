/**
 * Tools: any action offered to a language model, with its JSON Schema in strict or non-strict mode, bridged to
 * `effect/ai` `Tool` / `Toolkit` so that one definition drives validation, the JSON Schema and the TypeScript type.
 *
 * Mirrors `Jido.Action.Tool.to_tool/1` (an action's name, description and params schema as an LLM tool).
 *
 * Reuses Effect: non-strict JSON Schema is `Tool.getJsonSchemaFromSchema` (open objects stay open; nested
 * schemas and `$defs` intact). Strict mode is `OpenAiStructuredOutput.toCodecOpenAI`: `additionalProperties:
 * false` on every object, every property required (optional ones become required and nullable), records as
 * key/value arrays — and a matching codec that decodes the model's strict-mode arguments (nulls, pairs) back into
 * the action's params. The `effect/ai` bridge is `Tool.make(name, { parameters, success, failure,
 * failureMode: "return" })` annotated with `Tool.Strict`, and `toolkitLayer` implements the handlers with the
 * actions.
 *
 * A failure becomes a `ToolError` value (`toToolError`), rendered with the subsystem's one total renderer
 * (`internal/ErrorText.ts`): a failure with no string form is still a `ToolFailure` returned to the model.
 */
import { Effect, Layer, Result, Schema } from "effect"
import type { JsonSchema } from "effect"
import { OpenAiStructuredOutput, Tool as AiTool, Toolkit } from "effect/ai"
import type * as Action from "./Action.ts"
import * as ActionRunner from "./ActionRunner.ts"
import { fromSchemaError, InvalidParams } from "./AgentError.ts"
import { errorText, stringField } from "./internal/ErrorText.ts"

/** The error a tool returns to the model (a value, never a crash). */
export const ToolError = Schema.Struct({
  tag: Schema.String,
  message: Schema.String,
  path: Schema.optionalKey(Schema.String)
})
/**
 * A tool call's failure as the model sees it: a message, and the path of the bad argument when the arguments did not
 * decode.
 */
export type ToolError = typeof ToolError.Type

/** An action offered to a model as a tool, under its name. */
export interface ToolDefinition<A extends Action.Any = Action.Any> {
  readonly action: A
  readonly name: A["name"]
  readonly description: string
  readonly strict: boolean
  /** the parameters' JSON Schema as sent to the provider */
  readonly parameters: JsonSchema.JsonSchema
  /** decodes model arguments (strict: from the provider-safe shape) into the action's params */
  readonly decode: (args: unknown) => Result.Result<Action.Params<A>, InvalidParams>
  /** the same tool for `effect/ai` (`Toolkit.make(...)`, `LanguageModel.generateText({ toolkit })`) */
  readonly ai: AiTool.Tool<
    A["name"],
    {
      readonly parameters: A["params"]
      readonly success: A["output"]
      readonly failure: typeof ToolError
      readonly failureMode: "return"
    }
  >
}

/** Removes duplicate entries of `anyOf` (the strict transform can produce `null` twice for `optional`). */
const dedupeAnyOf = (schema: unknown): unknown => {
  if (Array.isArray(schema)) return schema.map(dedupeAnyOf)
  if (typeof schema !== "object" || schema === null) return schema
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema)) {
    if (key === "anyOf" && Array.isArray(value)) {
      const seen = new Set<string>()
      out[key] = value.map(dedupeAnyOf).filter((v) => {
        const k = JSON.stringify(v)
        if (seen.has(k)) return false
        seen.add(k)
        return true
      })
    } else out[key] = dedupeAnyOf(value)
  }
  return out
}

/** The JSON Schema of an action's params: strict (OpenAI-style) or non-strict. */
export const jsonSchema = (action: Action.Any, options: { readonly strict?: boolean } = {}): JsonSchema.JsonSchema =>
  options.strict === true
    // the OpenAI codec's JSON Schema is a JSON Schema document (the library types it loosely)
    ? dedupeAnyOf(OpenAiStructuredOutput.toCodecOpenAI(action.params).jsonSchema) as JsonSchema.JsonSchema
    : AiTool.getJsonSchemaFromSchema(action.params)

/**
 * Offers an action as a tool.
 *
 * @example
 * ```ts
 * const weather = Tool.fromAction(GetWeather, { strict: true })
 * weather.parameters // { type: "object", additionalProperties: false, required: [...], ... }
 * ```
 */
export const fromAction = <A extends Action.Any>(
  action: A,
  options: { readonly strict?: boolean } = {}
): ToolDefinition<A> => {
  const strict = options.strict ?? false
  let decodeWith: (u: unknown) => Result.Result<unknown, Schema.SchemaError>
  if (strict) {
    // the OpenAI form of a params schema needs no services, like the params schema itself
    const codec = OpenAiStructuredOutput.toCodecOpenAI(action.params).codec as Schema.Codec<
      unknown,
      unknown,
      never,
      never
    >
    const decode = Schema.decodeUnknownResult(codec)
    decodeWith = (u) => decode(u, { errors: "all" })
  } else {
    // an AnySchema is a codec with no services
    const decode = Schema.decodeUnknownResult(action.params as Schema.Codec<unknown, unknown, never, never>)
    decodeWith = (u) => decode(u, { errors: "all" })
  }
  const ai = AiTool.make(action.name, {
    description: action.description,
    parameters: action.params,
    success: action.output,
    failure: ToolError,
    failureMode: "return"
  }).annotate(AiTool.Strict, strict)
  return {
    action,
    name: action.name,
    description: action.description,
    strict,
    parameters: jsonSchema(action, { strict }),
    decode: (args) => {
      const result = decodeWith(args)
      // decoded by A's params schema (or its OpenAI form, which decodes to the same Type)
      if (Result.isSuccess(result)) return Result.succeed(result.success as Action.Params<A>)
      const { path, detail } = fromSchemaError(result.failure)
      return Result.fail(new InvalidParams({ action: action.name, subject: `params of ${action.name}`, path, detail }))
    },
    // the AI tool is built from A's params, so it is A's tool
    ai: ai as ToolDefinition<A>["ai"]
  }
}

/**
 * Renders any failure as the value returned to the model; never throws. A tagged failure keeps its `_tag`, its
 * `message` (else the tag) and its `path`; anything else is a `ToolFailure` with the failure rendered as text.
 */
export const toToolError = (error: unknown): ToolError => {
  const tag = stringField(error, "_tag")
  if (tag !== undefined) {
    const message = stringField(error, "message") ?? tag
    const path = stringField(error, "path")
    return path !== undefined ? { tag, message, path } : { tag, message }
  }
  return { tag: "ToolFailure", message: errorText(error) }
}

/** An `effect/ai` toolkit of the tools, keyed by tool name. */
export const toolkit = <const Tools extends ReadonlyArray<ToolDefinition>>(
  ...tools: Tools
): Toolkit.Toolkit<{ readonly [T in Tools[number] as T["name"]]: T["ai"] }> =>
  // `Toolkit.make` infers its tools from a tuple; ours is a mapped tuple type it cannot see through. The stated
  // type is the same tools by name (written out so the emitted declaration satisfies Toolkit's constraint).
  Toolkit.make(...tools.map((t) => t.ai)) as unknown as Toolkit.Toolkit<
    { readonly [T in Tools[number] as T["name"]]: T["ai"] }
  >

/**
 * The handlers of `toolkit(...tools)` as a Layer: each runs its action (timeout, retries, compensation); failures
 * are returned to the model as `ToolError` values.
 */
export const toolkitLayer = <const Tools extends ReadonlyArray<ToolDefinition>>(
  ...tools: Tools
): Layer.Layer<AiTool.HandlersFor<{ readonly [T in Tools[number] as T["name"]]: T["ai"] }>> => {
  // each tool's `ai` has its own literal name; the kit is used by name only, so the names are erased
  const kit = Toolkit.make(...tools.map((t) => t.ai)) as unknown as Toolkit.Toolkit<Record<string, AiTool.Any>>
  const handlers: Record<string, (params: unknown) => Effect.Effect<unknown, ToolError>> = {}
  for (const tool of tools) {
    handlers[tool.name] = (params) =>
      // params were decoded by the tool's own decoder; the handler's failure is mapped to ToolError
      ActionRunner.executeDecoded(tool.action, params).pipe(
        Effect.map((result) => result.output),
        Effect.mapError(toToolError)
      ) as Effect.Effect<unknown, ToolError>
  }
  // the handlers are keyed by tool name, exactly the names of the kit's tools
  return kit.toLayer(handlers as never) as unknown as Layer.Layer<
    AiTool.HandlersFor<{ readonly [T in Tools[number] as T["name"]]: T["ai"] }>
  >
}
