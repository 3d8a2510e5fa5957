/**
 * Readiness checks: named probes of the gateway's dependencies, run with a timeout and cached, so that however many
 * probes a load balancer sends, each dependency sees at most one check per `cacheTtl` and never more than one at a
 * time (a probe arriving while a check runs waits for that run: probes never pile up).
 *
 * Built-in checks: `redisPing(url)` (RESP `PING` over a socket), `tcp(name, url)` (the port accepts a connection:
 * PostgreSQL and the like), `httpGet(name, url)` (any 2xx/3xx; a provider's health or models URL). A check fails
 * when its effect fails or dies, or when it exceeds the timeout; the report keeps its latency and last error.
 * Hand-rolled socket probes: a health check must not need the client library of what it checks.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Duration, Effect } from "effect"
import { createConnection } from "node:net"

/** One dependency check. `critical: false` reports without affecting readiness. */
export interface HealthCheck {
  readonly name: string
  readonly run: Effect.Effect<unknown, unknown>
  readonly critical?: boolean
}

/** One check's last result. */
export interface CheckResult {
  readonly name: string
  readonly status: "up" | "down"
  readonly critical: boolean
  readonly latencyMs: number
  readonly checkedAt: string
  readonly lastError?: string
}

const probeSocket = (url: string, payload: string | undefined, expect: RegExp | undefined, defaultPort: number) =>
  Effect.callback<void, Error>((resume) => {
    const parsed = new URL(url)
    const socket = createConnection({ host: parsed.hostname || "127.0.0.1", port: Number(parsed.port || defaultPort) })
    let settled = false
    const done = (error?: Error) => {
      if (settled) return
      settled = true
      socket.destroy()
      resume(error === undefined ? Effect.void : Effect.fail(error))
    }
    // a socket error is a Node system error (with an optional code)
    socket.once("error", (e) => done(new Error(`connection failed: ${(e as NodeJS.ErrnoException).code ?? e.message}`)))
    socket.once("connect", () => {
      if (payload === undefined) return done()
      socket.write(payload)
    })
    socket.once(
      "data",
      (data) => done(expect === undefined || expect.test(data.toString()) ? undefined : new Error("unexpected reply"))
    )
    return Effect.sync(() => done())
  })

/** Redis answers `PING` (or asks for auth, which still means it is up). */
export const redisPing = (url: string, name = "redis"): HealthCheck => ({
  name,
  run: probeSocket(url, "PING\r\n", /^(\+PONG|-NOAUTH)/, 6379)
})

/** The host accepts TCP connections (e.g. PostgreSQL at `postgres://host:5432`). */
export const tcp = (name: string, url: string): HealthCheck => ({
  name,
  run: probeSocket(url, undefined, undefined, 5432)
})

/** A GET answers 2xx or 3xx. */
export const httpGet = (name: string, url: string): HealthCheck => ({
  name,
  run: Effect.tryPromise({
    try: (signal) => fetch(url, { signal, redirect: "manual" }),
    catch: (e) => new Error(`request failed: ${e instanceof Error ? e.message : String(e)}`)
  }).pipe(
    Effect.flatMap((r) =>
      r.status < 400
        ? Effect.promise(() => r.body?.cancel() ?? Promise.resolve())
        : Effect.fail(new Error(`HTTP ${r.status}`))
    )
  )
})

const errorText = (e: unknown): string => {
  const text = e instanceof Error
    ? e.message
    : typeof e === "object" && e !== null && "message" in e
    ? String(e.message)
    : String(e)
  return text.slice(0, 200)
}

interface Slot {
  readonly check: HealthCheck
  result: CheckResult | undefined
  checkedAtMillis: number
  running: Deferred.Deferred<CheckResult> | undefined
}

/** The checks with their cache. */
export class HealthRegistry {
  private readonly slots: ReadonlyArray<Slot>
  private readonly timeout: Duration.Duration
  private readonly ttlMillis: number

  constructor(
    checks: ReadonlyArray<HealthCheck>,
    options: { readonly timeoutMillis: number; readonly cacheTtlMillis: number }
  ) {
    this.slots = checks.map((check) => ({ check, result: undefined, checkedAtMillis: 0, running: undefined }))
    this.timeout = Duration.millis(options.timeoutMillis)
    this.ttlMillis = options.cacheTtlMillis
  }

  private runSlot(slot: Slot): Effect.Effect<CheckResult> {
    const timeout = this.timeout
    return Effect.gen(function*() {
      const start = yield* Clock.currentTimeMillis
      const exit = yield* slot.check.run.pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () => Effect.fail(new Error(`timed out after ${Duration.toMillis(timeout)} ms`))
        }),
        Effect.exit
      )
      const end = yield* Clock.currentTimeMillis
      const base = {
        name: slot.check.name,
        critical: slot.check.critical ?? true,
        latencyMs: end - start,
        checkedAt: new Date(end).toISOString()
      }
      const result: CheckResult = exit._tag === "Success"
        ? { ...base, status: "up" }
        : {
          ...base,
          status: "down",
          lastError: errorText(
            exit.cause.reasons.map((r) => r._tag === "Fail" ? r.error : r._tag === "Die" ? r.defect : "interrupted")[0]
          )
        }
      slot.result = result
      slot.checkedAtMillis = end
      return result
    })
  }

  private resultOf(slot: Slot): Effect.Effect<CheckResult> {
    return Effect.suspend(() => {
      if (slot.running !== undefined) return Deferred.await(slot.running)
      return Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (slot.result !== undefined && now - slot.checkedAtMillis < this.ttlMillis) return Effect.succeed(slot.result)
        if (slot.running !== undefined) return Deferred.await(slot.running)
        const deferred = Deferred.makeUnsafe<CheckResult>()
        slot.running = deferred
        return this.runSlot(slot).pipe(
          Effect.tap((r) => Deferred.succeed(deferred, r)),
          Effect.ensuring(Effect.sync(() => {
            slot.running = undefined
          })),
          Effect.uninterruptible // a probe that hangs up must not leave waiters without a result
        )
      })
    })
  }

  /** Every check's result (cached or fresh), concurrently. */
  readonly report: Effect.Effect<ReadonlyArray<CheckResult>> = Effect.suspend(() =>
    Effect.forEach(this.slots, (slot) => this.resultOf(slot), { concurrency: "unbounded" })
  )
}
