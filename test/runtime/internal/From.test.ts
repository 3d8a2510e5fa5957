/**
 * `From`, a pending call: a call answered `noreply` is held by its actor until `Actor.reply`; a caller that gives
 * up (timeout, interruption) releases it at once, so abandoned calls leave nothing behind, and a late reply to it
 * is dropped (OTP 24+). Timing under `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Behaviour } from "../../../src/runtime/index.ts"

type Protocol = {
  readonly call: "later"
  readonly reply: string
  readonly cast: "reply-all"
}

/** `later` is answered `noreply` and kept in the state; `reply-all` replies to every kept call. */
const Deferring = Behaviour.make<Protocol>()({
  init: () => Behaviour.ok<ReadonlyArray<Actor.From<string>>>([]),
  handleCall: (_request, from, kept) => Behaviour.noreply([...kept, from]),
  handleCast: (_message, kept) =>
    Effect.as(Effect.forEach(kept, (from) => Actor.reply(from, "late"), { discard: true }), Behaviour.noreply([]))
})

/** The number of `noreply` calls `ref` tracks. */
const pendingReplies = (ref: Actor.ActorRef<Protocol>): number =>
  // internal fields, read only to observe the actor's table of noreply calls
  (ref as unknown as { readonly extras?: { readonly pendingReplies?: Set<unknown> } }).extras?.pendingReplies?.size ??
    0

describe("From (gen_server's From: a reply after the caller gave up is dropped)", () => {
  it.effect("a noreply call whose caller gave up is released by its actor: 2,000 timed-out calls leave no entry", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(Deferring, undefined)
      const callers = yield* Effect.forEach(
        Array.from({ length: 2000 }, () => Actor.call(ref, "later", { timeout: 100 })),
        (call) => Effect.forkChild(Effect.exit(call), { startImmediately: true })
      )
      assert.strictEqual(pendingReplies(ref), 2000)
      yield* TestClock.adjust(100)
      for (const caller of callers) {
        const exit = yield* Fiber.join(caller)
        assert.isTrue(Exit.isFailure(exit) && exit.cause.reasons.some((r) => r._tag === "Fail"))
      }
      assert.strictEqual(pendingReplies(ref), 0)
      // the late replies are dropped, and the actor goes on serving
      yield* Actor.cast(ref, "reply-all")
      const kept = yield* Effect.forkChild(Actor.call(ref, "later", { timeout: "infinity" }), {
        startImmediately: true
      })
      assert.strictEqual(pendingReplies(ref), 1)
      yield* Actor.cast(ref, "reply-all")
      assert.strictEqual(yield* Fiber.join(kept), "late")
      assert.strictEqual(pendingReplies(ref), 0)
      yield* Actor.stop(ref)
    }))
})
