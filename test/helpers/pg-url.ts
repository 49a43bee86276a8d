/** Builds URLs to sibling databases on the server TEST_DATABASE_URL points at. */
export function databaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.href;
}

/** The database named in the URL is where we run CREATE/DROP DATABASE from. */
export function adminUrl(base: string): string {
  return base;
}
