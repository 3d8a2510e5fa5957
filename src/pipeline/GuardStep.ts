/**
 * `GuardStep`: the guardrails of the `Llm` pipeline (see `src/guard`). Rules:
 *
 * - **Input, before the cache key**: every `user` message is checked at stage `input` and every `tool` message at
 *   stage `document` (indirect injection); `system` and `assistant` messages are the application's and pass. A
 *   `block` fails the call with `GuardBlocked` before anything else runs (no cache lookup, no rate-limit cost, no
 *   provider call); redactions replace the message text, so the response cache keys on — and stores under — the
 *   redacted prompt, and the provider never sees what was redacted.
 * - **Output**: a `generate` answer is checked at stage `output` (cache hits too, so a tenant's policy applies to
 *   answers cached for another scope); PII placeholders put in by the input stage are restored in the answer for the
 *   caller who sent them (the call's own `Vault`, never shared). PII the model wrote, masked by an `output`-stage PII
 *   policy, stays masked.
 * - **Streams**: text deltas pass through the guard's `StreamWindow`; what is released is scanned, a match split
 *   across chunks is caught before any of it is released, and the held tail is flushed (scanned) before `Finish`.
 *   The window never splits a placeholder, so each released delta is restored as it is released.
 * - The scope of a call is its requested model (route), `options.user` (the caller's key), `options.tenant` and
 *   `options.agent`.
 *
 * `GuardStep` is optional in `Llm.layer`: without it in the context the pipeline is unchanged. `none` is the
 * pass-through. Reuses `Stream.mapEffect`/`flattenIterable`; the guard logic lives in `src/guard`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Stream } from "effect"
import type { GuardOptions, GuardShape } from "../guard/Guard.ts"
import { Guard, Vault } from "../guard/Guard.ts"
import type { GuardBlocked, InvalidGuardOptions } from "../guard/GuardError.ts"
import type { GuardScope } from "../guard/GuardPolicy.ts"
import type { LlmMessage } from "../llm/index.ts"
import type { LlmCall } from "./LlmCall.ts"
import type { LlmOutputPart, LlmResult } from "./LlmResult.ts"

/** The guard step: wraps a call's `generate` or `stream` in the input and output guards. */
export interface GuardStepShape {
  /**
   * Guards one `generate`: the input before `next`, the answer after. Fails with `GuardBlocked` when a `block` policy
   * matches a `user` message (stage `input`), a `tool` message (stage `document`) — then `next` never runs — or the
   * answer (stage `output`); `next`'s own failures pass through.
   */
  readonly generate: <E>(
    call: LlmCall,
    next: (call: LlmCall) => Effect.Effect<LlmResult, E>
  ) => Effect.Effect<LlmResult, E | GuardBlocked>
  /**
   * Guards one `stream`: the input before `next`, the text deltas as they arrive. Fails with `GuardBlocked` when a
   * `block` policy matches a `user` or `tool` message (before `next` runs) or the streamed text (the part that matched
   * is never released); `next`'s own failures pass through.
   */
  readonly stream: <E>(
    call: LlmCall,
    next: (call: LlmCall) => Stream.Stream<LlmOutputPart, E>
  ) => Stream.Stream<LlmOutputPart, E | GuardBlocked>
}

/** The guard scope of a call. */
export const scopeOf = (call: LlmCall): GuardScope => ({
  route: call.model,
  key: call.options?.user,
  tenant: call.options?.tenant,
  agent: call.options?.agent
})

const guardInput = (
  guard: GuardShape,
  call: LlmCall,
  scope: GuardScope,
  vault: Vault
): Effect.Effect<LlmCall, GuardBlocked> =>
  Effect.map(
    Effect.forEach(call.messages, (message): Effect.Effect<LlmMessage, GuardBlocked> => {
      if (message.role !== "user" && message.role !== "tool") return Effect.succeed(message)
      return Effect.map(
        guard.check(message.content, message.role === "user" ? "input" : "document", scope, vault),
        (outcome) => (outcome.changed ? { ...message, content: outcome.text } : message)
      )
    }),
    (messages) => (messages.every((m, i) => m === call.messages[i])
      ? call
      : { ...call, messages: messages as unknown as LlmCall["messages"] }) // same length as the non-empty input
  )

const make = (guard: GuardShape): GuardStepShape => ({
  generate: (call, next) =>
    Effect.suspend(() => {
      const scope = scopeOf(call)
      const vault = new Vault()
      return guardInput(guard, call, scope, vault).pipe(
        Effect.flatMap(next),
        Effect.flatMap((result) =>
          Effect.map(guard.check(result.text, "output", scope, vault), (outcome): LlmResult => {
            const text = guard.restore(outcome.text, scope, vault)
            return text === result.text ? result : { ...result, text }
          })
        )
      )
    }),
  stream: (call, next) =>
    Stream.unwrap(Effect.suspend(() => {
      const scope = scopeOf(call)
      const vault = new Vault()
      return Effect.map(guardInput(guard, call, scope, vault), (guarded) => {
        const window = guard.window(scope, vault)
        const delta = (text: string): ReadonlyArray<LlmOutputPart> =>
          text === "" ? [] : [{ _tag: "TextDelta", delta: guard.restore(text, scope, vault) }]
        return next(guarded).pipe(
          Stream.mapEffect((part): Effect.Effect<ReadonlyArray<LlmOutputPart>, GuardBlocked> => {
            if (part._tag === "TextDelta") return Effect.map(window.push(part.delta), delta)
            if (part._tag === "Finish") return Effect.map(window.end(), (rest) => [...delta(rest), part])
            return Effect.succeed([part])
          }),
          Stream.flattenIterable
        )
      })
    }))
})

/** The pipeline's guardrails step (optional in `Llm.layer`: without it the pipeline is unchanged). */
export class GuardStep extends Context.Service<GuardStep, GuardStepShape>()("troupe/pipeline/GuardStep") {
  /**
   * A guard step over a guard built from `options` (policies decoded; a `TelemetryHub` in the context is used). Fails
   * to build with `InvalidGuardOptions` (naming the field) when the options or a policy do not decode (see
   * `Guard.make`).
   */
  static readonly layer = (options: GuardOptions = {}): Layer.Layer<GuardStep, InvalidGuardOptions> =>
    Layer.effect(GuardStep, Effect.map(Guard.make(options), make))
  /** A guard step over the `Guard` in the context. */
  static readonly fromGuard: Layer.Layer<GuardStep, never, Guard> = Layer.effect(
    GuardStep,
    Effect.map(Effect.service(Guard), make)
  )
  static readonly none: Layer.Layer<GuardStep> = Layer.succeed(GuardStep, {
    generate: (call, next) => next(call),
    stream: (call, next) => next(call)
  })
  static readonly make = make
}
