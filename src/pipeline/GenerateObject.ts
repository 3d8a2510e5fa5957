/**
 * Structured output: `Llm.generateObject({ model, messages, schema })` — the model's JSON decoded with an Effect
 * Schema, repaired by the model when it does not decode.
 *
 * Rules:
 * - **Native modes first.** `json_schema` sends OpenAI's `response_format: { type: "json_schema", strict: true }`
 *   with the schema rewritten to the strict subset (effect/ai's `OpenAiStructuredOutput.toCodecOpenAI`: every
 *   property required, optional ones nullable, no additional properties) and decodes with the matching codec;
 *   providers without a native mode get the same schema as an instruction (the Anthropic wire does this). `tool`
 *   forces one tool whose input schema is the output schema (Anthropic's tool-forced output, with effect/ai's
 *   `AnthropicStructuredOutput.toCodecAnthropic`) and reads the tool call's arguments. `auto` (the default) picks
 *   `tool` for `anthropic:` models and `json_schema` otherwise.
 * - **Only the chosen mode's codec is built**: `json_schema` builds only OpenAI's codec (which supports recursive
 *   schemas); `tool` (and `auto` for an `anthropic:` model) builds Anthropic's. A schema the chosen mode's codec
 *   cannot express (a recursive one in `tool` mode) fails with `InvalidObjectOutput` at `schema`, naming the
 *   problem, before any call — never a defect.
 * - **Repair.** A reply that is not JSON or does not decode is sent back to the model — the bad reply and the
 *   decode error with its path (as a tool error in `tool` mode) — up to `repairs` times (default 2); then the
 *   call fails with `InvalidObjectOutput { path, detail, repairs }`. Model errors are the pipeline's `LlmError`s.
 * - **The path of a bad field is the project's path format from the issue tree** (`items[1].n`, a key holding `]`
 *   named whole; `src/internal/InvalidInput.ts`), in the error and in the repair message alike.
 * - **Options are decoded** with the project's invalid-input decoder before any call: `name` 1–64 of
 *   `[A-Za-z0-9_-]`, `mode` one of the modes, `repairs` an integer from 0 to `MAX_REPAIRS` (10); a bad one fails with
 *   `InvalidObjectOutput` at its path (`name`, `mode`, `repairs`).
 *
 * Mirrors the Vercel AI SDK's `generateObject` (schema, mode, repair) and Instructor's retries. Every attempt is an
 * ordinary `Llm.generate` (aliases, cache, rate limits, retries, fallbacks, cost); usage is summed over attempts.
 */
import { type JsonSchema, Result, Schema } from "effect"
import { Effect } from "effect"
import { AnthropicStructuredOutput, OpenAiStructuredOutput } from "effect/ai"
import * as Invalid from "../internal/InvalidInput.ts"
import type { LlmMessage, LlmParams, Usage } from "../llm/index.ts"
import { makeUsage } from "../llm/index.ts"
import type { LlmError, LlmShape } from "./Llm.ts"
import type { LlmCallInput } from "./LlmCall.ts"
import type { LlmResult } from "./LlmResult.ts"

/** How the schema is asked for (see the module doc). */
export type ObjectMode = "auto" | "json_schema" | "tool"

/** What `Llm.generateObject` takes: the call, the Schema of the answer, the native mode and the repair rounds. */
export interface GenerateObjectOptions<A, I> {
  /** an alias or `provider:model` */
  readonly model: string
  readonly messages: ReadonlyArray<LlmMessage>
  /** the object's Schema (no services) */
  readonly schema: Schema.Codec<A, I, never, never>
  /** the schema's name on the wire (`[A-Za-z0-9_-]`); default `output` */
  readonly name?: string
  readonly description?: string
  /** default `auto` */
  readonly mode?: ObjectMode
  /** repair rounds after a reply that does not decode: an integer from 0 to 10; default 2 */
  readonly repairs?: number
  readonly params?: LlmParams
  /** the pipeline's per-call options (cache, …) */
  readonly options?: LlmCallInput["options"]
}

/** A decoded object and how it was obtained. */
export interface GeneratedObject<A> {
  readonly object: A
  /** the last answer */
  readonly result: LlmResult
  readonly mode: "json_schema" | "tool"
  readonly repairs: number
  /** summed over every attempt */
  readonly usage: Usage
}

/** The model's reply still did not decode after the repairs; `path` names the bad field. */
export class InvalidObjectOutput extends Schema.TaggedError<InvalidObjectOutput>()("InvalidObjectOutput", {
  name: Schema.String,
  path: Schema.String,
  detail: Schema.String,
  repairs: Schema.Number
}) {
  override get message(): string {
    return `${this.name} does not match its schema at ${
      this.path || "(root)"
    } after ${this.repairs} repairs: ${this.detail}`
  }
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/

/** Most repair rounds one `generateObject` may ask for (each is a paid model call). */
export const MAX_REPAIRS = 10

/** The Schema of `generateObject`'s own options (the call's fields are `Llm.generate`'s to decode). */
const ObjectOptions = Schema.Struct({
  name: Schema.optionalKey(
    Schema.String.check(Schema.makeFilter((s: string) => NAME.test(s) || "expected 1-64 of [A-Za-z0-9_-]"))
  ),
  mode: Schema.optionalKey(Schema.Literals(["auto", "json_schema", "tool"])),
  repairs: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: MAX_REPAIRS })))
})

/** The path (the project's format) and detail of a reply's decode error. */
const pathOf = (error: Schema.SchemaError): { path: string; detail: string } => Invalid.describeIssue(error.issue)

/** The structured-output codec of `mode` (only that one is built), or the typed error naming the schema problem. */
const codecOf = <A, I>(
  mode: "json_schema" | "tool",
  schema: Schema.Codec<A, I, never, never>,
  name: string
): Effect.Effect<
  { readonly codec: Schema.ConstraintCodec<A, unknown, never, never>; readonly jsonSchema: JsonSchema.JsonSchema },
  InvalidObjectOutput
> =>
  Effect.try({
    try: () =>
      mode === "tool"
        ? AnthropicStructuredOutput.toCodecAnthropic(schema)
        : OpenAiStructuredOutput.toCodecOpenAI(schema),
    catch: (error) =>
      new InvalidObjectOutput({
        name,
        path: "schema",
        detail: `the ${mode} mode cannot express the schema: ${error instanceof Error ? error.message : String(error)}`
          .slice(0, 500),
        repairs: 0
      })
  })

const FENCE = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/

const parseJson = (text: string): Result.Result<unknown, string> => {
  try {
    return Result.succeed(JSON.parse(FENCE.exec(text)?.[1] ?? text))
  } catch (error) {
    return Result.fail(`not JSON: ${error instanceof Error ? error.message : String(error)}`)
  }
}

const addUsage = (a: Usage, b: Usage): Usage =>
  makeUsage(
    a.inputTokens + b.inputTokens,
    a.outputTokens + b.outputTokens,
    (a.cachedInputTokens ?? 0) + (b.cachedInputTokens ?? 0)
  )

/** Which mode `auto` means for a model. */
export const resolveMode = (
  mode: ObjectMode | undefined,
  model: string,
  jsonSchema: JsonSchema.JsonSchema
): "json_schema" | "tool" => {
  // a JSON Schema document is an object; its optional `type` is read as unknown
  const isObject = (jsonSchema as { readonly type?: unknown }).type === "object"
  if (mode === "tool") return isObject ? "tool" : "json_schema"
  if (mode === "json_schema") return "json_schema"
  return model.startsWith("anthropic:") && isObject ? "tool" : "json_schema"
}

/**
 * Generates an object with `llm` (see the module doc for the rules). Fails with `InvalidObjectOutput` when `name` is
 * not 1–64 of `[A-Za-z0-9_-]` (at `name`, before any call) or the reply still is not JSON, lacks the forced tool call,
 * or does not decode after `repairs` repair rounds (at the bad field's path); with `LlmError` when an attempt's
 * `llm.generate` fails (see `Llm.generate`: an invalid call, an unknown model, a provider failure after retries and
 * fallbacks, a refusal of the rate limiter, breaker, guard, budget or queue, the deadline).
 *
 * @example
 * ```ts
 * const { object } = yield* Llm.generateObject({
 *   model: "fast",
 *   messages: [{ role: "user", content: "Extract the city: I live in Oslo" }],
 *   schema: Schema.Struct({ city: Schema.String })
 * })
 * ```
 */
export const generateObject = <A, I>(
  llm: LlmShape,
  options: GenerateObjectOptions<A, I>
): Effect.Effect<GeneratedObject<A>, LlmError | InvalidObjectOutput> =>
  Effect.gen(function*() {
    const name = options.name ?? "output"
    const decoded = Invalid.decode(
      ObjectOptions,
      {
        ...(options.name !== undefined ? { name: options.name } : {}),
        ...(options.mode !== undefined ? { mode: options.mode } : {}),
        ...(options.repairs !== undefined ? { repairs: options.repairs } : {})
      },
      "generateObject options",
      (f) => new InvalidObjectOutput({ name, path: f.path, detail: f.detail, repairs: 0 })
    )
    if (Result.isFailure(decoded)) return yield* decoded.failure
    const maxRepairs = decoded.success.repairs ?? 2
    // only the chosen mode's codec: `tool` needs Anthropic's (and an object schema), else OpenAI's
    const asked = decoded.success.mode
    const toolFirst = asked === "tool" || (asked !== "json_schema" && options.model.startsWith("anthropic:"))
    const first = yield* codecOf(toolFirst ? "tool" : "json_schema", options.schema, name)
    const mode = toolFirst ? resolveMode(asked, options.model, first.jsonSchema) : "json_schema"
    const { codec, jsonSchema } = mode === "tool" || !toolFirst ? first : yield* codecOf(mode, options.schema, name)
    const decode = Schema.decodeUnknownResult(codec)
    const messages: Array<LlmMessage> = [...options.messages]
    const base = {
      model: options.model,
      ...(options.params !== undefined ? { params: options.params } : {}),
      ...(options.options !== undefined ? { options: options.options } : {})
    }
    const shaped = mode === "tool"
      ? {
        tools: [{
          name,
          ...(options.description !== undefined ? { description: options.description } : {}),
          parameters: jsonSchema
        }],
        toolChoice: { tool: name }
      }
      : { responseFormat: { type: "json", name, schema: jsonSchema, strict: true } }
    let usage = makeUsage(0, 0)
    let repairs = 0
    while (true) {
      const result = yield* llm.generate({ ...base, ...shaped, messages } as unknown as LlmCallInput) // messages: non-empty (given)
      usage = addUsage(usage, result.usage)
      const call = mode === "tool" ? result.toolCalls.find((c) => c.name === name) : undefined
      const raw: Result.Result<unknown, string> = mode === "tool"
        ? call === undefined
          ? Result.fail(`expected a call of the ${name} tool`)
          : typeof call.arguments === "string"
          ? parseJson(call.arguments)
          : Result.succeed(call.arguments)
        : parseJson(result.text)
      const decoded = Result.isSuccess(raw) ? decode(raw.success, { errors: "all" }) : undefined
      if (decoded !== undefined && Result.isSuccess(decoded)) {
        return { object: decoded.success, result, mode, repairs, usage }
      }
      const failure = decoded === undefined
        ? { path: "", detail: Result.isFailure(raw) ? raw.failure : "" }
        // defined and not a success (checked above), so a failure
        : pathOf((decoded as Result.Failure<A, Schema.SchemaError>).failure)
      if (repairs >= maxRepairs) {
        return yield* new InvalidObjectOutput({ name, path: failure.path, detail: failure.detail, repairs })
      }
      repairs++
      const feedback = `The ${name} does not match the required JSON Schema${
        failure.path === "" ? "" : ` at ${failure.path}`
      }: ${failure.detail}`
      if (mode === "tool" && call !== undefined) {
        messages.push({ role: "assistant", content: result.text, toolCalls: [call] })
        messages.push({
          role: "tool",
          toolCallId: call.id,
          name,
          content: JSON.stringify({ error: feedback }),
          isError: true
        })
      } else {
        messages.push({ role: "assistant", content: result.text })
        messages.push({ role: "user", content: `${feedback}. Reply with only the corrected JSON.` })
      }
    }
  })
