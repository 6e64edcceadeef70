/** One line of a benchmark table: our figure next to a reference measured in the same run. */
export interface BenchRow {
  name: string;
  ours: number;
  reference: number;
  unit: string;
  note?: string;
}

export function formatTable(title: string, rows: readonly BenchRow[]): string {
  const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n >= 100 ? n.toFixed(0) : n.toFixed(2));
  const lines = [
    `### ${title}`,
    '',
    '| measure | ours | reference | ratio (ours / reference) | note |',
    '|---|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.name} | ${fmt(r.ours)} ${r.unit} | ${fmt(r.reference)} ${r.unit} | ${r.reference ? (r.ours / r.reference).toFixed(2) : 'n/a'} | ${r.note ?? ''} |`),
    '',
  ];
  return lines.join('\n');
}
