/**
 * An in-memory stand-in for the `Redis` service (`effect/persistence`), for tests of the tiered cache that need
 * to hold, delay or fail single commands deterministically: `PING`, `GET`, `SET key value [PX ms]`, `UNLINK`,
 * `EXISTS`, `STRLEN` and `SCAN cursor MATCH pattern COUNT n` (a pattern is a literal prefix followed by `*`, as the
 * tier sends it, escaped with `escapeGlob`). `PX` is ignored: the tier's own stored expiry is what tests check.
 *
 * Hooks: `down` fails every command with a `RedisError`; `before(command, args)` may return a Promise the command
 * waits for (a gate, or a delay simulating a slow server). `log` lists the commands sent.
 */
import { Context, Effect } from "effect"
import { Redis } from "effect/persistence"

/** Hooks on a `MemoryRedis`. */
export interface MemoryRedisHooks {
  down: boolean
  before: ((command: string, args: ReadonlyArray<string>) => Promise<void> | void) | undefined
  readonly log: Array<string>
}

/** The stand-in: its data, its hooks and a context holding it as the `Redis` service. */
export interface MemoryRedis {
  readonly data: Map<string, string>
  readonly hooks: MemoryRedisHooks
  readonly context: Context.Context<Redis.Redis>
}

const unescapeGlob = (pattern: string): string => pattern.replace(/\\(.)/g, "$1")

const run = (data: Map<string, string>, command: string, args: ReadonlyArray<string>): unknown => {
  switch (command) {
    case "PING":
      return "PONG"
    case "GET":
      return data.get(args[0] ?? "") ?? null
    case "SET":
      data.set(args[0] ?? "", args[1] ?? "")
      return "OK"
    case "STRLEN":
      return Buffer.byteLength(data.get(args[0] ?? "") ?? "", "utf8")
    case "EXISTS":
      return args.filter((k) => data.has(k)).length
    case "UNLINK":
      return args.filter((k) => data.delete(k)).length
    case "SCAN": {
      // SCAN cursor MATCH pattern COUNT n: walks `count` keys of the whole keyspace per call, as Redis does
      const cursor = Number(args[0])
      const pattern = args[2] ?? "*"
      const count = Number(args[4] ?? "10")
      const prefix = unescapeGlob(pattern.endsWith("*") ? pattern.slice(0, -1) : pattern)
      const keys = [...data.keys()].sort()
      const slice = keys.slice(cursor, cursor + count)
      const next = cursor + count >= keys.length ? "0" : String(cursor + count)
      return [next, slice.filter((k) => k.startsWith(prefix))]
    }
    default:
      throw new Error(`MemoryRedis: unsupported command ${command}`)
  }
}

/** Builds an empty stand-in. */
export const makeMemoryRedis = (): MemoryRedis => {
  const data = new Map<string, string>()
  const hooks: MemoryRedisHooks = { down: false, before: undefined, log: [] }
  const send = <A = unknown>(command: string, ...args: ReadonlyArray<string>): Effect.Effect<A, Redis.RedisError> =>
    Effect.suspend(() => {
      hooks.log.push(command)
      if (hooks.down) return Effect.fail(new Redis.RedisError({ cause: new Error("connection refused (stand-in)") }))
      const gate = hooks.before?.(command, args)
      // each command's reply is the caller's A (Redis replies are untyped)
      const reply = Effect.sync(() => run(data, command, args) as A)
      return gate === undefined ? reply : Effect.andThen(Effect.promise(() => gate), reply)
    })
  // the tier uses `send` only; the other members are never called by these tests
  const service = { send } as unknown as Redis.Redis["Service"]
  return { data, hooks, context: Context.make(Redis.Redis, service) }
}

/** A Promise resolved by calling `open`. */
export const gate = (): { readonly wait: Promise<void>; readonly open: () => void } => {
  let open: () => void = () => {}
  const wait = new Promise<void>((resolve) => {
    open = resolve
  })
  return { wait, open }
}
