/**
 * Actor behaviours: the callbacks of a gen_server and the results they return.
 *
 * Mirrors `gen_server`: `init` returns `{ok, State}` (optionally with `{continue, Arg}`, a timeout or
 * `hibernate`), `ignore`, or `{stop, Reason}`. `handleCall` returns `{reply, Reply, State}`,
 * `{noreply, State}` (reply later through `from`, from any fiber) or `{stop, Reason, [Reply,] State}`;
 * `handleCast`, `handleInfo` and `handleContinue` return `{noreply, State}` or `{stop, Reason, State}`.
 * `terminate(Reason, State)` runs on a stop result, a crash of a callback, `Actor.stop`, or an exit signal
 * (a supervisor's shutdown) when the actor traps exits (`trapExit`); never on a kill, nor on an exit signal to an
 * actor that does not trap exits.
 *
 * A callback may return its result directly or as an `Effect` (which may fail or die: that is a crash of this
 * actor only). Returning plain results keeps simple handlers allocation-free on the hot path.
 */
import type { Duration, Effect } from "effect"
import type { ExitReason } from "./ExitReason.ts"
import type { From } from "./internal/From.ts"

/**
 * The messages an actor understands. Every field is optional:
 * `call` (requests), `reply` (their replies), `cast` (one-way), `info` (plain sends), `continue` (handleContinue).
 */
export interface Protocol {
  readonly call?: unknown
  readonly reply?: unknown
  readonly cast?: unknown
  readonly info?: unknown
  readonly continue?: unknown
}

/** The call message type of protocol `P` (`never` when it has none). */
export type CallOf<P extends Protocol> = P extends { readonly call: infer A } ? A
  : "call" extends keyof P ? unknown
  : never
/** The reply type of protocol `P`'s calls. */
export type ReplyOf<P extends Protocol> = P extends { readonly reply: infer A } ? A
  : "reply" extends keyof P ? unknown
  : unknown
/** The cast message type of protocol `P` (`never` when it has none). */
export type CastOf<P extends Protocol> = P extends { readonly cast: infer A } ? A
  : "cast" extends keyof P ? unknown
  : never
/** The info message type of protocol `P` (`never` when it has none), beside the `SystemInfo` every actor can get. */
export type InfoOf<P extends Protocol> = P extends { readonly info: infer A } ? A
  : "info" extends keyof P ? unknown
  : never
/** The argument type of protocol `P`'s `handleContinue` (`never` when it has none). */
export type ContinueOf<P extends Protocol> = P extends { readonly continue: infer A } ? A
  : "continue" extends keyof P ? unknown
  : never

/** What `handleInfo` can receive beyond the protocol's own info messages. */
export type SystemInfo = IdleTimeout | Down

/** Delivered to `handleInfo` when a result's `timeout` elapsed with no message (gen_server's `timeout`). */
export interface IdleTimeout {
  readonly _tag: "IdleTimeout"
}
/** The one `IdleTimeout` value. */
export const idleTimeout: IdleTimeout = Object.freeze({ _tag: "IdleTimeout" })

/** Delivered to `handleInfo` of an actor that monitors a process, once, when that process exits. */
export interface Down {
  readonly _tag: "Down"
  /** the monitor reference returned by `monitor` */
  readonly monitor: number
  readonly pid: number
  readonly reason: ExitReason
}

/**
 * What a callback result may ask for besides its state: a continue, an idle timeout, hibernation (gen_server's
 * `{continue, A}`, `Timeout`, `hibernate`).
 */
export interface ResultOptions<C = never> {
  /** run `handleContinue(arg)` before the next message (`{continue, Arg}`) */
  readonly continue?: C
  /** deliver `IdleTimeout` to `handleInfo` if no message arrives within this time */
  readonly timeout?: Duration.Input
  /** drop the mailbox's spare memory while idle (`hibernate`) */
  readonly hibernate?: boolean
}

/** `init` succeeded: `{ok, State}` with optional result options. */
export interface Ok<S, C = never> {
  readonly _tag: "Ok"
  readonly state: S
  readonly options: ResultOptions<C> | undefined
}
/**
 * `init` declined to start (`ignore`): the start fails with `StartIgnored` and a supervisor records the child as not
 * running.
 */
export interface Ignore {
  readonly _tag: "Ignore"
}
/** `init` failed on purpose (`{stop, Reason}`): the start fails with `InitFailed` carrying the reason. */
export interface InitStop {
  readonly _tag: "InitStop"
  readonly reason: ExitReason
}
/** A call handled: `{reply, Reply, State}`. */
export interface Reply<S, R, C = never> {
  readonly _tag: "Reply"
  readonly reply: R
  readonly state: S
  readonly options: ResultOptions<C> | undefined
}
/**
 * Handled without a reply (`{noreply, State}`); from `handleCall` the reply is sent later with `Actor.reply(from,
 * value)`.
 */
export interface NoReply<S, C = never> {
  readonly _tag: "NoReply"
  readonly state: S
  readonly options: ResultOptions<C> | undefined
}
/**
 * Stop the actor after this message (`{stop, Reason, State}`): `terminate` runs (when trapping exits or for a normal
 * stop), then the process exits with `reason`.
 */
export interface Stop<S, R = never> {
  readonly _tag: "Stop"
  readonly reason: ExitReason
  readonly state: S
  /**
   * `{stop, Reason, Reply, State}`: the reply is sent after `terminate`, even when `terminate` crashes; if the actor
   * is killed before replying, the caller fails with `ActorExited`, never hangs.
   */
  readonly reply?: { readonly value: R }
}

/** What `init` returns. */
export type InitResult<S, C = never> = Ok<S, C> | Ignore | InitStop
/** What `handleCall` returns. */
export type CallResult<S, R, C = never> = Reply<S, R, C> | NoReply<S, C> | Stop<S, R>
/** What `handleCast`, `handleInfo` and `handleContinue` return. */
export type NoReplyResult<S, C = never> = NoReply<S, C> | Stop<S>

/** A callback's return: the result itself, or an Effect producing it. */
export type Returns<A, E, R> = A | Effect.Effect<A, E, R>

/** `{ok, State}` from `init`. */
export const ok = <S, C = never>(state: S, options?: ResultOptions<C>): Ok<S, C> => ({
  _tag: "Ok",
  state,
  options
})
/** `ignore` from `init`: start returns `StartIgnored`, no `terminate` runs. */
export const ignore: Ignore = Object.freeze({ _tag: "Ignore" })
/** `{stop, Reason}` from `init`: start fails with `InitFailed { reason }`. */
export const stopInit = (reason: ExitReason): InitStop => ({ _tag: "InitStop", reason })
/** `{reply, Reply, State}`. */
export const reply = <S, R, C = never>(value: R, state: S, options?: ResultOptions<C>): Reply<S, R, C> => ({
  _tag: "Reply",
  reply: value,
  state,
  options
})
/** `{noreply, State}`. */
export const noreply = <S, C = never>(state: S, options?: ResultOptions<C>): NoReply<S, C> => ({
  _tag: "NoReply",
  state,
  options
})
/** `{stop, Reason, State}`, or `{stop, Reason, Reply, State}` when `reply` is given. */
export const stop = <S, R = never>(reason: ExitReason, state: S, ...replyValue: [] | [R]): Stop<S, R> =>
  replyValue.length === 0
    ? { _tag: "Stop", reason, state }
    // the rest parameter is [] or [R], and its length is not 0 here
    : { _tag: "Stop", reason, state, reply: { value: replyValue[0] as R } }

/**
 * An actor behaviour. `S` is the state, `P` the protocol, `Args` what `init` receives, `E`/`R` the error and
 * requirements of the callbacks' effects.
 */
export interface Behaviour<S, P extends Protocol = Protocol, Args = void, E = never, R = never> {
  /** a default name for the actor (used in errors and lifecycle events) */
  readonly name?: string
  /**
   * `process_flag(trap_exit, true)` from `init`: exit signals (a supervisor's shutdown) arrive as stop messages
   * and run `terminate`. Default false (Elixir's GenServer); the start option `trapExit` overrides it.
   */
  readonly trapExit?: boolean
  readonly init: (args: Args) => Returns<InitResult<S, ContinueOf<P>>, E, R>
  readonly handleCall?: (
    request: CallOf<P>,
    from: From<ReplyOf<P>>,
    state: S
  ) => Returns<CallResult<S, ReplyOf<P>, ContinueOf<P>>, E, R>
  readonly handleCast?: (message: CastOf<P>, state: S) => Returns<NoReplyResult<S, ContinueOf<P>>, E, R>
  readonly handleInfo?: (message: InfoOf<P> | SystemInfo, state: S) => Returns<NoReplyResult<S, ContinueOf<P>>, E, R>
  readonly handleContinue?: (arg: ContinueOf<P>, state: S) => Returns<NoReplyResult<S, ContinueOf<P>>, E, R>
  readonly terminate?: (reason: ExitReason, state: S) => Returns<void, E, R>
}

/**
 * Types a behaviour against a protocol while inferring state and args from `init`.
 *
 * @example
 * ```ts
 * type CounterProtocol = { call: "get"; reply: number; cast: { add: number } }
 * const Counter = Behaviour.make<CounterProtocol>()({
 *   init: (start: number) => Behaviour.ok(start),
 *   handleCall: (_req, _from, n) => Behaviour.reply(n, n),
 *   handleCast: (msg, n) => Behaviour.noreply(n + msg.add)
 * })
 * ```
 */
export const make =
  <P extends Protocol>() =>
  <S, Args = void, E = never, R = never>(behaviour: Behaviour<S, P, Args, E, R>): Behaviour<S, P, Args, E, R> =>
    behaviour
