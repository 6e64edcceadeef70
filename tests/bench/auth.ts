/**
 * Benchmark of what authentication costs: POST /api/1/composes/ throughput of the built
 * `odcs-frontend` under `openidc` (a bearer token from a real OpenID provider, introspected once
 * and then cached, as a busy robot's is) and under `ssl` (HTTPS with a client certificate from a
 * throwaway openssl CA, TLS terminated by the API itself), next to `noauth` over plain HTTP in
 * the same run, on the same database; and noauth over HTTPS, to tell TLS's cost from the ssl
 * backend's. The backends run in interleaved rounds and the table gives medians (ratios: the
 * median of each round's ratio), so the machine's other load and the table's growth under load
 * favour none of them.
 *
 *   npm run bench auth   (or: npm run build && node dist/tests/bench/auth.js)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { AmqpBroker } from '../../common/broker/amqp-broker';
import { Database } from '../../common/db/database';
import { loadConfig } from '../../common/config';
import { silentLogger } from '../../common/log';
import { createAuthBackend } from '../../frontend/auth';
import type { Request } from 'express';
import { freePort } from '../../common/net';
import { ADMIN_DATABASE_URL, AMQP_URL, databaseUrl } from '../support/env';
import { startTestOidcProvider, ODCS_CLIENT } from '../support/oidc-provider';
import { createTestCa } from '../support/test-ca';
import { startProcess, stopProcess } from './processes';
import { type BenchRow, runAlone } from './report';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = 32;
/** Interleaved rounds of every backend; the table gives medians. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DIST = path.join(__dirname, '..', '..');
const WORK_QUEUE = 'odcs.bench.auth';
/** Clock ticks per second of /proc/<pid>/stat (USER_HZ). */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const BODY = JSON.stringify({ source: { type: 'tag', source: 'f40', packages: ['httpd'] }, arches: ['x86_64'] });

async function freshDatabase(name: string): Promise<string> {
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = databaseUrl(name);
  const db = await Database.connect({ url, poolSize: 1 });
  await db.migrate();
  await db.close();
  return url;
}

interface Load {
  rps: number;
  p99: number;
  errors: number;
  /** CPU time of the frontend process per request, microseconds (user + system). */
  cpuUs: number;
}

/** CPU time a process used so far, microseconds (utime + stime of /proc/<pid>/stat). */
function cpuTimeUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / CLOCK_TICKS;
}

async function postLoad(pid: number, url: string, headers: Record<string, string>, tlsOptions?: Record<string, unknown>): Promise<Load> {
  const opts = { url, method: 'POST' as const, body: BODY, connections: CONNECTIONS, headers: { 'content-type': 'application/json', ...headers }, tlsOptions };
  // A short warm-up: JIT, pools, the token cache and TLS sessions in their steady state.
  await autocannon({ ...opts, duration: 2 });
  const cpuBefore = cpuTimeUs(pid);
  const r = await autocannon({ ...opts, duration: DURATION_S });
  const cpuUs = (cpuTimeUs(pid) - cpuBefore) / Math.max(1, r.requests.total);
  return { rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx, cpuUs };
}

/**
 * CPU time of the openidc backend's authenticate() for a request with a cached token, in this
 * process (Passport, the strategy, the cache lookup): the part of a POST's cost authentication
 * adds, measured without the HTTP server, the database or the machine's other load in the way.
 */
async function openidcCpuPerRequest(issuer: string, token: string): Promise<number> {
  const cfg = loadConfig({}, { auth_backend: 'openidc', auth_openidc_issuer: issuer, auth_openidc_client_id: ODCS_CLIENT.id, auth_openidc_client_secret: ODCS_CLIENT.secret });
  const auth = await createAuthBackend(cfg, { log: silentLogger() });
  const request = (): Request => ({ headers: { authorization: `Bearer ${token}` }, method: 'POST', url: '/api/1/composes/' }) as unknown as Request;
  if (!(await auth.authenticate(request()))) throw new Error('the bench token was not accepted');
  const samples: number[] = [];
  for (let round = 0; round < 5; round++) {
    const n = 20_000;
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) await auth.authenticate(request());
    const used = process.cpuUsage(before);
    samples.push((used.user + used.system) / n);
  }
  return samples.sort((a, b) => a - b)[2];
}

export async function benchAuth(): Promise<BenchRow[]> {
  const dbUrl = await freshDatabase('odcs_bench_auth');
  const provider = await startTestOidcProvider();
  const ca = await createTestCa();
  try {
    const token = await provider.mint('bench');
    const cert = await ca.client('bench');
    const base: NodeJS.ProcessEnv = {
      DATABASE_URL: dbUrl,
      AMQP_URL,
      ODCS_WORK_QUEUE: WORK_QUEUE,
      ODCS_LOG_LEVEL: 'info',
      ODCS_MESSAGING_TOPIC_PREFIX: 'bench',
      ODCS_ALLOWED_CLIENTS: JSON.stringify({ users: { bench: {}, [cert.dn]: {} }, groups: {} }),
    };
    /** One server with `env`, loaded with POSTs; `scheme` decides how the load connects. */
    const run = async (env: NodeJS.ProcessEnv, scheme: 'http' | 'https', headers: Record<string, string> = {}): Promise<Load> => {
      const port = await freePort();
      const child = await startProcess(path.join(DIST, 'bin', 'cli', 'frontend.js'), { ...base, ...env, PORT: String(port) }, 'API listening');
      try {
        const tls = scheme === 'https' ? { ca: ca.ca, cert: cert.cert, key: cert.key } : undefined;
        return await postLoad(child.pid as number, `${scheme}://127.0.0.1:${port}/api/1/composes/`, headers, tls);
      } finally {
        await stopProcess(child);
      }
    };
    const backends = {
      noauth: { env: { ODCS_AUTH_BACKEND: 'noauth' }, scheme: 'http' as const, headers: {} },
      openidc: {
        env: {
          ODCS_AUTH_BACKEND: 'openidc',
          ODCS_AUTH_OPENIDC_ISSUER: provider.issuer,
          ODCS_AUTH_OPENIDC_CLIENT_ID: ODCS_CLIENT.id,
          ODCS_AUTH_OPENIDC_CLIENT_SECRET: ODCS_CLIENT.secret,
        },
        scheme: 'http' as const,
        headers: { authorization: `Bearer ${token}` },
      },
      // TLS without client authentication: what HTTPS itself costs, apart from the ssl backend.
      noauthTls: { env: { ODCS_AUTH_BACKEND: 'noauth', ODCS_TLS_CERT_FILE: ca.serverCertFile, ODCS_TLS_KEY_FILE: ca.serverKeyFile }, scheme: 'https' as const, headers: {} },
      ssl: {
        env: { ODCS_AUTH_BACKEND: 'ssl', ODCS_TLS_CERT_FILE: ca.serverCertFile, ODCS_TLS_KEY_FILE: ca.serverKeyFile, ODCS_TLS_CLIENT_CA_FILE: ca.caFile },
        scheme: 'https' as const,
        headers: {},
      },
    };
    type Name = keyof typeof backends;
    const results: Record<Name, Load[]> = { noauth: [], openidc: [], noauthTls: [], ssl: [] };
    const introspectionsBefore = provider.requests.get('/token/introspection') ?? 0;
    // Interleaved rounds: the machine's other load and the growing table hit every backend alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of Object.keys(backends) as Name[]) {
        const b = backends[name];
        results[name].push(await run(b.env, b.scheme, b.headers));
      }
    }
    const introspections = (provider.requests.get('/token/introspection') ?? 0) - introspectionsBefore;
    const strategyCpuUs = await openidcCpuPerRequest(provider.issuer, token);
    const median = (xs: number[]): number => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    };
    const rps = (n: Name): number => median(results[n].map((l) => l.rps));
    const p99 = (n: Name): number => median(results[n].map((l) => l.p99));
    const cpu = (n: Name): number => median(results[n].map((l) => l.cpuUs));
    /** Median over rounds of ours / reference measured in the same round. */
    const pairedRatio = (ours: Name, ref: Name): number => median(results[ours].map((l, i) => l.rps / results[ref][i].rps));
    const errors = (n: Name): string => {
      const e = results[n].reduce((sum, l) => sum + l.errors, 0);
      return e ? ` (${e} errors!)` : '';
    };
    const each = (n: Name): string => results[n].map((l) => l.rps.toFixed(0)).join(', ');
    return [
      { name: `POST throughput, openidc (bearer token, cached introspection), ${CONNECTIONS} connections`, ours: rps('openidc'), reference: rps('noauth'), unit: 'req/s', ratio: pairedRatio('openidc', 'noauth'), note: `reference noauth over HTTP; target ≥ 0.8; ${introspections} introspection(s) in all ${ROUNDS} rounds; rounds: ${each('openidc')} vs ${each('noauth')}${errors('openidc')}${errors('noauth')}` },
      { name: `POST throughput, ssl (HTTPS, client certificate), ${CONNECTIONS} connections`, ours: rps('ssl'), reference: rps('noauth'), unit: 'req/s', ratio: pairedRatio('ssl', 'noauth'), note: `reference noauth over HTTP; rounds: ${each('ssl')}${errors('ssl')}` },
      { name: `POST throughput, ssl vs noauth both over HTTPS`, ours: rps('ssl'), reference: rps('noauthTls'), unit: 'req/s', ratio: pairedRatio('ssl', 'noauthTls'), note: `the backend's own cost, TLS apart; target ≥ 0.8; rounds: ${each('noauthTls')}${errors('noauthTls')}` },
      { name: 'openidc authenticate() alone, CPU per request (in process, cached token)', ours: strategyCpuUs, reference: cpu('noauth'), unit: 'µs', note: 'reference: frontend CPU per POST under noauth' },
      { name: 'frontend CPU per POST, openidc', ours: cpu('openidc'), reference: cpu('noauth'), unit: 'µs', note: 'reference noauth over HTTP; the measure the machine\'s other load disturbs least' },
      { name: 'frontend CPU per POST, ssl', ours: cpu('ssl'), reference: cpu('noauthTls'), unit: 'µs', note: 'reference noauth over HTTPS' },
      { name: 'frontend CPU per POST, noauth over HTTPS', ours: cpu('noauthTls'), reference: cpu('noauth'), unit: 'µs', note: 'what TLS itself costs' },
      { name: 'POST p99 latency, openidc', ours: p99('openidc'), reference: p99('noauth'), unit: 'ms' },
      { name: 'POST p99 latency, ssl (reference: noauth over HTTPS)', ours: p99('ssl'), reference: p99('noauthTls'), unit: 'ms' },
    ];
  } finally {
    await provider.stop();
    await ca.close();
    const broker = new AmqpBroker(AMQP_URL, silentLogger());
    await broker.deleteQueue(WORK_QUEUE).catch(() => undefined);
    await broker.close();
  }
}

if (require.main === module) runAlone(`Authentication, POST throughput, ${DURATION_S} s per run`, benchAuth);
