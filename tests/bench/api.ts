/**
 * Benchmark of the API with 100,000 composes in the database: POST throughput and GET list
 * latency of `odcs-frontend` (real PostgreSQL and RabbitMQ, outbox relay included) next to
 * the bare Express + pg reference server on the same database, in the same run.
 *
 *   npm run bench   (or: npm run build && node dist/tests/bench/api.js)
 */
import path from 'node:path';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { Database } from '../../common/db/database';
import { ADMIN_DATABASE_URL, AMQP_URL, databaseUrl } from '../support/env';
import { freePort } from '../support/processes';
import { startProcess, stopProcess } from './processes';
import { type BenchRow, runAlone } from './report';

const COMPOSES = 100_000;
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
/** Concurrency of the throughput runs (enough to saturate both cores) and of the latency runs. */
const CONNECTIONS = 32;
const LATENCY_CONNECTIONS = 8;
const DIST = path.join(__dirname, '..', '..');

async function freshDatabase(name: string): Promise<string> {
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = databaseUrl(name);
  const db = await Database.connect({ url, poolSize: 2 });
  await db.migrate();
  // 100,000 composes spread over owners, types and states, as a busy server accumulates them.
  await db.query(`
    INSERT INTO composes (owner, source_type, source, state, state_reason, time_submitted, time_started, time_done,
                          time_removed, time_to_expire, arches, sigkeys, results, flags, compose_type, packages)
    SELECT 'user' || (g % 50), 1 + (g % 7), 'tag-' || (g % 300), s.state,
           'Compose is generated successfully',
           t, CASE WHEN s.state <> 0 THEN t END, CASE WHEN s.state = 2 OR s.state = 3 THEN t END,
           CASE WHEN s.state = 3 THEN t END, t + interval '1 day', '{x86_64}', '{}', 1, 0, 'test', '{bash,httpd}'
    FROM generate_series(1, ${COMPOSES}) AS g,
         LATERAL (SELECT (ARRAY[0, 1, 2, 2, 3, 3, 3, 4])[1 + g % 8] AS state) s,
         LATERAL (SELECT now() - (${COMPOSES} - g) * interval '1 minute' AS t) tt`);
  await db.query(`VACUUM ANALYZE composes`);
  await db.close();
  return url;
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string, method: 'GET' | 'POST', body?: string, connections = CONNECTIONS): Promise<Load> {
  const headers = { 'content-type': 'application/json' };
  // A short warm-up so that JIT, pools and caches are in their steady state.
  await autocannon({ url, method, body, connections, duration: 2, headers });
  const r = await autocannon({ url, method, body, connections, duration: DURATION_S, headers });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

export async function benchApi(): Promise<BenchRow[]> {
  const url = await freshDatabase('odcs_bench_api');
  const ourPort = await freePort();
  const refPort = await freePort();
  const body = JSON.stringify({ source: { type: 'tag', source: 'f40', packages: ['httpd'] }, arches: ['x86_64'] });

  const ours = await startProcess(
    path.join(DIST, 'bin', 'cli', 'frontend.js'),
    { DATABASE_URL: url, AMQP_URL, PORT: String(ourPort), ODCS_WORK_QUEUE: 'odcs.bench.composes', ODCS_LOG_LEVEL: 'info', ODCS_MESSAGING_TOPIC_PREFIX: 'bench' },
    'API listening',
  ).catch(async (err) => {
    throw err;
  });
  const ref = await startProcess(path.join(DIST, 'tests', 'bench', 'reference-server.js'), { DATABASE_URL: url, PORT: String(refPort) }, 'reference listening');
  try {
    const list = 'api/1/composes/';
    const filtered = `${list}?owner=user7&state=2&order_by=-time_submitted`;
    const oursGet = await load(`http://127.0.0.1:${ourPort}/${list}`, 'GET');
    const refGet = await load(`http://127.0.0.1:${refPort}/${list}`, 'GET');
    const oursGetLat = await load(`http://127.0.0.1:${ourPort}/${list}`, 'GET', undefined, LATENCY_CONNECTIONS);
    const refGetLat = await load(`http://127.0.0.1:${refPort}/${list}`, 'GET', undefined, LATENCY_CONNECTIONS);
    const oursFiltered = await load(`http://127.0.0.1:${ourPort}/${filtered}`, 'GET', undefined, LATENCY_CONNECTIONS);
    const oursPost = await load(`http://127.0.0.1:${ourPort}/${list}`, 'POST', body);
    const refPost = await load(`http://127.0.0.1:${refPort}/${list}`, 'POST', body);
    const errors = oursGet.errors + oursPost.errors + oursFiltered.errors + oursGetLat.errors;
    const warn = errors ? ` (${errors} errors!)` : '';
    return [
      { name: `POST /composes/ throughput, ${CONNECTIONS} connections`, ours: oursPost.rps, reference: refPost.rps, unit: 'req/s', note: `target ≥ 0.7 × reference${warn}` },
      { name: `POST p99 latency, ${CONNECTIONS} connections`, ours: oursPost.p99, reference: refPost.p99, unit: 'ms' },
      { name: `GET list throughput, ${CONNECTIONS} connections`, ours: oursGet.rps, reference: refGet.rps, unit: 'req/s' },
      { name: `GET list p99 latency, ${CONNECTIONS} connections`, ours: oursGet.p99, reference: refGet.p99, unit: 'ms', note: 'both cores saturated' },
      { name: `GET list p50 latency, ${LATENCY_CONNECTIONS} connections`, ours: oursGetLat.p50, reference: refGetLat.p50, unit: 'ms' },
      { name: `GET list p99 latency, ${LATENCY_CONNECTIONS} connections`, ours: oursGetLat.p99, reference: refGetLat.p99, unit: 'ms', note: 'target ≤ 20 ms' },
      { name: `GET list filtered (owner, state, order_by=-time_submitted) p99, ${LATENCY_CONNECTIONS} connections`, ours: oursFiltered.p99, reference: refGetLat.p99, unit: 'ms', note: 'reference: its unfiltered list' },
    ];
  } finally {
    await stopProcess(ours);
    await stopProcess(ref);
  }
}

if (require.main === module) runAlone(`API, ${COMPOSES.toLocaleString('en')} composes in the database, ${DURATION_S} s per run`, benchApi);
