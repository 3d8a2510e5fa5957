/**
 * The spend ledger (`troupe/costs`): `Costs` records each call's cost by dimension and answers per-period stats
 * and a monthly forecast.
 *
 * @since 0.1.0
 */
export { costDimensions, Costs, forecastFrom, InvalidCost, makeMemory, periodStart } from "./Costs.ts"
export type {
  CostDimension, CostDimensions, CostForecast, CostPeriod, CostQuery, CostRecord, CostsMemoryOptions, CostsShape, CostStats
} from "./Costs.ts"
