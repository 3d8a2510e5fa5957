/**
 * A fake LLM provider on loopback for tests: a `node:http` server on 127.0.0.1, port 0, that speaks both wire
 * formats — OpenAI chat completions (`POST /v1/chat/completions`) and Anthropic Messages (`POST /v1/messages`) —
 * in plain JSON and SSE streaming (chosen by the request's `stream` field).
 *
 * Scriptable per test: `enqueue` replies consumed one per request (else `defaultReply`): a text answer, tool calls,
 * an error status with body and headers (429 + Retry-After, 500, 503, Anthropic 529), a hang (never answers), a
 * stream stalled or cut mid-way (socket destroyed), malformed JSON, an error event inside a stream. It records every
 * request (path, headers, parsed body) and every response close (`completed: false` = the client went away before
 * the answer was finished, i.e. the request was aborted). Never talks to the internet.
 */
import { createServer } from "node:http"
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"

/** A tool call the fake model makes. */
export interface FakeToolCall {
  readonly id?: string
  readonly name: string
  readonly arguments: unknown
}

/** What the fake answers to one request. */
export type FakeReply =
  | {
    readonly kind: "answer"
    readonly text?: string
    readonly toolCalls?: ReadonlyArray<FakeToolCall>
    readonly usage?: { readonly input: number; readonly output: number }
    /** OpenAI `finish_reason` / Anthropic `stop_reason` override. */
    readonly finish?: string
    /** Omit every usage field: the usage chunk (OpenAI streams), `usage` of message_start / message_delta / the answer */
    readonly omitUsage?: boolean
    /** Streams only: ms between the terminal event and the response's end (`Infinity`: until the client goes away) */
    readonly endAfter?: number
    /** Streams only: between the terminal event and the end, an SSE keep-alive comment every this many ms */
    readonly keepAliveEvery?: number
  }
  | {
    readonly kind: "status"
    readonly status: number
    readonly body?: unknown
    readonly headers?: Readonly<Record<string, string>>
  }
  /** Accepts the request and never answers. */
  | { readonly kind: "hang" }
  /**
   * Streams: sends `afterEvents` events of the answer, then stalls forever — with `keepAliveEvery` (ms), writing an
   * SSE keep-alive comment (`: keep-alive`) at that interval until the client goes away.
   */
  | { readonly kind: "stall"; readonly text: string; readonly afterEvents: number; readonly keepAliveEvery?: number }
  /** Sends `afterEvents` events (stream) or half the body (JSON), then destroys the socket. */
  | { readonly kind: "cut"; readonly text: string; readonly afterEvents: number }
  /** 200 with a body (or, streamed, a data line) that is not JSON. */
  | { readonly kind: "malformed" }
  /**
   * Streams: an error event after the first text event (Anthropic `event: error`, OpenAI `{ error }` chunk), with
   * `code` beside `type` when given (OpenAI's `code`, a number as OpenRouter sends it).
   */
  | {
    readonly kind: "streamError"
    readonly errorType?: string
    readonly code?: string | number
    readonly message: string
  }
  /**
   * Exactly these bytes as the body (a recorded or hand-written fixture), with this status and these headers, written
   * `whole`, one byte per write (`bytes`: every multi-byte UTF-8 character split too), or cut in the middle of every
   * multi-byte UTF-8 character (`utf8-split`). Between two writes the server yields to the event loop, so each write
   * leaves as its own chunk (`setNoDelay` on the socket).
   */
  | {
    readonly kind: "raw"
    readonly status?: number
    readonly headers?: Readonly<Record<string, string>>
    readonly body: string | Uint8Array
    readonly write?: WriteMode
  }

/** How a `raw` body is written. */
export type WriteMode = "whole" | "bytes" | "utf8-split"

/** The pieces `body` is written in under `mode`. */
export const pieces = (body: Uint8Array, mode: WriteMode): Array<Uint8Array> => {
  if (mode === "whole") return [body]
  if (mode === "bytes") return Array.from(body, (_, i) => body.subarray(i, i + 1))
  const out: Array<Uint8Array> = []
  let start = 0
  for (let i = 0; i < body.length; i++) {
    const byte = body[i] ?? 0
    // a UTF-8 lead byte of a multi-byte character: cut after it, i.e. mid-character
    if (byte >= 0xc0) {
      out.push(body.subarray(start, i + 1))
      start = i + 1
    }
  }
  out.push(body.subarray(start))
  return out.filter((p) => p.length > 0)
}

/** A request the fake received. */
export interface RecordedRequest {
  /** The path without the query string. */
  readonly path: string
  /** The request target as sent, query string included. */
  readonly url: string
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: unknown
}

/** A response that closed; `completed: false` means the client aborted before the answer was finished. */
export interface RecordedClose {
  readonly path: string
  readonly completed: boolean
}

type Format = "openai" | "anthropic"

const sse = (res: ServerResponse, format: Format, payload: unknown): void => {
  if (format === "anthropic") {
    const type = (payload as { type: string }).type
    res.write(`event: ${type}\ndata: ${JSON.stringify(payload)}\n\n`)
  } else {
    res.write(`data: ${typeof payload === "string" ? payload : JSON.stringify(payload)}\n\n`)
  }
}

const chunks = (text: string): Array<string> => text.match(/.{1,4}/gs) ?? []

/** The SSE payloads of a complete streamed answer in `format`. */
const streamEvents = (format: Format, model: string, reply: Extract<FakeReply, { kind: "answer" }>): Array<unknown> => {
  const text = reply.text ?? ""
  const calls = reply.toolCalls ?? []
  const usage = reply.usage ?? { input: 11, output: 7 }
  const events: Array<unknown> = []
  if (format === "openai") {
    const base = { id: "chatcmpl-fake", object: "chat.completion.chunk", model }
    const choice = (delta: unknown, finish: string | null = null) => ({
      ...base,
      choices: [{ index: 0, delta, finish_reason: finish }]
    })
    events.push(choice({ role: "assistant", content: "" }))
    for (const c of chunks(text)) events.push(choice({ content: c }))
    calls.forEach((call, index) => {
      const args = JSON.stringify(call.arguments)
      const half = Math.ceil(args.length / 2)
      const id = call.id ?? `call_${index}`
      events.push(choice({
        tool_calls: [{ index, id, type: "function", function: { name: call.name, arguments: "" } }]
      }))
      events.push(choice({ tool_calls: [{ index, function: { arguments: args.slice(0, half) } }] }))
      events.push(choice({ tool_calls: [{ index, function: { arguments: args.slice(half) } }] }))
    })
    events.push(choice({}, reply.finish ?? (calls.length > 0 ? "tool_calls" : "stop")))
    if (reply.omitUsage !== true) {
      events.push({
        ...base,
        choices: [],
        usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output }
      })
    }
    events.push("[DONE]")
    return events
  }
  events.push({
    type: "message_start",
    message: {
      id: "msg_fake",
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      ...(reply.omitUsage === true ? {} : { usage: { input_tokens: usage.input, output_tokens: 1 } })
    }
  })
  let index = 0
  if (text !== "") {
    events.push({ type: "content_block_start", index, content_block: { type: "text", text: "" } })
    events.push({ type: "ping" })
    for (const c of chunks(text)) {
      events.push({ type: "content_block_delta", index, delta: { type: "text_delta", text: c } })
    }
    events.push({ type: "content_block_stop", index })
    index++
  }
  calls.forEach((call, i) => {
    const args = JSON.stringify(call.arguments)
    const half = Math.ceil(args.length / 2)
    events.push({
      type: "content_block_start",
      index,
      content_block: { type: "tool_use", id: call.id ?? `toolu_${i}`, name: call.name, input: {} }
    })
    events.push({
      type: "content_block_delta",
      index,
      delta: { type: "input_json_delta", partial_json: args.slice(0, half) }
    })
    events.push({
      type: "content_block_delta",
      index,
      delta: { type: "input_json_delta", partial_json: args.slice(half) }
    })
    events.push({ type: "content_block_stop", index })
    index++
  })
  events.push({
    type: "message_delta",
    delta: { stop_reason: reply.finish ?? (calls.length > 0 ? "tool_use" : "end_turn"), stop_sequence: null },
    ...(reply.omitUsage === true ? {} : { usage: { output_tokens: usage.output } })
  })
  events.push({ type: "message_stop" })
  return events
}

/** The JSON body of a complete non-streamed answer in `format`. */
const jsonAnswer = (format: Format, model: string, reply: Extract<FakeReply, { kind: "answer" }>): unknown => {
  const text = reply.text ?? ""
  const calls = reply.toolCalls ?? []
  const usage = reply.usage ?? { input: 11, output: 7 }
  if (format === "openai") {
    return {
      id: "chatcmpl-fake",
      object: "chat.completion",
      model,
      choices: [{
        index: 0,
        message: {
          role: "assistant",
          content: text === "" && calls.length > 0 ? null : text,
          ...(calls.length > 0
            ? {
              tool_calls: calls.map((c, i) => ({
                id: c.id ?? `call_${i}`,
                type: "function",
                function: { name: c.name, arguments: JSON.stringify(c.arguments) }
              }))
            }
            : {})
        },
        finish_reason: reply.finish ?? (calls.length > 0 ? "tool_calls" : "stop")
      }],
      ...(reply.omitUsage === true
        ? {}
        : {
          usage: {
            prompt_tokens: usage.input,
            completion_tokens: usage.output,
            total_tokens: usage.input + usage.output
          }
        })
    }
  }
  return {
    id: "msg_fake",
    type: "message",
    role: "assistant",
    model,
    content: [
      ...(text !== "" ? [{ type: "text", text }] : []),
      ...calls.map((c, i) => ({ type: "tool_use", id: c.id ?? `toolu_${i}`, name: c.name, input: c.arguments }))
    ],
    stop_reason: reply.finish ?? (calls.length > 0 ? "tool_use" : "end_turn"),
    stop_sequence: null,
    ...(reply.omitUsage === true ? {} : { usage: { input_tokens: usage.input, output_tokens: usage.output } })
  }
}

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const parts: Array<Buffer> = []
    req.on("data", (c: Buffer) => parts.push(c))
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")))
    req.on("error", reject)
  })

/** The fake server. Start with `FakeProviderServer.start()`, stop with `close()`. */
export class FakeProviderServer {
  readonly requests: Array<RecordedRequest> = []
  readonly closes: Array<RecordedClose> = []
  defaultReply: FakeReply = { kind: "answer", text: "ok" }
  /** TCP connections accepted so far (a keep-alive client reuses one). */
  connectionsOpened = 0
  /** SSE keep-alive comments written so far (`stall` or a streamed `answer` with `keepAliveEvery`). */
  keepAlivesSent = 0
  private readonly queue: Array<FakeReply> = []
  private readonly sockets = new Set<Socket>()
  private readonly closeWaiters: Array<() => void> = []
  private readonly server: Server
  private port = 0

  private constructor() {
    this.server = createServer((req, res) => void this.handle(req, res))
    this.server.on("connection", (socket: Socket) => {
      socket.setNoDelay(true)
      this.connectionsOpened++
      this.sockets.add(socket)
      socket.on("close", () => this.sockets.delete(socket))
    })
  }

  /** Starts a server on 127.0.0.1 on a free port. */
  static async start(): Promise<FakeProviderServer> {
    const fake = new FakeProviderServer()
    await new Promise<void>((resolve) => {
      fake.server.listen(0, "127.0.0.1", resolve)
    })
    fake.port = (fake.server.address() as AddressInfo).port
    return fake
  }

  /** `http://127.0.0.1:<port>/v1` — the base URL both providers take. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`
  }

  /** Queues replies, consumed one per request in order. */
  enqueue(...replies: ReadonlyArray<FakeReply>): this {
    this.queue.push(...replies)
    return this
  }

  /** Forgets queued replies and recordings. */
  reset(): void {
    this.queue.length = 0
    this.requests.length = 0
    this.closes.length = 0
    this.keepAlivesSent = 0
    this.defaultReply = { kind: "answer", text: "ok" }
  }

  /** Responses that closed before they were finished (the client aborted). */
  get aborted(): ReadonlyArray<RecordedClose> {
    return this.closes.filter((c) => !c.completed)
  }

  /** Resolves once at least `count` responses were aborted by the client (rejects after `timeoutMs`). */
  waitForAborts(count = 1, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.aborted.length >= count) {
          clearTimeout(timer)
          resolve()
          return true
        }
        return false
      }
      const timer = setTimeout(
        () => reject(new Error(`expected ${count} aborted responses, saw ${this.aborted.length}`)),
        timeoutMs
      )
      if (!check()) this.closeWaiters.push(() => void check())
    })
  }

  /** Stops the server, destroying open connections (hanging requests included). */
  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    return new Promise((resolve) => {
      this.server.close(() => resolve())
    })
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/"
    // the recorded path keeps the query string; routing ignores it
    const path = url.split("?")[0] ?? url
    const text = await readBody(req)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      body = text
    }
    this.requests.push({ path, url, headers: { ...req.headers }, body })
    res.on("close", () => {
      this.closes.push({ path, completed: res.writableFinished })
      for (const waiter of this.closeWaiters.splice(0)) waiter()
    })
    if (req.method === "POST" && path === "/v1/embeddings") return this.embeddings(res, body)
    const format: Format | undefined = path.endsWith("/chat/completions")
      ? "openai"
      : path.endsWith("/v1/messages")
      ? "anthropic"
      : undefined
    const queued = this.queue[0]
    if (queued?.kind === "raw") {
      this.queue.shift()
      void this.writeRaw(res, queued)
      return
    }
    if (req.method !== "POST" || format === undefined) {
      res.writeHead(404, { "content-type": "application/json" }).end(
        JSON.stringify({ error: { message: "not found" } })
      )
      return
    }
    const request = (typeof body === "object" && body !== null ? body : {}) as { model?: string; stream?: boolean }
    const reply = this.queue.shift() ?? this.defaultReply
    this.respond(res, format, request.model ?? "fake-model", request.stream === true, reply)
  }

  /** OpenAI `/embeddings`: vector i is `[i, i / 10, -1]` (a queued `status` reply is sent instead); data in reverse order. */
  private embeddings(res: ServerResponse, body: unknown): void {
    const reply = this.queue.shift() ?? this.defaultReply
    if (reply.kind === "status") {
      res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers }).end(
        JSON.stringify(reply.body ?? {})
      )
      return
    }
    const request = (typeof body === "object" && body !== null ? body : {}) as {
      model?: string
      input?: ReadonlyArray<string>
    }
    const data = (request.input ?? []).map((_, i) => ({ object: "embedding", index: i, embedding: [i, i / 10, -1] }))
      .reverse()
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({
      object: "list",
      data,
      model: request.model ?? "fake-embedding",
      usage: { prompt_tokens: 7, total_tokens: 7 }
    }))
  }

  private async writeRaw(res: ServerResponse, reply: Extract<FakeReply, { kind: "raw" }>): Promise<void> {
    const body = typeof reply.body === "string" ? new TextEncoder().encode(reply.body) : reply.body
    res.writeHead(reply.status ?? 200, { ...reply.headers })
    for (const piece of pieces(body, reply.write ?? "whole")) {
      if (res.destroyed) return
      res.write(piece)
      if (reply.write !== undefined && reply.write !== "whole") {
        await new Promise((r) => {
          setImmediate(r)
        })
      }
    }
    res.end()
  }

  private respond(res: ServerResponse, format: Format, model: string, stream: boolean, reply: FakeReply): void {
    switch (reply.kind) {
      case "hang":
        return
      case "status": {
        const payload = reply.body === undefined
          ? ""
          : typeof reply.body === "string"
          ? reply.body
          : JSON.stringify(reply.body)
        res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers }).end(payload)
        return
      }
      case "malformed":
        if (stream) {
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.end(format === "anthropic" ? "event: message_start\ndata: {not json\n\n" : "data: {not json\n\n")
        } else {
          res.writeHead(200, { "content-type": "application/json" }).end("{\"id\": \"x\", \"choices\": [")
        }
        return
      case "answer":
        if (stream) {
          res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
          for (const event of streamEvents(format, model, reply)) sse(res, format, event)
          const endAfter = reply.endAfter ?? 0
          if (endAfter === 0) res.end()
          else if (Number.isFinite(endAfter)) setTimeout(() => res.end(), endAfter)
          if (endAfter > 0 && reply.keepAliveEvery !== undefined) this.keepAlive(res, reply.keepAliveEvery)
        } else {
          res.writeHead(200, { "content-type": "application/json" }).end(
            JSON.stringify(jsonAnswer(format, model, reply))
          )
        }
        return
      case "raw":
        void this.writeRaw(res, reply)
        return
      case "streamError": {
        res.writeHead(200, { "content-type": "text/event-stream" })
        const events = streamEvents(format, model, { kind: "answer", text: "partial" })
        sse(res, format, events[0])
        const inner = {
          ...(reply.errorType !== undefined ? { type: reply.errorType } : {}),
          ...(reply.code !== undefined ? { code: reply.code } : {}),
          message: reply.message
        }
        if (format === "anthropic") sse(res, format, { type: "error", error: inner })
        else sse(res, format, { error: inner })
        res.end()
        return
      }
      case "stall":
      case "cut": {
        if (!stream) {
          const full = JSON.stringify(jsonAnswer(format, model, { kind: "answer", text: reply.text }))
          res.writeHead(200, { "content-type": "application/json", "content-length": String(full.length) })
          res.write(full.slice(0, Math.floor(full.length / 2)))
          if (reply.kind === "cut") setTimeout(() => res.destroy(), 20)
          return
        }
        res.writeHead(200, { "content-type": "text/event-stream" })
        const events = streamEvents(format, model, { kind: "answer", text: reply.text })
        for (const event of events.slice(0, reply.afterEvents)) sse(res, format, event)
        if (reply.kind === "cut") setTimeout(() => res.destroy(), 20)
        if (reply.kind === "stall" && reply.keepAliveEvery !== undefined) this.keepAlive(res, reply.keepAliveEvery)
        return
      }
    }
  }

  /** An SSE keep-alive comment (`: keep-alive`) every `every` ms until the response ends or the client goes away. */
  private keepAlive(res: ServerResponse, every: number): void {
    const timer = setInterval(() => {
      if (res.destroyed || res.writableEnded) return
      res.write(": keep-alive\n\n")
      this.keepAlivesSent++
    }, every)
    res.on("close", () => clearInterval(timer))
  }
}
