/**
 * A private redis-server for tests that stop, freeze (SIGSTOP) or kill the server: started on a free port
 * (never the shared 6379 one), without persistence, and killed when the test is done.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"
import { createClient } from "redis"

export const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

export interface OwnRedis {
  readonly url: string
  readonly port: number
  /** SIGSTOP: the connection stays open, nothing is answered */
  readonly stop: () => void
  /** SIGCONT */
  readonly resume: () => void
  /** SIGKILL, resolved once the process has exited */
  readonly kill: () => Promise<void>
}

const answers = (port: number): Promise<boolean> =>
  new Promise<boolean>((resolve) => {
    const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } })
    client.on("error", () => undefined)
    client.connect().then(() => client.close().then(() => resolve(true)), () => resolve(false))
  })

/** Starts a redis-server on `port` (a free one by default) and waits until it answers. */
export const startOwnRedis = async (port?: number): Promise<OwnRedis> => {
  const p = port ?? await freePort()
  const child: ChildProcess = spawn("redis-server", [
    "--port",
    String(p),
    "--save",
    "",
    "--appendonly",
    "no",
    "--bind",
    "127.0.0.1"
  ], { stdio: "ignore" })
  let exited = false
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true
      resolve()
    })
  })
  for (let i = 0; i < 100; i++) {
    if (await answers(p)) {
      return {
        url: `redis://127.0.0.1:${p}`,
        port: p,
        stop: () => void child.kill("SIGSTOP"),
        resume: () => void child.kill("SIGCONT"),
        kill: async () => {
          if (!exited) {
            child.kill("SIGCONT")
            child.kill("SIGKILL")
          }
          await exit
        }
      }
    }
    await new Promise((r) => {
      setTimeout(r, 50)
    })
  }
  child.kill("SIGKILL")
  throw new Error("redis-server did not start")
}
