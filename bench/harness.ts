/**
 * The benchmark harness shared by every `bench/*.bench.ts` file.
 *
 * A bench file's default export is an async function returning `BenchRow`s. `bench/run.ts` runs every bench
 * file in one process, fills in `ratio = median / baseline.median` for rows that name a `baseline` row of the
 * same run, and writes `bench/results.json` in the format the issues fix:
 * `{ node, effect, results: [{ id, unit, median, p99?, baseline?, ratio? }] }`.
 *
 * Figures are medians over samples; each sample times a batch of operations with `process.hrtime.bigint`, so
 * per-operation figures well under a microsecond stay accurate. Latency rows (`timeEach`) time every single
 * operation instead and report p50 / p99.
 */
import { Effect, type Scope } from "effect"

export interface BenchRow {
  readonly id: string
  readonly unit: string
  readonly median: number
  readonly p99?: number
  readonly baseline?: string
  readonly ratio?: number
  readonly note?: string
}

/** Bench files re-measured by a filtered run after the last full run, and the day they were. */
export interface RefreshedRun {
  readonly files: ReadonlyArray<string>
  readonly at: string
}

/** What `bench/results.json` holds. `refreshed` is present only while some rows come from filtered runs. */
export interface BenchResults {
  readonly node: string
  readonly effect: string
  readonly refreshed?: ReadonlyArray<RefreshedRun>
  readonly results: ReadonlyArray<BenchRow>
}

export interface BatchOptions {
  /** operations per sample */
  readonly ops: number
  /** timed samples (after warm-up) */
  readonly samples?: number
  /** untimed warm-up samples */
  readonly warmup?: number
  readonly baseline?: string
  readonly note?: string
}

const quantile = (sorted: ReadonlyArray<number>, q: number): number => {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[index] ?? Number.NaN
}

const round = (n: number): number => Math.round(n * 1000) / 1000

const summarise = (
  id: string,
  unit: string,
  perOp: Array<number>,
  options: { readonly baseline?: string | undefined; readonly note?: string | undefined }
): BenchRow => {
  perOp.sort((a, b) => a - b)
  return {
    id,
    unit,
    median: round(quantile(perOp, 0.5)),
    p99: round(quantile(perOp, 0.99)),
    ...(options.baseline !== undefined ? { baseline: options.baseline } : {}),
    ...(options.note !== undefined ? { note: options.note } : {})
  }
}

/** Times a synchronous or promise-returning batch: `run(ops)` must perform `ops` operations. */
export const timeBatch = async (
  id: string,
  run: (ops: number) => void | Promise<void>,
  options: BatchOptions
): Promise<BenchRow> => {
  const samples = options.samples ?? 30
  const warmup = options.warmup ?? 5
  const perOp: Array<number> = []
  for (let i = 0; i < warmup + samples; i++) {
    const start = process.hrtime.bigint()
    const result = run(options.ops)
    if (result !== undefined) await result
    const elapsed = Number(process.hrtime.bigint() - start)
    if (i >= warmup) perOp.push(elapsed / options.ops)
  }
  return summarise(id, "ns/op", perOp, options)
}

/** Times an Effect that performs `ops` operations per run (the effect is built once and re-run). */
export const timeEffectBatch = <E>(
  id: string,
  batch: Effect.Effect<void, E>,
  options: BatchOptions
): Promise<BenchRow> => {
  const samples = options.samples ?? 30
  const warmup = options.warmup ?? 5
  const program = Effect.gen(function*() {
    const perOp: Array<number> = []
    for (let i = 0; i < warmup + samples; i++) {
      const start = process.hrtime.bigint()
      yield* batch
      const elapsed = Number(process.hrtime.bigint() - start)
      if (i >= warmup) perOp.push(elapsed / options.ops)
    }
    return summarise(id, "ns/op", perOp, options)
  })
  return Effect.runPromise(program)
}

/** One row of an interleaved measurement: an effect performing `ops` operations per run. */
export interface InterleavedBatch {
  readonly id: string
  readonly batch: Effect.Effect<void, unknown>
  readonly ops: number
  readonly baseline?: string
  readonly note?: string
}

/**
 * Times several rows round-robin: each round runs every batch once, so all rows see the same background load
 * (this machine's speed drifts by 2× within a minute). Use it for a row and the baseline it is compared with.
 * `setup` runs in the same program (and so on the same scheduler) as the batches; its scope closes afterwards.
 */
export const timeInterleaved = (
  setup: Effect.Effect<ReadonlyArray<InterleavedBatch>, unknown, Scope.Scope>,
  options: { readonly samples?: number; readonly warmup?: number } = {}
): Promise<Array<BenchRow>> => {
  const samples = options.samples ?? 30
  const warmup = options.warmup ?? 5
  const program = Effect.gen(function*() {
    const batches = yield* setup
    const perOp = batches.map((): Array<number> => [])
    for (let round = 0; round < warmup + samples; round++) {
      for (let b = 0; b < batches.length; b++) {
        const entry = batches[b] as InterleavedBatch
        const start = process.hrtime.bigint()
        yield* entry.batch
        const elapsed = Number(process.hrtime.bigint() - start)
        if (round >= warmup) perOp[b]?.push(elapsed / entry.ops)
      }
    }
    return batches.map((entry, b) => summarise(entry.id, "ns/op", perOp[b] ?? [], entry))
  })
  return Effect.runPromise(Effect.orDie(Effect.scoped(program)))
}

/** Times each operation separately (latency distribution): `op` is run `count` times after `warmup` runs. */
export const timeEach = async (
  id: string,
  op: () => Promise<void>,
  options: { readonly count: number; readonly warmup?: number; readonly baseline?: string; readonly note?: string }
): Promise<BenchRow> => {
  const perOp: Array<number> = []
  const warmup = options.warmup ?? Math.min(1000, options.count)
  for (let i = 0; i < warmup + options.count; i++) {
    const start = process.hrtime.bigint()
    await op()
    const elapsed = Number(process.hrtime.bigint() - start)
    if (i >= warmup) perOp.push(elapsed)
  }
  return summarise(id, "ns/op", perOp, options)
}

/** Forces a full GC (needs `--expose-gc`, which `bench/run.ts` re-execs itself with) and returns heap used. */
export const heapUsedAfterGc = async (): Promise<number> => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("run the benchmarks through bench/run.ts (it enables --expose-gc)")
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((resolve) => {
      setImmediate(resolve)
    })
  }
  return process.memoryUsage().heapUsed
}

/** Heap bytes per item: builds `count` items with `make`, keeps them alive, and divides the heap growth. */
export const bytesPer = async <A>(
  id: string,
  count: number,
  make: (count: number) => Promise<A>,
  release: (items: A) => Promise<void>,
  options: { readonly baseline?: string; readonly note?: string } = {}
): Promise<BenchRow> => {
  const before = await heapUsedAfterGc()
  const items = await make(count)
  const after = await heapUsedAfterGc()
  await release(items)
  const perItem = round((after - before) / count)
  return {
    id,
    unit: "bytes",
    median: perItem,
    ...(options.baseline !== undefined ? { baseline: options.baseline } : {}),
    ...(options.note !== undefined ? { note: options.note } : {})
  }
}
