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
 * Bounds: canonical JSON descends at most `MAX_CANONICAL_DEPTH` (128) levels of nested arrays and objects; a deeper
 * value (20,000 levels would overflow the stack) is refused with the typed `CanonicalJsonTooDeep` (thrown by the
 * synchronous `canonicalJson` / `hashRequest*`, a failure `InvalidResponseRequest` of `makeResponseKey`), never a
 * `RangeError`.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { hash } from "node:crypto"
import * as Invalid from "../internal/InvalidInput.ts"
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

// Strings JSON.stringify would escape: `"`, `\\`, control characters, and (lone) surrogates — a pair is left as is by
// JSON.stringify, but checking every surrogate is simpler and only sends such strings down the slow path.
// eslint-disable-next-line no-control-regex -- the control characters JSON.stringify escapes, matched on purpose
const needsEscape = /[\u0000-\u001f"\\\ud800-\udfff]/
const quote = (s: string): string => (needsEscape.test(s) ? JSON.stringify(s) : `"${s}"`)

// Quoted member names (`"role":`), memoised: requests reuse a handful of field names.
const quotedKeys = new Map<string, string>()
const quoteKey = (k: string): string => {
  let q = quotedKeys.get(k)
  if (q === undefined) {
    q = `${quote(k)}:`
    if (quotedKeys.size < 1024) quotedKeys.set(k, q)
  }
  return q
}

// Insertion sort by UTF-16 code units (what `Array.prototype.sort()` does with no comparator), fast for the few
// keys of a request's objects.
const sortKeys = (keys: Array<string>): void => {
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string // i < length
    let j = i - 1
    // 0 <= j < i < keys.length
    while (j >= 0 && (keys[j] as string) > k) {
      // 0 <= j < keys.length
      keys[j + 1] = keys[j] as string
      j--
    }
    keys[j + 1] = k
  }
}

/** How many levels of nested arrays and objects canonical JSON descends before refusing the value. */
export const MAX_CANONICAL_DEPTH = 128

/** A value nested deeper than `MAX_CANONICAL_DEPTH` levels was given to `canonicalJson` (it is not keyed). */
export class CanonicalJsonTooDeep extends Schema.TaggedError<CanonicalJsonTooDeep>()("CanonicalJsonTooDeep", {
  maxDepth: Schema.Number
}) {
  override get message(): string {
    return `value nested deeper than ${this.maxDepth} levels cannot be keyed`
  }
}

const canonical = (value: unknown, depth: number): string => {
  if (typeof value === "string") return quote(value)
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null"
  if (depth >= MAX_CANONICAL_DEPTH) throw new CanonicalJsonTooDeep({ maxDepth: MAX_CANONICAL_DEPTH })
  if (Array.isArray(value)) {
    let out = "["
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ","
      const v: unknown = value[i]
      out += v === undefined ? "null" : canonical(v, depth + 1)
    }
    return out + "]"
  }
  // a non-null, non-array object (the cases above return), read by key
  const record = value as Record<string, unknown>
  const keys = Object.keys(record)
  if (keys.length > 1) sortKeys(keys)
  let out = "{"
  let first = true
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string // i < length
    const v = record[k]
    if (v === undefined) continue
    if (first) first = false
    else out += ","
    out += quoteKey(k) + canonical(v, depth + 1)
  }
  return out + "}"
}

/**
 * Canonical JSON: object keys sorted recursively, `undefined` members dropped, arrays kept in order.
 * (The output of `JSON.stringify` with sorted keys, built in one pass without per-member arrays.)
 * Throws `CanonicalJsonTooDeep` for a value nested deeper than `MAX_CANONICAL_DEPTH` levels.
 */
export const canonicalJson = (value: unknown): string => canonical(value, 0)

/** Collapses whitespace runs to one space and trims. */
export const normalizeWhitespace = (text: string): string => text.replace(/\s+/g, " ").trim()

const normalizePart = (part: Schema.Json): Schema.Json => {
  if (typeof part === "object" && part !== null && !Array.isArray(part)) {
    // a JSON object (a non-null, non-array JSON value), whose values are JSON
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
export const hashRequest = (input: ResponseKeyInput): string => hash("sha256", canonicalJson(input), "hex")

/**
 * `hashRequest({ provider, model, messages, params, tools?, toolChoice? })` (absent members omitted), written without
 * building that record or sorting its keys: the response-cache step of the LLM pipeline keys every call with it.
 * `messages` and `params` are JSON values; the key is the same as `hashRequest`'s for the same record.
 */
export const hashRequestFields = (
  provider: string,
  model: string,
  messages: unknown,
  params: unknown,
  tools: unknown,
  toolChoice: unknown
): string => {
  // members in sorted order: messages, model, params, provider, toolChoice, tools
  let out = messages === undefined
    ? `{"model":${quote(model)}`
    : `{"messages":${canonicalJson(messages)},"model":${quote(model)}`
  if (params !== undefined) out += `,"params":${canonicalJson(params)}`
  out += `,"provider":${quote(provider)}`
  if (toolChoice !== undefined) out += `,"toolChoice":${canonicalJson(toolChoice)}`
  if (tools !== undefined) out += `,"tools":${canonicalJson(tools)}`
  return hash("sha256", out + "}", "hex")
}

/** The cache key of a decoded request. */
export const responseKey = (input: ResponseKeyInput, namespace: string): string =>
  `${namespace}:${encodeURIComponent(input.model)}:${hashRequest(input)}`

/** The key prefix shared by every response of `model`. */
export const modelPrefix = (model: string, namespace: string): string => `${namespace}:${encodeURIComponent(model)}:`

const decodeInput = Schema.decodeUnknownEffect(ResponseKeyInput)

/**
 * Decodes an untrusted request (failing with the path of the bad field), normalises it if asked, and keys it.
 * A request nested deeper than `MAX_CANONICAL_DEPTH` fails with `InvalidResponseRequest` (before any decoding).
 */
export const makeResponseKey = (
  request: unknown,
  options: { readonly namespace: string; readonly normalize: boolean }
): Effect.Effect<string, InvalidResponseRequest> =>
  Effect.suspend(() => {
    if (nestedDeeperThan(request, MAX_CANONICAL_DEPTH + 2)) { // the request record and its fields add two levels
      return Effect.fail(InvalidResponseRequest.at("", `nested deeper than ${MAX_CANONICAL_DEPTH} levels`))
    }
    return decodeInput(request).pipe(
      Effect.mapError((e) => {
        return Invalid.fromSchemaError(e, "LLM request for the response cache", (f) => new InvalidResponseRequest(f))
      }),
      Effect.flatMap((input) =>
        Effect.try({
          try: () => responseKey(options.normalize ? normalizeRequest(input) : input, options.namespace),
          catch: (e) => InvalidResponseRequest.at("", e instanceof CanonicalJsonTooDeep ? e.message : String(e))
        })
      )
    )
  })

/**
 * True when `value` has arrays or objects nested more than `max` levels deep. Iterative (an explicit stack), so
 * it never overflows however deep the value; each object or array is visited once per path.
 */
export const nestedDeeperThan = (value: unknown, max: number): boolean => {
  if (value === null || typeof value !== "object") return false
  const stack: Array<readonly [unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as readonly [unknown, number] // length > 0
    if (node === null || typeof node !== "object") continue
    if (depth > max) return true
    const children: ReadonlyArray<unknown> = Array.isArray(node) ? node : Object.values(node)
    for (const child of children) if (child !== null && typeof child === "object") stack.push([child, depth + 1])
  }
  return false
}
