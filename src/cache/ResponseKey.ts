/**
 * Response-cache keys for LLM calls: a SHA-256 over a canonical JSON of everything that determines the answer.
 *
 * `ResponseKeyInput` is the Schema of that input — provider, model and model version, system prompt, messages,
 * tools and tool choice, and sampling parameters. Canonical JSON sorts object keys recursively and drops
 * `undefined`, so two requests that differ only in key order or in absent optional fields share a key. Optional
 * prompt normalisation collapses whitespace runs to one space and trims, in the system prompt and in the text of
 * messages (plain strings and `{ type: "text", text }` parts).
 *
 * The cache key is `<namespace>:<model>:<sha256 hex>` with the model URI-encoded, so `invalidateModel(model)` is a
 * prefix clear (`<namespace>:<model>:`) that cannot touch another model whose name merely starts the same way.
 * Reuses `node:crypto` for SHA-256 (synchronous, no Effect needed) and Effect `Schema` for the input.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { createHash } from "node:crypto"
import { InvalidResponseRequest } from "./CacheError.ts"
import { issueToError } from "./CacheOptions.ts"

const NonEmpty = Schema.String.pipe(Schema.check(Schema.isMinLength(1)))

/** One chat message: a role and a string or an array of content parts (JSON). */
export const ResponseKeyMessage = Schema.Struct({
  role: NonEmpty,
  content: Schema.Union([Schema.String, Schema.Array(Schema.Json)]),
  name: Schema.optionalKey(Schema.String),
  toolCallId: Schema.optionalKey(Schema.String)
})

/** What determines an LLM answer, i.e. the input of a response-cache key. */
export const ResponseKeyInput = Schema.Struct({
  provider: NonEmpty,
  model: NonEmpty,
  modelVersion: Schema.optionalKey(Schema.String),
  system: Schema.optionalKey(Schema.String),
  messages: Schema.Array(ResponseKeyMessage),
  tools: Schema.optionalKey(Schema.Array(Schema.Json)),
  toolChoice: Schema.optionalKey(Schema.Json),
  /** Sampling and decoding parameters: temperature, topP, topK, maxTokens, seed, stop, responseFormat, … */
  params: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json))
})
export type ResponseKeyInput = typeof ResponseKeyInput.Type

/** Canonical JSON: object keys sorted recursively, `undefined` members dropped, arrays kept in order. */
export const canonicalJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null"
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`
  const record = value as Record<string, unknown>
  const members = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`)
  return `{${members.join(",")}}`
}

/** Collapses whitespace runs to one space and trims. */
export const normalizeWhitespace = (text: string): string => text.replace(/\s+/g, " ").trim()

const normalizePart = (part: Schema.Json): Schema.Json => {
  if (typeof part === "object" && part !== null && !Array.isArray(part)) {
    const record = part as { readonly [k: string]: Schema.Json }
    const text = record["text"]
    if (record["type"] === "text" && typeof text === "string") return { ...record, text: normalizeWhitespace(text) }
  }
  return part
}

/** Applies prompt normalisation to the system prompt and the messages' text. */
export const normalizeRequest = (input: ResponseKeyInput): ResponseKeyInput => ({
  ...input,
  ...(input.system !== undefined ? { system: normalizeWhitespace(input.system) } : {}),
  messages: input.messages.map((m) => ({
    ...m,
    content: typeof m.content === "string" ? normalizeWhitespace(m.content) : m.content.map(normalizePart)
  }))
})

/** SHA-256 (hex) of the canonical JSON of `input`. */
export const hashRequest = (input: ResponseKeyInput): string =>
  createHash("sha256").update(canonicalJson(input)).digest("hex")

/** The cache key of a decoded request. */
export const responseKey = (input: ResponseKeyInput, namespace: string): string =>
  `${namespace}:${encodeURIComponent(input.model)}:${hashRequest(input)}`

/** The key prefix shared by every response of `model`. */
export const modelPrefix = (model: string, namespace: string): string => `${namespace}:${encodeURIComponent(model)}:`

const decodeInput = Schema.decodeUnknownEffect(ResponseKeyInput)

/** Decodes an untrusted request (failing with the path of the bad field), normalises it if asked, and keys it. */
export const makeResponseKey = (
  request: unknown,
  options: { readonly namespace: string; readonly normalize: boolean }
): Effect.Effect<string, InvalidResponseRequest> =>
  decodeInput(request).pipe(
    Effect.mapError((e) => {
      const error = issueToError(e.issue, "")
      return new InvalidResponseRequest({ path: error.path, reason: error.reason })
    }),
    Effect.map((input) => responseKey(options.normalize ? normalizeRequest(input) : input, options.namespace))
  )
