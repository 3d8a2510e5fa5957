/**
 * Typed errors of the cache subsystem.
 *
 * Every error is a `Schema.TaggedError`, so it can cross a process boundary (RPC, persistence) and be matched
 * with `Effect.catchTag`. Errors name the offending field (`path`) or key so that a bad option or an oversized
 * input is reported as readably as a Schema decode failure. Redis failures are never surfaced to callers: the
 * tiered cache degrades to its L1 tier instead (see `RedisTier.ts`), so there is no Redis error here.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"

/**
 * Invalid cache or call options. `path` is the dotted path of the bad field (e.g. `namespaces.llm.ttl`).
 *
 * @example
 * ```ts
 * Effect.catchTag("InvalidCacheOptions", (e) => Effect.logError(`${e.path}: ${e.reason}`))
 * ```
 */
export class InvalidCacheOptions
  extends Schema.TaggedError<InvalidCacheOptions>()("InvalidCacheOptions", Invalid.InvalidInputFields)
{
  /** An `InvalidCacheOptions` for a rule Schema cannot express, at `path` (`a.b[2].c`). */
  static at(path: string, detail: string): InvalidCacheOptions {
    return new InvalidCacheOptions(Invalid.fields("cache options", path, detail))
  }

  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** A key longer than `maxKeyBytes` (UTF-8). `preview` holds the first 64 characters of the key. */
export class CacheKeyTooLarge extends Schema.TaggedError<CacheKeyTooLarge>()("CacheKeyTooLarge", {
  preview: Schema.String,
  bytes: Schema.Number,
  maxKeyBytes: Schema.Number
}) {
  override get message(): string {
    return `cache key of ${this.bytes} bytes exceeds maxKeyBytes (${this.maxKeyBytes}): "${this.preview}…"`
  }
}

/** A value whose size exceeds `maxValueBytes`, or that could never fit in `maxBytes`. */
export class CacheValueTooLarge extends Schema.TaggedError<CacheValueTooLarge>()("CacheValueTooLarge", {
  key: Schema.String,
  bytes: Schema.Number,
  limit: Schema.Number,
  limitName: Schema.Literals(["maxValueBytes", "maxBytes"])
}) {
  override get message(): string {
    return `cache value for "${this.key}" is ${this.bytes} bytes, over ${this.limitName} (${this.limit})`
  }
}

/** A value the tiered cache could not encode with its value Schema for the Redis tier. */
export class CacheValueEncodingError extends Schema.TaggedError<CacheValueEncodingError>()(
  "CacheValueEncodingError",
  { key: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `cache value for "${this.key}" cannot be encoded for the Redis tier: ${this.reason}`
  }
}

/** Errors of `put` (and of the storing step of `getOrCompute`). */
export type CachePutError = CacheKeyTooLarge | CacheValueTooLarge | CacheValueEncodingError | InvalidCacheOptions

/** An LLM request given to the response cache that does not match `ResponseKeyInput`; `path` names the field. */
export class InvalidResponseRequest
  extends Schema.TaggedError<InvalidResponseRequest>()("InvalidResponseRequest", Invalid.InvalidInputFields)
{
  /** An `InvalidResponseRequest` for a rule Schema cannot express, at `path` (`a.b[2].c`). */
  static at(path: string, detail: string): InvalidResponseRequest {
    return new InvalidResponseRequest(Invalid.fields("LLM request for the response cache", path, detail))
  }

  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}
