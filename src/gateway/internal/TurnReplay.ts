/**
 * The replay buffer of agent turns streamed over SSE: every frame of a turn gets an `id:` (`<turn id>.<seq>`) and is
 * kept in the turn's log, so a client that lost its connection reconnects with `Last-Event-ID` and gets the frames
 * after that id, then the live ones.
 *
 * Rules (the same words as the README and the tests):
 * - A turn's frames are buffered for a short replay window: while the turn runs, and for `windowMillis` (default
 *   30 s) after its last frame; then the log is forgotten and a reconnect with its ids is a 404.
 * - The buffer is bounded: at most `maxTurns` logs (default 1,000; the oldest finished one is evicted first, then
 *   the oldest) and `maxFrames` frames per turn (default 10,000; beyond, the oldest frames are dropped, and a
 *   reconnect from before the first kept frame is a 410).
 * - A turn without any reader for `windowMillis` while it still runs is cancelled (its caller went away and did not
 *   come back): a disconnect alone does not lose the turn, but nobody waits for ever.
 *
 * Hand-rolled (plain arrays and an insertion-ordered `Map`): effect has no replayable, bounded broadcast keyed by
 * event id. Time comes from the `now` function given (the gateway passes `Date.now`), so tests drive it by hand.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Stream } from "effect"
import type { Frame } from "./SseResponse.ts"

export interface TurnReplayOptions {
  readonly windowMillis?: number
  readonly maxTurns?: number
  readonly maxFrames?: number
  readonly now?: () => number
}

/** One turn's frames, numbered from 1. */
export class TurnLog {
  readonly frames: Array<Frame> = []
  /** frames dropped from the front (the bound) */
  dropped = 0
  done = false
  readers = 0
  /** when the last frame was appended or the last reader left (the sweep's clock) */
  touchedAt: number
  /**
   * counts the times the last reader left: a cancel timer fires only if no reader came (and left) since it was set,
   * whatever frames the turn appended meanwhile
   */
  lastLeft = 0
  /** cancels the turn (set by the owner) */
  cancel: Effect.Effect<void> = Effect.void
  private listeners = new Set<() => void>()

  readonly turnId: string
  readonly agentId: string
  private readonly maxFrames: number

  constructor(turnId: string, agentId: string, maxFrames: number, now: number) {
    this.turnId = turnId
    this.agentId = agentId
    this.maxFrames = maxFrames
    this.touchedAt = now
  }

  /** Number of frames appended so far (the last seq). */
  get seq(): number {
    return this.dropped + this.frames.length
  }

  append(frame: Omit<Frame, "id">, now: number): void {
    if (this.done) return
    this.frames.push({ ...frame, id: `${this.turnId}.${this.seq + 1}` })
    if (this.frames.length > this.maxFrames) {
      this.frames.shift()
      this.dropped++
    }
    this.touchedAt = now
    this.notify()
  }

  finish(now: number): void {
    if (this.done) return
    this.done = true
    this.touchedAt = now
    this.notify()
  }

  private notify(): void {
    const listeners = [...this.listeners]
    this.listeners.clear()
    for (const l of listeners) l()
  }

  /** Frames after `seq`, or waits for the next one; `Cause.done` once the turn finished and everything was read. */
  next(after: number): Effect.Effect<ReadonlyArray<Frame>, Cause.Done> {
    return Effect.suspend(() => {
      const start = Math.max(0, after - this.dropped)
      if (start < this.frames.length) return Effect.succeed(this.frames.slice(start))
      if (this.done) return Cause.done()
      return Effect.flatMap(
        Effect.callback<void>((resume) => {
          const listener = () => resume(Effect.void)
          this.listeners.add(listener)
          return Effect.sync(() => this.listeners.delete(listener))
        }),
        () => this.next(after)
      )
    })
  }
}

/** Where a `Last-Event-ID` points. */
export type Resume =
  | { readonly _tag: "Found"; readonly log: TurnLog; readonly after: number }
  | { readonly _tag: "Unknown" }
  | { readonly _tag: "Gone"; readonly log: TurnLog }

export class TurnReplay {
  readonly windowMillis: number
  readonly maxTurns: number
  readonly maxFrames: number
  readonly now: () => number
  private readonly logs = new Map<string, TurnLog>()

  constructor(options: TurnReplayOptions = {}) {
    this.windowMillis = options.windowMillis ?? 30_000
    this.maxTurns = options.maxTurns ?? 1_000
    this.maxFrames = options.maxFrames ?? 10_000
    this.now = options.now ?? Date.now
  }

  get size(): number {
    this.sweep()
    return this.logs.size
  }

  /** Forgets finished logs older than the window. */
  sweep(): void {
    const now = this.now()
    for (const [id, log] of this.logs) {
      if (log.done && log.readers === 0 && now - log.touchedAt >= this.windowMillis) this.logs.delete(id)
    }
  }

  /** A new log (evicting when the bound is reached). */
  create(turnId: string, agentId: string): TurnLog {
    this.sweep()
    while (this.logs.size >= this.maxTurns) {
      let victim: string | undefined
      for (const [id, log] of this.logs) {
        if (log.done) {
          victim = id
          break
        }
      }
      victim ??= this.logs.keys().next().value
      if (victim === undefined) break
      const log = this.logs.get(victim)
      this.logs.delete(victim)
      if (log !== undefined && !log.done) Effect.runFork(log.cancel)
    }
    const log = new TurnLog(turnId, agentId, this.maxFrames, this.now())
    this.logs.set(turnId, log)
    return log
  }

  /** Forgets `log` at once (a turn refused before it started: its id must not resume anything). */
  discard(log: TurnLog): void {
    if (this.logs.get(log.turnId) === log) this.logs.delete(log.turnId)
  }

  /** Resolves a `Last-Event-ID` (`<turn id>.<seq>`) of `agentId`. */
  resume(lastEventId: string, agentId: string): Resume {
    this.sweep()
    const dot = lastEventId.lastIndexOf(".")
    const seq = dot < 0 ? Number.NaN : Number(lastEventId.slice(dot + 1))
    const log = this.logs.get(dot < 0 ? lastEventId : lastEventId.slice(0, dot))
    if (log === undefined || log.agentId !== agentId || !Number.isInteger(seq) || seq < 0 || seq > log.seq) {
      return { _tag: "Unknown" }
    }
    if (seq < log.dropped) return { _tag: "Gone", log }
    return { _tag: "Found", log, after: seq }
  }

  /**
   * The frames of `log` after `after`, then the live ones until the turn finishes. A reader leaving a running turn
   * with no other reader starts the replay window; the turn is cancelled unless a reader comes back within it.
   */
  read(log: TurnLog, after: number, schedule: (effect: Effect.Effect<void>) => void): Stream.Stream<Frame> {
    return Stream.suspend(() => {
      log.readers++
      let position = after
      const pull = Effect.suspend(() =>
        Effect.map(log.next(position), (frames) => {
          position += frames.length
          return frames as readonly [Frame, ...Array<Frame>] // `next` never yields an empty batch
        })
      )
      return Stream.fromPull(Effect.succeed(pull)).pipe(
        Stream.ensuring(Effect.sync(() => {
          log.readers--
          log.touchedAt = this.now()
          if (log.readers > 0 || log.done) return
          const left = ++log.lastLeft
          schedule(
            Effect.sleep(this.windowMillis).pipe(
              Effect.andThen(
                Effect.suspend(() => log.readers === 0 && !log.done && log.lastLeft === left ? log.cancel : Effect.void)
              )
            )
          )
        }))
      )
    })
  }
}
