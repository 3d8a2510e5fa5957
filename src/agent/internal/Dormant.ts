/**
 * Agents of an `AgentServer` whose restart failed in `init`, waiting to be started again by their next message.
 *
 * Rules (the same as `LlmAgents`'): a restart whose init fails (a checkpoint store unreachable for a moment: the
 * PostgreSQL backend makes that a defect) is ignored and logged — the supervisor forgets the child instead of
 * retrying it at once, which would use up within microseconds the restart intensity every agent of the server
 * shares and stop them all. The agent is then not running (`whereis` is `undefined`), and its next message
 * (`call`, `cmd`, `cast`, `state`, `awaitStatus`) starts it again with its start arguments (from its latest
 * checkpoint, as any start); a start that fails again leaves it waiting for the message after (the message fails
 * with `AgentNotFound`). `stop(id)` forgets it, and an explicit `start` of the id replaces it.
 *
 * Bounded: at most `DEFAULT_MAX_DORMANT` (10,000) agents wait per server, the oldest forgotten first (a forgotten
 * agent is just not started again). Starts of dormant agents run one at a time, so two messages racing to one
 * agent start it once.
 *
 * Reuses `LruMap` (src/internal) for the bound and effect's `Semaphore`.
 */
import { Effect, Semaphore } from "effect"
import { LruMap } from "../../internal/LruMap.ts"
import { ExitReason, InitFailed, type Process, StartIgnored } from "../../runtime/index.ts"
import { AgentNotFound } from "../AgentError.ts"
import { errorText } from "./ErrorText.ts"

/** The default bound on agents waiting to be started again, per server. */
export const DEFAULT_MAX_DORMANT = 10_000

/** The agents of one server waiting to be started again, each with the start that brings it back. */
export class Dormant {
  private readonly starts: LruMap<string, Effect.Effect<unknown, unknown>>
  private readonly lock = Semaphore.makeUnsafe(1)

  constructor(capacity: number = DEFAULT_MAX_DORMANT) {
    this.starts = new LruMap(capacity)
  }

  /** Forgets `id` (stopped, or started anew); returns whether it was waiting. */
  forget(id: string): boolean {
    return this.starts.delete(id)
  }

  /**
   * The restart hook of agent `id` (`ChildSpec.restartsYieldToTakenName`'s `onRestart`): a failed init is logged,
   * `start` is kept for the agent's next message, and the restart is ignored (`StartIgnored`).
   */
  onRestart(id: string, start: Effect.Effect<unknown, unknown>) {
    return <A, E, R>(restart: Effect.Effect<A, E | InitFailed, R>): Effect.Effect<A, E | StartIgnored, R> =>
      Effect.catchIf(
        restart,
        (e): e is InitFailed => e instanceof InitFailed,
        (failed) =>
          Effect.andThen(
            Effect.suspend(() => {
              this.starts.set(id, start)
              return Effect.logWarning(
                `agent ${id}: its restart failed (${
                  ExitReason.format(failed.exitReason)
                }); its next message starts it again`
              )
            }),
            Effect.fail(new StartIgnored({ name: failed.name }))
          )
      )
  }

  /**
   * The process of agent `id`: the running one, else — for an agent waiting here — the one its start brings back.
   * Fails with `AgentNotFound` when none runs (unknown id, or its start failed again: it keeps waiting).
   */
  process(
    id: string,
    whereis: (id: string) => Process.Process | undefined
  ): Effect.Effect<Process.Process, AgentNotFound> {
    const running = whereis(id)
    if (running !== undefined) return Effect.succeed(running)
    if (this.starts.get(id) === undefined) return Effect.fail(new AgentNotFound({ id }))
    return this.lock.withPermits(1)(Effect.suspend(() => {
      const start = this.starts.get(id)
      if (start === undefined || whereis(id) !== undefined) return this.found(id, whereis)
      return Effect.matchEffect(start, {
        onFailure: (error) =>
          Effect.andThen(
            Effect.logWarning(`agent ${id}: starting it again failed (${errorText(error)}); it keeps waiting`),
            Effect.fail(new AgentNotFound({ id }))
          ),
        onSuccess: () => this.found(id, whereis)
      })
    }))
  }

  private found(id: string, whereis: (id: string) => Process.Process | undefined) {
    const process = whereis(id)
    return process === undefined ? Effect.fail(new AgentNotFound({ id })) : Effect.succeed(process)
  }
}
