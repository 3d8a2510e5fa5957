/**
 * The Schema of `Troupe.layer`'s plain options (names, URLs, sizes). Options that carry functions (scripted
 * rules) or another service's options are decoded by that service's own layer, with its own typed errors.
 */
import { Schema } from "effect"

const Name = Schema.String.pipe(Schema.check(Schema.isMinLength(1)))
const RedisUrl = Schema.String.pipe(Schema.check(Schema.isPattern(/^rediss?:\/\/[^\s]+$/)))

export const TroupeOptionsSchema = Schema.Struct({
  name: Schema.optionalKey(Name),
  redis: Schema.optionalKey(Schema.Struct({ url: RedisUrl, prefix: Schema.optionalKey(Name) })),
  cache: Schema.optionalKey(Schema.Struct({
    maxEntries: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))),
    defaultTtl: Schema.optionalKey(Schema.Union([Schema.String, Schema.Number]))
  })),
  memory: Schema.optionalKey(Schema.Struct({
    maxMessages: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1))))
  })),
  agents: Schema.optionalKey(Schema.Struct({
    name: Schema.optionalKey(Name),
    maxRestarts: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))),
    maxSeconds: Schema.optionalKey(Schema.Number.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))))
  }))
})
