/** json columns come back parsed from postgres.js and PGlite alike, but a string is tolerated. */
export function parseJson<T>(value: T | string | null | undefined): T | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}
