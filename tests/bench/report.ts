/** One line of a benchmark table: our figure next to a reference measured in the same run. */
export interface BenchRow {
  name: string;
  ours: number;
  reference: number;
  unit: string;
  note?: string;
  /** When the ratio is not ours / reference, e.g. the median of paired measurements' ratios. */
  ratio?: number;
}

export function formatTable(title: string, rows: readonly BenchRow[]): string {
  const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n >= 100 ? n.toFixed(0) : n.toFixed(2));
  const lines = [
    `### ${title}`,
    '',
    '| measure | ours | reference | ratio (ours / reference) | note |',
    '|---|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.name} | ${fmt(r.ours)} ${r.unit} | ${fmt(r.reference)} ${r.unit} | ${r.ratio !== undefined ? r.ratio.toFixed(2) : r.reference ? (r.ours / r.reference).toFixed(2) : 'n/a'} | ${r.note ?? ''} |`),
    '',
  ];
  return lines.join('\n');
}

/** Runs one benchmark as its own program: prints its table, exits 0, or prints the error and exits 1. */
export function runAlone(title: string, bench: () => Promise<BenchRow[]>): void {
  bench().then(
    (rows) => {
      process.stdout.write(formatTable(title, rows));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
