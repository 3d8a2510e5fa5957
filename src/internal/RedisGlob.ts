/**
 * Redis glob patterns (`SCAN MATCH`, `KEYS`): `escapeGlob` makes a key prefix match literally. Shared by the
 * cache's Redis tier and the Redis budget store.
 *
 * @internal
 */

/** Escapes Redis glob metacharacters so a prefix matches literally in `SCAN MATCH`. */
export const escapeGlob = (s: string): string => s.replace(/[\\*?[\]]/g, (c) => `\\${c}`)
