/**
 * `TurnRedrive`: the redrive handler of `turn` dead letters — give `turnRedrive.handler` as the `redrive` option of
 * the `DeadLetters` layer and the same `TurnRedrive` as the `redrive` option of `LlmAgents`, which binds it when it
 * is built (the dead-letter queue is built first, so the handler is bound late, like the pipeline's
 * `PipelineRedrive`).
 *
 * Rules (tests in test/llmagent/DurableTurns.test.ts):
 * - a redrive sends the letter's turn (`{ agentId, input, maxSteps }`, decoded with Schema) to its agent again, as
 *   an `ask`: the redrive succeeds when the turn answers, fails with the turn's error otherwise;
 * - **a redriven turn that fails again is not recorded as a new letter**: the queue marks the original letter dead
 *   again (`redrives + 1`), so one failure is one letter;
 * - before `LlmAgents` binds it, or for a letter whose input is not a turn, a redrive fails (the letter stays dead).
 */
import { Effect, Schema } from "effect"
import type { DeadLetter } from "../dlq/index.ts"
import { LlmMessage } from "../llm/index.ts"
import type { TurnError } from "./LlmAgentError.ts"
import type { CheckedTurn, TurnAnswer } from "./LlmAgentTurn.ts"

const TurnLetter = Schema.Struct({
  agentId: Schema.String,
  input: Schema.Union([Schema.String.check(Schema.isMinLength(1)), Schema.NonEmptyArray(LlmMessage)]),
  maxSteps: Schema.NullOr(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000 })))
})
const decodeLetter = Schema.decodeUnknownEffect(TurnLetter)

/** What `LlmAgents` binds: one turn of an agent, marked as the redrive of a letter. */
export type RedriveTurn = (agentId: string, turn: CheckedTurn) => Effect.Effect<TurnAnswer, TurnError>

/** The redrive handler of `turn` letters, bound by the `LlmAgents` built with it (see the module doc). */
export class TurnRedrive {
  private turn: RedriveTurn | undefined = undefined
  /**
   * The `redrive` option of the `DeadLetters` layer. Fails when no `LlmAgents` is bound, when the letter is not a
   * turn (its input does not decode) and with the turn's error when the turn fails again.
   */
  readonly handler = (letter: DeadLetter): Effect.Effect<TurnAnswer, unknown> =>
    Effect.suspend(() => {
      const turn = this.turn
      if (turn === undefined) return Effect.fail(new Error("no LlmAgents bound to this redrive"))
      if (letter.kind !== "turn") return Effect.fail(new Error(`letter ${letter.id} is not a turn`))
      return Effect.flatMap(decodeLetter(letter.input), (input) =>
        turn(input.agentId, { input: input.input, maxSteps: input.maxSteps ?? undefined, redriveOf: letter.id }))
    })
  /** Binds the agents' turns (done by `LlmAgents.make`). */
  bind(turn: RedriveTurn): void {
    this.turn = turn
  }
}
