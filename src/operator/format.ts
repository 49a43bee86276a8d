/** Human-readable output of the operator CLI (the default; --json prints the object). */

type Row = Record<string, unknown>;

const cell = (value: unknown): string => {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) {
    // Scope lists show their names; the full objects are in --json.
    const items: unknown[] = value;
    return items.map((v) => (isNamed(v) ? v.name : cell(v))).join(',') || '-';
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
};

const isNamed = (v: unknown): v is { name: string } =>
  typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string';

/**
 * A list result (one array member, such as `{ agents: [...] }`) becomes an aligned
 * table; anything else becomes `key: value` lines.
 */
export function formatResult(command: string, result: Row): string {
  const lists = Object.entries(result).filter(([, v]) => Array.isArray(v));
  const [only] = lists;
  if (lists.length === 1 && only) {
    const [what, items] = only as [string, Row[]];
    if (items.length === 0) return `no ${what}`;
    const columns = Object.keys(items[0] ?? {});
    const table = [columns, ...items.map((item) => columns.map((c) => cell(item[c])))];
    const widths = columns.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
    return table
      .map((r) =>
        r
          .map((v, i) => v.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n');
  }
  const lines = Object.entries(result).map(([k, v]) => `${k}: ${cell(v)}`);
  return command === 'user invite'
    ? [...lines, 'Send the invite_url to the person; it works once.'].join('\n')
    : lines.join('\n');
}
