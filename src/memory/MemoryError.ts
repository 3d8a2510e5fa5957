/**
 * Typed errors of conversation memory.
 *
 * `MemoryBackendError` wraps a failure of the store (Redis unreachable, a command error) with the operation and
 * conversation it concerned; `InvalidMemoryInput` is a bad conversation id, message or option, naming the field.
 * Undecodable stored messages are not errors: they are skipped and counted (see `ConversationMemory.stats`).
 * Plain `Schema.TaggedError`s.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"

/** The memory store failed (e.g. Redis). */
export class MemoryBackendError extends Schema.TaggedError<MemoryBackendError>()("MemoryBackendError", {
  operation: Schema.String,
  conversationId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `conversation memory ${this.operation} failed for "${this.conversationId}": ${this.reason}`
  }
}

/** A bad conversation id, message or option. `path` names the bad field (e.g. `messages.2.role`). */
export class InvalidMemoryInput
  extends Schema.TaggedError<InvalidMemoryInput>()("InvalidMemoryInput", Invalid.InvalidInputFields)
{
  /** An `InvalidMemoryInput` for a rule Schema cannot express, at `path` (`a.b[2].c`). */
  static at(path: string, detail: string): InvalidMemoryInput {
    return new InvalidMemoryInput(Invalid.fields("conversation memory input", path, detail))
  }

  override get message(): string {
    return Invalid.invalidMessage(this)
  }
}

/** Every failure of a memory operation. */
export type MemoryError = MemoryBackendError | InvalidMemoryInput
