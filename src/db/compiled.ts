/**
 * Statements on the hot path, turned into SQL text once per shape.
 *
 * drizzle builds a query's text from its builder at every run. For the mint's two
 * statements that cost more of the broker's CPU than PostgreSQL spends running them
 * (bench/mint.ts, BENCH_PROFILE_DIR: about 0.8 ms of 6 ms per mint with the policy on).
 * A compiled statement runs its builder once per shape, with `sql.placeholder` for
 * every value, keeps the text, and at each run only fills the values in: through
 * the session of the database or transaction it is given, so it runs inside that
 * transaction. postgres.js prepares the text once per connection; PGlite parses it.
 *
 * Values behind a bare placeholder (in a comparison) reach the driver as given:
 * pass timestamps as ISO strings. Values of an INSERT go through their column's
 * encoder (insertRow). The text is frozen at its first build, so a table written this
 * way must not have JavaScript-side defaults ($defaultFn, $onUpdate): drizzle would
 * compute them once, into the text.
 */
import { sql, type Column, type Query } from 'drizzle-orm';
import type { DbOrTx } from './database.ts';

/** Turns one row, as the driver returns it in array mode, into the caller's object. */
export type RowDecoder<Row> = (raw: unknown[]) => Row;

export class CompiledStatement<Row> {
  readonly #texts = new Map<string, Query>();

  constructor(
    /** The statement's name: postgres.js prepares named statements (drizzle: unnamed ones not). */
    private readonly name: string,
    private readonly decode: RowDecoder<Row> | undefined,
  ) {}

  /**
   * Runs the statement of this shape. `build` makes its builder (with placeholders) the
   * first time the shape is seen; `shape` must tell apart every builder that makes
   * different text.
   */
  async run(
    db: DbOrTx,
    shape: string,
    build: () => { toSQL(): Query },
    values: Record<string, unknown>,
  ): Promise<Row[]> {
    let query = this.#texts.get(shape);
    if (!query) {
      query = build().toSQL();
      this.#texts.set(shape, query);
    }
    const decode = this.decode;
    const prepared = db._.session.prepareQuery<{ execute: Row[]; all: unknown; values: unknown }>(
      query,
      undefined,
      this.name,
      true,
      decode ? (rows) => decodeAll(rows, decode) : () => [],
    );
    return prepared.execute(values);
  }

  /** Shapes seen so far (for tests). */
  get shapes(): number {
    return this.#texts.size;
  }
}

function decodeAll<Row>(rows: unknown[][], decode: RowDecoder<Row>): Row[] {
  const out: Row[] = [];
  for (const row of rows) out.push(decode(row));
  return out;
}

/**
 * A decoder for a table's columns as a run of consecutive values of the row, in the
 * order of `columns` (the order drizzle lists a selection in), from `offset` on; each
 * value goes through its column's own decoder, as drizzle's result mapping does.
 */
export function columnsDecoder<Row extends Record<string, unknown>>(
  columns: Record<string, Column>,
): (raw: unknown[], offset: number) => Row {
  const entries = Object.entries(columns);
  return (raw, offset) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < entries.length; i++) {
      const [key, column] = entries[i] as [string, Column];
      const value = raw[offset + i];
      out[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
    }
    // The caller names the row type: that of the table the columns are from.
    return out as Row;
  };
}

/**
 * A row to INSERT through a compiled statement: each value a placeholder named
 * `<prefix><column>`, filled in through the column's encoder. A null is written as
 * NULL into the text itself (drizzle's fill would hand it to the encoder, and jsonb's
 * turns it into JSON null, where drizzle's own inserts write SQL NULL); an undefined
 * value leaves the column out, to its default. `shape` tells these texts apart.
 */
export function insertRow<T extends Record<string, unknown>>(
  prefix: string,
  row: T,
): { columns: T; values: Record<string, unknown>; shape: string } {
  const columns: Record<string, unknown> = {};
  const values: Record<string, unknown> = {};
  const shape: string[] = [];
  for (const [key, value] of Object.entries(row)) {
    if (value === undefined) continue;
    if (value === null) {
      columns[key] = sql`null`;
      shape.push(`${key}=null`);
    } else {
      columns[key] = sql.placeholder(`${prefix}${key}`);
      values[`${prefix}${key}`] = value;
      shape.push(key);
    }
  }
  // The row's own columns, each now a placeholder or NULL in place of its value.
  return { columns: columns as T, values, shape: shape.join(',') };
}
