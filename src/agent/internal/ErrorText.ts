/**
 * The agent subsystem's one rendering of a failure as text: the message of an `ActionFailed` or `CmdFailed`, the
 * warning logged and the `troupe.agent.error` report of an agent's error policy, and the `ToolError` returned to
 * the model.
 *
 * Total: it never throws. A failure is any value — one that arrived in an `ActionResult` instruction over
 * `AgentServer.cmd`, or that an action threw — and `String(value)` throws for some (`Object.create(null)`, an
 * object whose `toString` or `Symbol.toPrimitive` throws or returns an object); so does reading the `message` of
 * an `Error` whose getter throws. Rendering inside the directive drain, such a throw crashed the agent (a restart
 * with its start arguments, and the shared restart intensity spent). Values with a string form render as before:
 * an `Error` as its `message`, anything else as `String(value)`.
 *
 * Reuses the telemetry's total renderer (`renderUnknown`: `String(value)`, else `[object Object]`, else
 * `[value without a string form]` for a revoked `Proxy`).
 */
import { renderUnknown as render } from "../../telemetry/internal/Render.ts"

/** A failure as text: an `Error`'s message (a non-string message rendered), else the value rendered. Never throws. */
export const errorText = (error: unknown): string => {
  try {
    if (error instanceof Error) {
      const message: unknown = error.message
      return typeof message === "string" ? message : render(message)
    }
  } catch {
    // a throwing `message` getter (or a Proxy's prototype trap): rendered as a plain value below
  }
  return render(error)
}

/** A string field of a failure (`_tag`, `name`, `message`, `path`), or `undefined` when absent, not a string or unreadable. */
export const stringField = (error: unknown, key: string): string | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  try {
    // reading one optional field of an object
    const value = (error as Record<string, unknown>)[key]
    return typeof value === "string" ? value : undefined
  } catch {
    return undefined
  }
}

/** The `troupe.agent.error` report of a failure: `{ tag, message }` for an `Error`, else the value rendered. */
export const errorReport = (error: unknown): { readonly tag: string; readonly message: string } | string => {
  let isError = false
  try {
    isError = error instanceof Error
  } catch {
    // a Proxy whose prototype trap throws: not an Error
  }
  if (!isError) return render(error)
  return { tag: stringField(error, "_tag") ?? stringField(error, "name") ?? "Error", message: errorText(error) }
}
