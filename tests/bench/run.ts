/**
 * `npm run bench`: every benchmark against the real stack, each next to a reference measured
 * in the same run, printed as Markdown tables for the README.
 */
import { benchApi } from './api';
import { benchAuth } from './auth';
import { benchCompose } from './compose';
import { benchDepsolve } from './depsolve';
import { benchKoji } from './koji';
import { type BenchRow, formatTable } from './report';

const BENCHES: Array<[string, () => Promise<BenchRow[]>]> = [
  ['API, 100,000 composes in the database (reference: bare Express + pg, one INSERT / one indexed SELECT)', benchApi],
  ['Dependency resolution, 60,000-package repository, 500-package request (reference: libsolv)', benchDepsolve],
  ['Compose engine (reference: createrepo_c alone on the same RPMs)', benchCompose],
  ['Koji tag compose, 5,000 packages, then 10 changed (reference: size of the tag and of what changed)', benchKoji],
  ['Authentication, POST throughput (reference: noauth in the same run)', benchAuth],
];

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  for (const [title, bench] of BENCHES) {
    if (only.length && !only.some((o) => title.toLowerCase().includes(o.toLowerCase()))) continue;
    process.stderr.write(`running: ${title}\n`);
    process.stdout.write(`${formatTable(title, await bench())}\n`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
