/**
 * Shared gate for tests that talk to a real Redis server.
 *
 * Tests of a Redis backend use the server at `REDIS_URL` (default `redis://127.0.0.1:6379`). On a machine where
 * no server answers, those tests are skipped with a clear message, except under `CI=true`, where a missing
 * server is a failure. Every test run gets its own key prefix, and `cleanupRedisPrefix` removes what it wrote.
 */
import { Effect } from "effect"
import { Redis } from "effect/persistence"
import { randomUUID } from "node:crypto"
import { createConnection } from "node:net"
import { describe, it as vitestIt } from "vitest"

export const redisUrl: string = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

const parsed = new URL(redisUrl)
const host = parsed.hostname || "127.0.0.1"
const port = Number(parsed.port || 6379)

/** Sends a PING over a raw socket; resolves true when the server answers +PONG (or -NOAUTH) within 1 s. */
export const pingRedis = (): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createConnection({ host, port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once("error", () => done(false))
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString())))
  })

/** Top-level await in a test file: whether the Redis server answers. */
export const redisUp: boolean = await pingRedis()

/** A key prefix unique to this test run (and process). */
export const uniquePrefix = (label: string): string =>
  `troupe-test:${label}:${process.pid}:${randomUUID().slice(0, 8)}:`

/**
 * `describe` for Redis-backed tests: runs when Redis answers; otherwise skips with a message, or, under
 * `CI=true`, registers one failing test saying that the server is missing.
 */
export const describeRedis = (name: string, body: () => void): void => {
  if (redisUp) {
    describe(name, body)
  } else if (process.env["CI"] === "true") {
    describe(name, () => {
      vitestIt(`needs Redis at ${redisUrl}`, () => {
        throw new Error(`Redis is not answering at ${redisUrl}; under CI=true Redis-backed tests must run`)
      })
    })
  } else {
    describe.skip(`${name} (skipped: no Redis answering at ${redisUrl}; set REDIS_URL or start redis-server)`, body)
  }
}

/** Deletes every key under `prefix` (SCAN + UNLINK), through effect's `Redis` service. */
export const cleanupRedisPrefix = (prefix: string): Effect.Effect<void, Redis.RedisError, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    let cursor = "0"
    do {
      const [next, keys] = yield* redis.send<[string, Array<string>]>(
        "SCAN",
        cursor,
        "MATCH",
        `${prefix}*`,
        "COUNT",
        "1000"
      )
      cursor = next
      if (keys.length > 0) yield* redis.send("UNLINK", ...keys)
    } while (cursor !== "0")
  })
