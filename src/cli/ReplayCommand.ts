/**
 * `troupe replay <run-id>`: prints the journal of one durable agent run, as the gateway's `GET /admin/runs/{id}`
 * returns it — the steps in order (model responses and tool results, with their names and times) and the outcome.
 * Nothing is executed again: the command only reads.
 *
 * Rules (those of the other admin commands, `AdminCommands.ts`, whose flags, HTTP client and exit codes it reuses):
 * - the human form is one header (run id, agent, outcome, duration), the input, one line per step
 *   (`<seq> <name> +<ms>` and a one-line summary of the value: the model's text or tool calls, the tool's output
 *   or error), and the outcome; long values are cut at 200 characters;
 * - the answer is decoded first: a run document has a `runId`, a `startedAt` time and its `steps` (the other
 *   fields read as optional); one that is not is a server error (exit 5, `unexpected answer at <path>`); a time
 *   outside the range of a `Date` prints as `-`;
 * - `--json` prints the server's JSON as is;
 * - exit codes: 0 printed, 1 unknown run (404), 3 gateway unreachable, 4 admin key missing or refused, 5 server
 *   error (a 5xx, 501 included: the gateway has no run journal).
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { Argument, Command } from "effect/cli"
import { call, CliFailure, isoTimeMs, print, report, shared } from "./internal/AdminClient.ts"

/** One journaled step (fields read as optional, the value checked field by field when rendered). */
const Step = Schema.Struct({
  seq: Schema.optional(Schema.Number),
  name: Schema.optional(Schema.String),
  kind: Schema.optional(Schema.String),
  at: Schema.optional(Schema.Number),
  value: Schema.optional(Schema.Unknown)
})
type Step = typeof Step.Type

/** The run document of `GET /admin/runs/{id}`: its id, start and steps, the rest read as optional. */
const Run = Schema.Struct({
  runId: Schema.String,
  agent: Schema.optional(Schema.String),
  agentId: Schema.optional(Schema.String),
  input: Schema.optional(Schema.Unknown),
  startedAt: Schema.Number,
  finishedAt: Schema.optional(Schema.NullOr(Schema.Number)),
  outcome: Schema.optional(Schema.NullOr(Schema.String)),
  result: Schema.optional(Schema.Unknown),
  steps: Schema.Array(Step),
  droppedSteps: Schema.optional(Schema.Number)
})
type Run = typeof Run.Type

const MAX = 200

const cut = (text: string): string => {
  const line = text.replace(/\s+/g, " ")
  return line.length > MAX ? `${line.slice(0, MAX)}…` : line
}

const str = (value: unknown): string => typeof value === "string" ? value : JSON.stringify(value) ?? String(value)

const field = (value: unknown, key: string): unknown =>
  // a non-null object: reading one key of it is safe
  typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined

/** One line about a step's value: the model's text or tool calls, the tool's output or error. */
export const describeStep = (step: Step): string => {
  const value = step.value
  const error = field(value, "error")
  if (step.kind === "model") {
    if (error !== undefined) return `model failed: ${cut(str(error))}`
    const calls = field(value, "toolCalls")
    const text = field(value, "text")
    const parts: Array<string> = []
    if (typeof text === "string" && text !== "") parts.push(`text ${JSON.stringify(cut(text))}`)
    if (Array.isArray(calls) && calls.length > 0) {
      parts.push(
        `calls ${calls.map((c) => `${str(field(c, "name"))}(${cut(str(field(c, "arguments") ?? {}))})`).join(", ")}`
      )
    }
    const usage = field(value, "usage")
    const tokens = field(usage, "totalTokens")
    if (typeof tokens === "number") parts.push(`${tokens} tokens`)
    return parts.length === 0 ? "(empty answer)" : parts.join("; ")
  }
  const name = field(value, "name")
  if (field(value, "_tag") === "ToolFailure") {
    return `${str(name)} failed: ${cut(`${str(field(error, "tag"))}: ${str(field(error, "message"))}`)}`
  }
  if (field(value, "_tag") === "ToolSuccess") return `${str(name)} → ${cut(str(field(value, "output")))}`
  return cut(str(value))
}

/** The human form of a run (see the module doc). */
export const renderRun = (run: Run): string => {
  const started = run.startedAt
  const took = run.finishedAt === undefined || run.finishedAt === null ? "" : ` in ${run.finishedAt - started} ms`
  const lines = [
    `run ${run.runId} — ${run.agent ?? "?"} (${run.agentId ?? "?"}): ${run.outcome ?? "not finished"}${took}`,
    `started ${isoTimeMs(started)}`,
    `input: ${cut(str(run.input))}`
  ]
  const steps = run.steps
  const width = Math.max(4, ...steps.map((s) => (s.name ?? "").length))
  for (const step of steps) {
    const offset = step.at === undefined ? "" : `+${step.at - started} ms`
    lines.push(
      `  ${String(step.seq ?? "?").padStart(3)}  ${(step.name ?? "?").padEnd(width)}  ${offset.padStart(9)}  ${
        describeStep(step)
      }`
    )
  }
  if (steps.length === 0) lines.push("  (no journaled steps)")
  if ((run.droppedSteps ?? 0) > 0) lines.push(`  … ${run.droppedSteps} more steps not kept`)
  if (run.outcome === "answered") lines.push(`answer: ${cut(str(field(run.result, "text") ?? run.result))}`)
  else if (run.outcome !== undefined && run.outcome !== null) {
    lines.push(`${run.outcome}: ${cut(str(field(run.result, "message") ?? run.result))}`)
  }
  return lines.join("\n")
}

/** `troupe replay <run-id> [--json]`. */
export const replay = Command.make("replay", {
  ...shared,
  runId: Argument.String("run-id").pipe(Argument.withDescription("the run id (TurnAnswer.runId, GET /admin/runs)"))
}, (o) =>
  report(Effect.gen(function*() {
    if (o.runId.length === 0 || o.runId.length > 512) {
      return yield* Effect.fail(new CliFailure("the run id must have 1 to 512 characters", 1))
    }
    const r = yield* call(o, "GET", `/admin/runs/${encodeURIComponent(o.runId)}`, Run)
    yield* print(o.json, r.body, () => renderRun(r.answer))
  }))).pipe(Command.withDescription("Print the journal of a durable agent run: its steps in order and its outcome"))
