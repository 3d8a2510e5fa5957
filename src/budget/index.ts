/**
 * Budgets that cannot be overspent (`troupe/budget`): reserve the estimated maximum cost before a call, settle at
 * the actual cost after it, atomically across scopes and processes; memory, Redis and PostgreSQL backends.
 *
 * @since 0.1.0
 */
export * from "./Budget.ts"
export * from "./BudgetError.ts"
export * from "./Budgets.ts"
