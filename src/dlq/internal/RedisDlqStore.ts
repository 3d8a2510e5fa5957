/**
 * The Redis DLQ backend: a Redis stream as the arrival log plus two hashes. Layout under `prefix`: `s` a stream with
 * one entry (`id <letter id>`) per letter, in arrival order; `l` a hash letter id → letter JSON; `x` a hash letter
 * id → its stream entry id. Insert, compare-and-set (on status and `redrives`) and remove are each one Lua script,
 * so two processes never both claim a letter.
 *
 * Why a stream and hashes, not a stream alone: a stream entry cannot be changed in place nor found by a field, and
 * redrive must compare-and-set one letter's status by its id (`dead` → `redriving` → `redriven`/`dead`), so the
 * letter itself lives in `l`; the stream keeps the oldest-first order of `list` and `redriveMany` (`XRANGE`), and
 * `x` lets purge `XDEL` a letter's entry. Consumer groups (`XREADGROUP`/`XACK`) are not used: they hand each entry to
 * one consumer once, while list, inspect, redrive and purge select by any filter over every letter, tombstones
 * included. A filter is applied in the process over the whole log (`XRANGE` + `HMGET`), which suits a queue of
 * failures (bounded by purges), not millions of letters. @internal
 */
import { Effect, Schema } from "effect"
import type { Redis } from "effect/persistence"
import { DeadLetter } from "../DeadLetter.ts"
import { DlqStoreError } from "../DlqError.ts"
import type { DlqStoreShape } from "./DlqStore.ts"

const PUT = `
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local sid = redis.call('XADD', KEYS[1], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], sid)
return 1`

const SWAP = `
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not cur then return 0 end
local letter = cjson.decode(cur)
if letter['status'] ~= ARGV[2] or letter['redrives'] ~= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1`

const REMOVE = `
local n = 0
for _, id in ipairs(ARGV) do
  local sid = redis.call('HGET', KEYS[3], id)
  if sid then redis.call('XDEL', KEYS[1], sid) end
  redis.call('HDEL', KEYS[3], id)
  n = n + redis.call('HDEL', KEYS[2], id)
end
return n`

const decodeLetter = Schema.decodeUnknownEffect(Schema.fromJsonString(DeadLetter))

const storeError = (operation: string) => (cause: unknown): DlqStoreError =>
  new DlqStoreError({ operation, detail: cause instanceof Error ? cause.message : String(cause) })

/** A Redis store under `prefix`. */
export const makeRedisDlqStore = (redis: Redis.Redis["Service"], prefix: string): DlqStoreShape => {
  const keys = [`${prefix}s`, `${prefix}l`, `${prefix}x`] as const
  const decode = (operation: string, json: string) => decodeLetter(json).pipe(Effect.mapError(storeError(operation)))
  const send = <A>(operation: string, command: string, ...args: ReadonlyArray<string>) =>
    redis.send<A>(command, ...args).pipe(Effect.mapError(storeError(operation)))
  return {
    put: (letter) =>
      send<number>("put", "EVAL", PUT, "3", ...keys, letter.id, JSON.stringify(letter)).pipe(
        Effect.map((n) => n === 1)
      ),
    get: (id) =>
      send<string | null>("get", "HGET", keys[1], id).pipe(
        Effect.flatMap((json) => json === null ? Effect.succeed(undefined) : decode("get", json))
      ),
    all: () =>
      Effect.gen(function*() {
        const entries = yield* send<ReadonlyArray<[string, ReadonlyArray<string>]>>("all", "XRANGE", keys[0], "-", "+")
        const ids = entries.map(([, fields]) => fields[1] ?? "")
        if (ids.length === 0) return []
        const jsons = yield* send<ReadonlyArray<string | null>>("all", "HMGET", keys[1], ...ids)
        const out: Array<DeadLetter> = []
        for (const json of jsons) if (json !== null) out.push(yield* decode("all", json))
        return out
      }),
    swap: (expected, next) =>
      send<number>(
        "swap",
        "EVAL",
        SWAP,
        "3",
        ...keys,
        next.id,
        expected.status,
        JSON.stringify(next),
        String(expected.redrives)
      ).pipe(
        Effect.map((n) => n === 1)
      ),
    remove: (ids) => ids.length === 0 ? Effect.succeed(0) : send<number>("remove", "EVAL", REMOVE, "3", ...keys, ...ids)
  }
}
