/**
 * The Redis DLQ backend: a Redis stream as the arrival log plus three hashes. Layout under `prefix`: `s` a stream
 * with one entry (`id <letter id>`) per letter, in arrival order; `l` a hash letter id → letter JSON; `x` a hash
 * letter id → its stream entry id; `v` a hash letter id → the letter's version, `<status>:<redrives>:<claimedAt>`
 * (`claimedAt` empty when unclaimed). Insert, compare-and-set (on the version) and remove are each one Lua script,
 * so two processes never both claim a letter.
 *
 * The compare-and-set reads the version from `v` and never decodes the letter: Redis's cjson refuses JSON nested
 * 1,000 levels or more, so a script that decoded a letter would fail on a hostile input. A letter stored before `v`
 * existed (no version entry) is compared on the status, `redrives` and `claimedAt` decoded from its JSON, and gets
 * its version entry at its first change; if that JSON does not decode in cjson the swap fails with a `DlqStoreError`
 * naming the letter (a redrive skips it and reports why).
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
import type { DlqStoreShape, SwapExpected } from "./DlqStore.ts"

const PUT = `
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local sid = redis.call('XADD', KEYS[1], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], sid)
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
return 1`

// ARGV: id, expected version, next letter JSON, next version; -1: a letter of the old layout that does not decode
const SWAP = `
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not cur then return 0 end
local version = redis.call('HGET', KEYS[4], ARGV[1])
if not version then
  local ok, letter = pcall(cjson.decode, cur)
  if not ok or type(letter) ~= 'table' then return -1 end
  local redrives = tonumber(letter['redrives'])
  local claimed = tonumber(letter['claimedAt'])
  if type(letter['status']) ~= 'string' or not redrives then return -1 end
  version = letter['status'] .. ':' .. string.format('%d', redrives) .. ':' ..
    (claimed and string.format('%d', claimed) or '')
end
if version ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
return 1`

const REMOVE = `
local n = 0
for _, id in ipairs(ARGV) do
  local sid = redis.call('HGET', KEYS[3], id)
  if sid then redis.call('XDEL', KEYS[1], sid) end
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  n = n + redis.call('HDEL', KEYS[2], id)
end
return n`

/** A letter's version as `v` keeps it (integers print the same in Lua's `%d`). */
const versionOf = (v: SwapExpected): string => `${v.status}:${v.redrives}:${v.claimedAt ?? ""}`

const decodeLetter = Schema.decodeUnknownEffect(Schema.fromJsonString(DeadLetter))

const storeError = (operation: string, id?: string) => (cause: unknown): DlqStoreError =>
  new DlqStoreError({
    operation,
    detail: cause instanceof Error ? cause.message : String(cause),
    ...(id !== undefined ? { id } : {})
  })

/** A Redis store under `prefix`. */
export const makeRedisDlqStore = (redis: Redis.Redis["Service"], prefix: string): DlqStoreShape => {
  const keys = [`${prefix}s`, `${prefix}l`, `${prefix}x`, `${prefix}v`] as const
  const decode = (operation: string, json: string, id?: string) =>
    decodeLetter(json).pipe(Effect.mapError(storeError(operation, id)))
  const send = <A>(operation: string, command: string, ...args: ReadonlyArray<string>) =>
    redis.send<A>(command, ...args).pipe(Effect.mapError(storeError(operation)))
  return {
    put: (letter) =>
      send<number>("put", "EVAL", PUT, "4", ...keys, letter.id, JSON.stringify(letter), versionOf(letter)).pipe(
        Effect.map((n) => n === 1)
      ),
    get: (id) =>
      send<string | null>("get", "HGET", keys[1], id).pipe(
        Effect.flatMap((json) => json === null ? Effect.succeed(undefined) : decode("get", json, id))
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
        "4",
        ...keys,
        next.id,
        versionOf(expected),
        JSON.stringify(next),
        versionOf(next)
      ).pipe(
        Effect.flatMap((n) =>
          n === -1
            ? Effect.fail(
              new DlqStoreError({
                operation: "swap",
                detail: "the stored letter (of an earlier layout) does not decode in Redis's cjson (nested too deep?)",
                id: next.id
              })
            )
            : Effect.succeed(n === 1)
        )
      ),
    remove: (ids) => ids.length === 0 ? Effect.succeed(0) : send<number>("remove", "EVAL", REMOVE, "4", ...keys, ...ids)
  }
}
