/**
 * The gateway's run-time state, owned by one gateway instance: its lifecycle phase, the requests and SSE streams in
 * flight, the live maintenance settings and the signal that ends open streams when a drain runs out of time.
 *
 * Phases: `starting` (startup probe false) → `ready` → `draining` (readiness false, requests still served: the load
 * balancer's deregistration window) → `closing` (new requests refused with 503 and `connection: close`; in-flight
 * requests and streams run to completion up to the drain timeout, then open streams are ended) → `stopped`.
 *
 * Plain mutable fields: every access is a synchronous step of a request fiber or the drain (no `Ref` needed).
 * Hand-rolled because effect 4.1 has no drain helper (see the server primer §1b).
 *
 * @since 0.1.0
 */
import { Deferred, Effect } from "effect"
import type { GatewayMaintenance } from "../../config/index.ts"

export type Phase = "starting" | "ready" | "draining" | "closing" | "stopped"

export class GatewayState {
  phase: Phase = "starting"
  inFlight = 0
  openStreams = 0
  /** requests refused because the gateway was closing */
  refusedWhileClosing = 0
  maintenance: GatewayMaintenance
  readonly startedAt = Date.now()
  private idleWaiters: Array<() => void> = []

  /** completed when open streams must end (the drain timeout elapsed) */
  readonly streamsEnd: Deferred.Deferred<void>
  /** completed when the gateway stops accepting (phase `closing`): endless streams (the observer's) end then */
  readonly closed: Deferred.Deferred<void>

  constructor(maintenance: GatewayMaintenance, streamsEnd: Deferred.Deferred<void>, closed: Deferred.Deferred<void>) {
    this.maintenance = maintenance
    this.streamsEnd = streamsEnd
    this.closed = closed
  }

  get accepting(): boolean {
    return this.phase === "starting" || this.phase === "ready" || this.phase === "draining"
  }

  get idle(): boolean {
    return this.inFlight === 0 && this.openStreams === 0
  }

  requestStarted(): void {
    this.inFlight++
  }

  requestEnded(): void {
    this.inFlight--
    this.notify()
  }

  streamStarted(): void {
    this.openStreams++
  }

  streamEnded(): void {
    this.openStreams--
    this.notify()
  }

  private notify(): void {
    if (!this.idle || this.idleWaiters.length === 0) return
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }

  /** Completes once no request or stream is in flight. */
  readonly whenIdle: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.idle) return resume(Effect.void)
    const waiter = () => resume(Effect.void)
    this.idleWaiters.push(waiter)
    return Effect.sync(() => {
      this.idleWaiters = this.idleWaiters.filter((w) => w !== waiter)
    })
  })
}

export const makeState = (maintenance: GatewayMaintenance): Effect.Effect<GatewayState> =>
  Effect.zipWith(
    Deferred.make<void>(),
    Deferred.make<void>(),
    (end, closed) => new GatewayState(maintenance, end, closed)
  )
