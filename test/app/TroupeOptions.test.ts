/** The Schema of `Troupe.layer`'s options: what it accepts of a Redis URL, and how it reports one it refuses. */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Schema } from "effect"
import { Troupe } from "../../src/app/index.ts"
import { InvalidTroupeOptions, toInvalidTroupeOptions, TroupeOptionsSchema } from "../../src/app/TroupeOptions.ts"

const decodeRedisUrl = (url: string) =>
  Schema.decodeUnknownEffect(TroupeOptionsSchema)({ redis: { url } }).pipe(
    Effect.mapError((error) => toInvalidTroupeOptions(error))
  )

// a URL the Redis client refuses when it is built (node-redis throws on each of these)
const refused = [
  "redis://127.0.0.1:abc",
  "redis://127.0.0.1:6379/notadb",
  "redis://127.0.0.1:99999",
  "redis://127.0.0.1:0",
  "redis://127.0.0.1:6379/3/4",
  "redis://:p%ZZsecretpw@127.0.0.1:6379",
  "redis://us%ZZer:secretpw@127.0.0.1:6379",
  "redis://:@",
  "localhost:6379"
]

describe("TroupeOptions: redis.url", () => {
  it.effect("a redis url the client would refuse is InvalidTroupeOptions at redis.url, and the error never holds the URL or its password", () =>
    Effect.gen(function*() {
      for (const url of refused) {
        const error = yield* Effect.flip(decodeRedisUrl(url))
        assert.instanceOf(error, InvalidTroupeOptions, url)
        assert.strictEqual(error.path, "redis.url", url)
        assert.notInclude(error.message, "secretpw", url)
        assert.notInclude(error.message, url, url)
      }
    }))

  it.effect("a redis or rediss url with a host, a port from 1 to 65535, an optional database number and percent-encoded credentials is accepted", () =>
    Effect.gen(function*() {
      for (
        const url of [
          "redis://127.0.0.1:6379",
          "redis://localhost",
          "redis://127.0.0.1:6379/",
          "redis://127.0.0.1:6379/3",
          "rediss://user:p%40ss@cache.example.com:6380/2",
          "redis://[::1]:6379",
          "redis://:only-a-password@127.0.0.1:65535"
        ]
      ) {
        const exit = yield* Effect.exit(decodeRedisUrl(url))
        assert.isTrue(Exit.isSuccess(exit), `${url}: ${String(exit)}`)
      }
    }))

  it.effect("a redis url the schema accepts but the client refuses fails Troupe.layer typed (InvalidTroupeOptions), never as a defect", () =>
    Effect.gen(function*() {
      for (const url of ["redis://127.0.0.1:abc", "redis://127.0.0.1:6379/notadb", "redis://127.0.0.1:99999"]) {
        const exit = yield* Effect.exit(
          Layer.build(Troupe.layer({ redis: { url }, config: { env: {} } })).pipe(Effect.scoped)
        )
        assert.isTrue(Exit.isFailure(exit), url)
        if (Exit.isFailure(exit)) {
          assert.isFalse(Cause.hasDies(exit.cause), `${url}: ${Cause.pretty(exit.cause)}`)
          const error = exit.cause.reasons.find(Cause.isFailReason)?.error
          assert.instanceOf(error, InvalidTroupeOptions, url)
          assert.strictEqual((error as InvalidTroupeOptions).path, "redis.url") // the instanceOf just above
        }
      }
    }))
})
