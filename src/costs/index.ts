/**
 * The spend ledger (`troupe/costs`): `Costs` records each call's cost by dimension and answers per-period stats
 * and a monthly forecast, in memory, Redis or PostgreSQL.
 *
 * @since 0.1.0
 */
export {
  costDimensions,
  Costs,
  CostsStoreError,
  forecastFrom,
  InvalidCost,
  makeMemory,
  makePostgres,
  makeRedis,
  periodStart
} from "./Costs.ts"
export type {
  CostDimension,
  CostDimensions,
  CostForecast,
  CostPeriod,
  CostQuery,
  CostRecord,
  CostSavings,
  CostsMemoryOptions,
  CostsPostgresOptions,
  CostsRedisOptions,
  CostsShape,
  CostStats,
  SavingsQuery
} from "./Costs.ts"
export { make as makeRecommendations, MAX_BUDGET_CANDIDATES, Recommendations } from "./Recommendations.ts"
export type {
  BudgetNearLimitRecommendation,
  CheaperModelRecommendation,
  EnableCacheRecommendation,
  JudgeVerdict,
  Recommendation,
  RecommendationPeriod,
  RecommendationSample,
  RecommendationsOptions,
  RecommendationsShape
} from "./Recommendations.ts"
