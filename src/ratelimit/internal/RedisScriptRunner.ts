/**
 * How the Redis backend runs its Lua scripts: `EVALSHA` with a SHA-1 computed locally, `SCRIPT LOAD` and one
 * retry on `NOSCRIPT` (a restarted or flushed server), and the store timeout enforced where it costs nothing
 * per call.
 *
 * Two transports, chosen once when the layer is built:
 * - `NodeRedis` in context (the usual Node setup, `NodeRedis.layer` from `@effect/platform-node`): the runner
 *   opens its *own* connection, a `duplicate` of that client with `disableOfflineQueue: true`, and sends
 *   straight to it (`sendCommand`), each command wrapped in one `Effect.callback`. While the connection is
 *   down a command fails at once with a connection error (it never waits in an offline queue); a command
 *   written to a server that stops answering is failed by a shared watchdog (below) after `storeTimeout` —
 *   no Effect-level race and no timer per command. Commands go through a `WriteBurst` gate: in one event-loop
 *   turn the first 16 are written at once and the rest of the burst one turn later, so Redis works on the first
 *   part while Node produces the rest (measured there). Releasing the layer closes the connection, and destroys
 *   it if the close has not completed within the store timeout (a stopped server never answers the commands
 *   still in flight, and node-redis's `close` waits for them), so release never hangs.
 * - only effect's generic `Redis` service (another platform's client): commands go through `Redis.send`
 *   and the timeout is an Effect-level race against a real-time timer (~25 µs per call measured, so only used
 *   where the client cannot do it itself); such a client's own offline queue and release are its own.
 * In both cases the timer is real time, never the Effect `Clock`, so a hung Redis is detected under
 * `TestClock` too.
 *
 * Failures are classified (`RateLimitStoreError.kind`): `connection` (no connection, the socket closed, the
 * client offline), `timeout` (no reply within the store timeout: the server may be slow or stalled) and
 * `command` (Redis answered with an error). The backend's failure policy tells "slow" from "down" by it.
 *
 * Why not effect's `Redis.eval`: it looks each script up in an Effect `Cache` on every call (a measurable
 * share of a ~40 µs round trip) and cannot pass a per-command option to the client. The NOSCRIPT handling
 * is the same idea (load, run by SHA, reload once).
 *
 * `@effect/platform-node/NodeRedis` is imported when a runner is made, not when this module loads, so importing
 * troupe never loads node-redis (a program without a Redis limiter never runs it, bundled or not).
 */
import type * as NodeRedis from "@effect/platform-node/NodeRedis"
import { Effect, Option, type Scope } from "effect"
import { Redis } from "effect/persistence"
import { createHash } from "node:crypto"
import { Watchdog, type WatchdogEntry } from "../../internal/Watchdog.ts"
import { WriteBurst } from "../../internal/WriteBurst.ts"
import { RateLimitStoreError, type StoreErrorKind } from "../RateLimitError.ts"

/** A Lua script and its SHA-1 (what `EVALSHA` names it by). */
export interface LuaScript {
  readonly lua: string
  readonly sha: string
}

/** A Lua script with its SHA-1, for EVALSHA. */
export const luaScript = (lua: string): LuaScript => ({ lua, sha: createHash("sha1").update(lua).digest("hex") })

/** Runs scripts and plain commands; failures (including timeouts) are `RateLimitStoreError`s. */
export interface RedisScriptRunner {
  /** `EVALSHA script keys… args…` (loads the script and retries once on NOSCRIPT). */
  readonly run: <A>(
    operation: string,
    script: LuaScript,
    keys: ReadonlyArray<string>,
    args: ReadonlyArray<string>
  ) => Effect.Effect<A, RateLimitStoreError>
  readonly send: <A>(operation: string, args: ReadonlyArray<string>) => Effect.Effect<A, RateLimitStoreError>
  /**
   * `run` fused with its continuation, over a command already built (the whole `EVALSHA sha numkeys keys…
   * args…`, so the hot path builds one array): the reply goes to `onReply`, a failure (after the one
   * NOSCRIPT retry, or a timeout) to `onError`, and the call is one `Effect.callback` on the node-redis
   * transport — no `catchIf`, `map` or `catch` frames around it (the rate limiter's hot path). Same outcome as
   * `Effect.matchEffect(run(…), { onSuccess: onReply, onFailure: onError })`, which it is on the other transport.
   */
  readonly runCommandWith: <R, A, E>(
    operation: string,
    script: LuaScript,
    command: ReadonlyArray<string>,
    onReply: (reply: R) => Effect.Effect<A, E>,
    onError: (error: RateLimitStoreError) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E>
  /** which transport was chosen */
  readonly transport: "node-redis" | "redis-service"
}

const describe = (error: unknown): string =>
  error instanceof Error ? (error.message === "" ? error.name : `${error.name}: ${error.message}`) : String(error)

/**
 * node-redis's `ErrorReply` class (Redis answered with an error), loaded with node-redis when a runner is made so that
 * importing this module never loads `redis`; until then no reply can have come, so nothing is a command error.
 */
let ErrorReply: (abstract new(...args: never) => Error) | undefined

const kindOf = (inner: unknown): StoreErrorKind =>
  inner instanceof Error && inner.name === "TimeoutError"
    ? "timeout"
    : ErrorReply !== undefined && inner instanceof ErrorReply
    ? "command"
    : "connection"

const storeError = (operation: string, timeoutMs: number) => (cause: unknown): RateLimitStoreError => {
  const inner = cause instanceof Redis.RedisError ? cause.cause : cause
  const kind = kindOf(inner)
  const reason = kind === "timeout" ? `no reply within ${timeoutMs} ms` : describe(inner)
  return new RateLimitStoreError({ operation, reason, kind, cause })
}

const timeoutError = (operation: string, ms: number): RateLimitStoreError =>
  new RateLimitStoreError({ operation, reason: `no reply within ${ms} ms`, kind: "timeout" })

const isNoScript = (error: RateLimitStoreError): boolean => error.reason.includes("NOSCRIPT")

/** Fails with a store error when `self` has not completed after `ms` of real time (not the Effect Clock). */
const withRealTimeout =
  (ms: number, operation: string) =>
  <A>(self: Effect.Effect<A, RateLimitStoreError>): Effect.Effect<A, RateLimitStoreError> =>
    Number.isFinite(ms)
      ? Effect.raceFirst(
        self,
        Effect.callback<never, RateLimitStoreError>((resume) => {
          const timer = setTimeout(() => resume(Effect.fail(timeoutError(operation, ms))), ms)
          return Effect.sync(() => clearTimeout(timer))
        })
      )
      : self

type NodeRedisClient = NodeRedis.NodeRedis["Service"]["client"]

/**
 * The runner's own connection: a duplicate of `client` that never queues commands while offline, connected
 * now (waiting at most the store timeout: a server that is down at start only makes the first calls fail
 * fast), and released by `close`, or `destroy` when the close has not completed within the store timeout.
 */
export const ownConnection = (
  client: NodeRedisClient,
  timeoutMs: number
): Effect.Effect<NodeRedisClient, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const own = client.duplicate({ disableOfflineQueue: true }) as NodeRedisClient // same client type as its parent
      own.on("error", () => undefined) // failures reach the callers as store errors; node-redis reconnects by itself
      const connecting = own.connect().then(() => undefined, () => undefined)
      const limit = Number.isFinite(timeoutMs) ? timeoutMs : 5_000
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        connecting,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, limit)
        })
      ])
      clearTimeout(timer)
      return own
    }),
    (own) =>
      Effect.promise(async () => {
        if (!own.isOpen) return
        const limit = Number.isFinite(timeoutMs) ? timeoutMs : 5_000
        let timer: ReturnType<typeof setTimeout> | undefined
        const closed = await Promise.race([
          own.close().then(() => true, () => true),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), limit)
          })
        ])
        clearTimeout(timer)
        if (!closed && own.isOpen) own.destroy()
      })
  )

/**
 * Commands per event-loop turn written at once before the rest of a burst waits one turn (see `WriteBurst`:
 * 16 measured best of 8, 16 and 32 at 64 concurrent checks).
 */
const BURST_LIMIT = 16

/** `EVALSHA sha numkeys ...keys ...args` in one array, without spread iterators. */
const evalShaCommand = (
  sha: string,
  keys: ReadonlyArray<string>,
  args: ReadonlyArray<string>
): Array<string> => {
  const command = ["EVALSHA", sha, String(keys.length)]
  for (let i = 0; i < keys.length; i++) command.push(keys[i] as string) // i < keys.length
  for (let i = 0; i < args.length; i++) command.push(args[i] as string) // i < args.length
  return command
}

/** `runCommandWith` over `runCommand`, for the transports without a fused path: the same outcome, with the usual frames. */
const fusedRun = (
  runCommand: <A>(operation: string, script: LuaScript, command: ReadonlyArray<string>) => Effect.Effect<
    A,
    RateLimitStoreError
  >
): RedisScriptRunner["runCommandWith"] =>
(operation, script, command, onReply, onError) =>
  Effect.matchEffect(runCommand<Parameters<typeof onReply>[0]>(operation, script, command), {
    onSuccess: onReply,
    onFailure: onError
  })

/**
 * Builds the runner from the context: node-redis directly when `NodeRedis` is provided, else effect's
 * `Redis` service. `timeoutMs` = Infinity disables the store timeout. The watchdog timer is cleared when
 * the scope closes.
 */
export const makeRedisScriptRunner = (
  timeoutMs: number
): Effect.Effect<RedisScriptRunner, never, Redis.Redis | Scope.Scope> =>
  Effect.gen(function*() {
    // Without the module (no `redis` package installed) no `NodeRedis` can be in context: the generic transport.
    const nodeRedis = yield* Effect.promise(() => import("@effect/platform-node/NodeRedis").catch(() => undefined))
    if (nodeRedis !== undefined && ErrorReply === undefined) {
      ErrorReply = yield* Effect.promise(() => import("redis").then((m) => m.ErrorReply, () => undefined))
    }
    const node = nodeRedis === undefined ? Option.none() : yield* Effect.serviceOption(nodeRedis.NodeRedis)
    let send: <A>(operation: string, args: ReadonlyArray<string>) => Effect.Effect<A, RateLimitStoreError>
    let transport: RedisScriptRunner["transport"]
    let runCommandWith: RedisScriptRunner["runCommandWith"] | undefined
    if (Option.isSome(node)) {
      const client = yield* ownConnection(node.value.client, timeoutMs)
      const fail = storeError
      transport = "node-redis"
      if (Number.isFinite(timeoutMs)) {
        const watchdog = new Watchdog(timeoutMs)
        const burst = new WriteBurst(BURST_LIMIT)
        yield* Effect.addFinalizer(() => Effect.sync(() => watchdog.close()))
        runCommandWith = <R, A, E>(
          operation: string,
          script: LuaScript,
          readonlyCommand: ReadonlyArray<string>,
          onReply: (reply: R) => Effect.Effect<A, E>,
          onError: (error: RateLimitStoreError) => Effect.Effect<A, E>
        ) =>
          Effect.callback<A, E>((resume) => {
            const command = readonlyCommand as Array<string> // node-redis takes a mutable array but does not change it
            let settled = false
            let reloaded = false
            const entry: WatchdogEntry = {
              sentAt: Date.now(),
              expire: () => {
                if (settled) return
                settled = true
                resume(onError(timeoutError(operation, timeoutMs)))
              }
            }
            const ok = (reply: unknown): void => {
              if (settled) return
              settled = true
              watchdog.entries.delete(entry)
              resume(onReply(reply as R)) // a script's reply type is the caller's R (EVALSHA replies are untyped)
            }
            const failed = (cause: unknown): void => {
              if (settled) return
              const error = fail(operation, timeoutMs)(cause)
              if (!reloaded && isNoScript(error)) {
                // a restarted or flushed server: load the script and run it once more, under the same entry
                reloaded = true
                client.sendCommand(["SCRIPT", "LOAD", script.lua]).then(() => client.sendCommand(command)).then(
                  ok,
                  failed
                )
                return
              }
              settled = true
              watchdog.entries.delete(entry)
              resume(onError(error))
            }
            watchdog.enter(entry)
            burst.submit(() => client.sendCommand(command).then(ok, failed))
          })
        send = <A>(operation: string, args: ReadonlyArray<string>) =>
          Effect.callback<A, RateLimitStoreError>((resume) => {
            const entry: WatchdogEntry = {
              sentAt: Date.now(),
              expire: () => resume(Effect.fail(timeoutError(operation, timeoutMs)))
            }
            watchdog.enter(entry)
            burst.submit(() =>
              // node-redis takes a mutable array but does not change it; a script's reply type is the caller's A (EVALSHA replies are untyped)
              (client.sendCommand(args as Array<string>) as Promise<A>).then(
                (reply) => {
                  watchdog.entries.delete(entry)
                  resume(Effect.succeed(reply))
                },
                (error: unknown) => {
                  watchdog.entries.delete(entry)
                  resume(Effect.fail(fail(operation, timeoutMs)(error)))
                }
              )
            )
          })
      } else {
        send = <A>(operation: string, args: ReadonlyArray<string>) =>
          Effect.tryPromise({
            // as above: the array is not changed, the reply is the script's A
            try: () => client.sendCommand(args as Array<string>) as Promise<A>,
            catch: fail(operation, timeoutMs)
          })
      }
    } else {
      const redis = yield* Redis.Redis
      transport = "redis-service"
      send = <A>(operation: string, args: ReadonlyArray<string>) =>
        redis.send<A>(args[0] ?? "", ...args.slice(1)).pipe(
          Effect.mapError(storeError(operation, timeoutMs)),
          withRealTimeout(timeoutMs, operation)
        )
    }
    const runCommand = <A>(
      operation: string,
      script: LuaScript,
      command: ReadonlyArray<string>
    ): Effect.Effect<A, RateLimitStoreError> =>
      Effect.catchIf(send<A>(operation, command), isNoScript, () =>
        Effect.andThen(send(operation, ["SCRIPT", "LOAD", script.lua]), send<A>(operation, command)))
    return {
      run: (operation, script, keys, args) =>
        runCommand(operation, script, evalShaCommand(script.sha, keys, args)),
      send,
      runCommandWith: runCommandWith ?? fusedRun(runCommand),
      transport
    }
  })
