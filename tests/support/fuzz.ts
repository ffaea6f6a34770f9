/**
 * Shared by the adversarial tests: how many cases to run, and the summary table they print.
 * Portable (runs on Node and inside XS): the environment is read only where a `process` global exists.
 */

interface Env {
  FUZZ_RUNS?: string;
  FUZZ_SEED?: string;
}

/** Node's `process.env`, or undefined inside XS (which has no environment). */
function env(): Env | undefined {
  return (globalThis as { process?: { env?: Env } }).process?.env;
}

/** True on the XS engine (no `process` global): the tests there use a constant, smaller sample. */
export const onXs = env() === undefined;

/**
 * Cases for one property: `FUZZ_RUNS × scale` when FUZZ_RUNS is set (npm run test:fuzz), else `node`
 * cases on Node (npm test) and `xs` cases on XS.
 */
export function fuzzRuns(node: number, xs: number, scale = 1): number {
  const runs = env()?.FUZZ_RUNS;
  if (runs !== undefined && runs !== '') {
    const n = Number(runs);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`FUZZ_RUNS must be a positive integer, got ${JSON.stringify(runs)}`);
    return Math.max(1, Math.round(n * scale));
  }
  return onXs ? xs : node;
}

/** fast-check parameters: a fixed seed when FUZZ_SEED is set (to replay a run), else a random one. */
export function fuzzSeed(): number | undefined {
  const seed = env()?.FUZZ_SEED;
  return seed === undefined || seed === '' ? undefined : Number(seed);
}

export interface Row {
  /** Generated inputs fed to the code under test. */
  tried: number;
  /** Inputs refused as they should be (HttpError, 4xx/5xx, no session). */
  rejected: number;
  /** Inputs accepted (valid requests parsed and answered, as the model says). */
  accepted: number;
  /** Incomplete inputs the parser still waits on: the server answers them 408 at requestTimeout. */
  pending: number;
  /** Anything else: a non-HttpError thrown, a 500, a broken response, a leaked connection. Must be 0. */
  crashes: number;
}

/** Counts per property, printed as one table when the file's tests end. */
export class Tally {
  readonly #rows = new Map<string, Row>();
  readonly #title: string;
  /** How often each status (or other outcome) was seen, over every property. */
  readonly #outcomes = new Map<string, number>();

  constructor(title: string) {
    this.#title = title;
  }

  row(name: string): Row {
    let row = this.#rows.get(name);
    if (row === undefined) {
      row = { tried: 0, rejected: 0, accepted: 0, pending: 0, crashes: 0 };
      this.#rows.set(name, row);
    }
    return row;
  }

  /** Counts an outcome (a status code, "no session", …) for the breakdown under the table. */
  saw(outcome: string | number): void {
    const key = String(outcome);
    this.#outcomes.set(key, (this.#outcomes.get(key) ?? 0) + 1);
  }

  get totals(): Row {
    const total: Row = { tried: 0, rejected: 0, accepted: 0, pending: 0, crashes: 0 };
    for (const row of this.#rows.values()) {
      total.tried += row.tried;
      total.rejected += row.rejected;
      total.accepted += row.accepted;
      total.pending += row.pending;
      total.crashes += row.crashes;
    }
    return total;
  }

  /** The table as text lines (Markdown), with a totals row and the outcome breakdown. */
  format(): string {
    const rows: [string, Row][] = [...this.#rows, ['total', this.totals]];
    const width = Math.max(8, ...rows.map(([name]) => name.length));
    const columns: (keyof Row)[] = ['tried', 'rejected', 'accepted', 'pending', 'crashes'];
    const line = (cells: string[]) => `| ${cells[0].padEnd(width)} | ${cells.slice(1).map((c) => c.padStart(9)).join(' | ')} |`;
    const out = [
      `${this.#title}${onXs ? ' (XS engine)' : ''}`,
      line(['property', ...columns]),
      `|${'-'.repeat(width + 2)}|${columns.map(() => '-'.repeat(10) + ':').join('|')}|`,
      ...rows.map(([name, row]) => line([name, ...columns.map((column) => String(row[column]))])),
    ];
    if (this.#outcomes.size > 0) {
      const outcomes = [...this.#outcomes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, n]) => `${key}: ${n}`);
      let line = 'outcomes:';
      for (const outcome of outcomes) {
        if (line.length + outcome.length > 110) {
          out.push(line);
          line = ' ';
        }
        line += ` ${outcome},`;
      }
      out.push(line.slice(0, -1));
    }
    return out.join('\n');
  }

  print(): void {
    console.log(`\n${this.format()}\n`);
  }
}

/** The bytes of `parts`, one after another, in a new array. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
