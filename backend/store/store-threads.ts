import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * Puts one package of a local repository at each of `dests`: linked from the store entry
 * `stored` when the store has it (`reused`), otherwise linked (copied across file systems)
 * straight from the repository file, which must resolve inside `roots`. The bytes are not
 * checked here; the package enters the store with a StoreJob once they are.
 */
export interface StageJob {
  op: 'stage';
  file: string;
  /** Real paths of allowed_repo_roots. */
  roots: readonly string[];
  stored: string;
  /** At least one. Every further dest is a link of the first, so all share the checked bytes. */
  dests: readonly string[];
  name: string;
}

/**
 * Enters the file at `file` (in a compose tree) into the store as `stored`, after hashing it
 * with `algorithm` and comparing to `expected` when those are given (without them, the caller
 * has checked the bytes another way).
 */
export interface StoreJob {
  op: 'store';
  file: string;
  stored: string;
  algorithm?: string;
  expected?: string;
  name: string;
}

export type StoreThreadJob = StageJob | StoreJob;
export type StoreThreadResult = { reused: boolean } | { error: string; kind: 'checksum' | 'access' | 'io' };

/**
 * The file work of the package store, done with synchronous calls in worker threads: on these
 * machines each asynchronous file operation costs the main thread more than the system call
 * itself, and hashing must not block the event loop. Plain JavaScript, because worker threads
 * load code without the TypeScript toolchain.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const realDirs = new Map();
const madeDirs = new Set();
const LINK_FALLBACK = new Set(['EXDEV', 'EPERM', 'EMLINK']);

function linkOrCopy(from, to) {
  try { fs.linkSync(from, to); return true; }
  catch (e) {
    if (e.code === 'ENOENT') return false;
    if (!LINK_FALLBACK.has(e.code)) throw e;
    fs.copyFileSync(from, to, fs.constants.COPYFILE_FICLONE);
    return true;
  }
}
function realDir(dir) {
  let r = realDirs.get(dir);
  if (r === undefined) { r = fs.realpathSync(dir); realDirs.set(dir, r); }
  return r;
}
// One buffer per thread, read into in pieces: hashing from a buffer that stays in the CPU cache
// is a quarter faster here than hashing whole files read into fresh memory.
const chunk = Buffer.allocUnsafe(256 * 1024);
function hashOf(file, algorithm) {
  const fd = fs.openSync(file, 'r');
  try {
    const hash = crypto.createHash(algorithm);
    let n;
    while ((n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0) hash.update(n === chunk.length ? chunk : chunk.subarray(0, n));
    return hash.digest('hex');
  } finally { fs.closeSync(fd); }
}
// A failed system call costs a thrown exception here, ten times the call: ask first.
function linkIfExists(from, to) {
  return fs.existsSync(from) && linkOrCopy(from, to);
}
function linkRest(job) {
  for (let i = 1; i < job.dests.length; i++) if (!linkOrCopy(job.dests[0], job.dests[i])) throw new Error(job.dests[0] + ' vanished');
}
function stage(job) {
  if (linkIfExists(job.stored, job.dests[0])) { linkRest(job); return { reused: true }; }
  let real;
  try {
    const info = fs.lstatSync(job.file);
    real = info.isSymbolicLink() ? fs.realpathSync(job.file) : path.join(realDir(path.dirname(job.file)), path.basename(job.file));
  } catch (e) { return { kind: 'io', error: 'Cannot read ' + job.file + ': ' + (e.code || e.message) }; }
  if (!job.roots.some((r) => real.startsWith(r + '/'))) return { kind: 'access', error: 'Package ' + job.name + ' of ' + job.file + ' leads outside allowed_repo_roots.' };
  if (!linkOrCopy(real, job.dests[0])) return { kind: 'io', error: 'Cannot read ' + job.file + ': ENOENT' };
  linkRest(job);
  return { reused: false };
}
function store(job) {
  if (job.algorithm) {
    const actual = hashOf(job.file, job.algorithm);
    if (actual !== job.expected) return { kind: 'checksum', error: job.name + ': ' + job.algorithm + ' checksum is ' + actual + ', the repository metadata says ' + job.expected };
  }
  // mkdir costs more than the link itself, so each thread remembers the directories it made;
  // they may be removed under it (an emptied store, a collection run), so a link that finds
  // none makes its directory again and tries once more.
  const dir = path.dirname(job.stored);
  for (let attempt = 0; attempt < 2; attempt++) {
    if (attempt > 0 || !madeDirs.has(dir)) { fs.mkdirSync(dir, { recursive: true }); madeDirs.add(dir); }
    try { if (linkOrCopy(job.file, job.stored)) return { reused: false }; }
    catch (e) { if (e.code === 'EEXIST') return { reused: false }; throw e; } // another compose stored the same bytes meanwhile
    if (!fs.existsSync(job.file)) break;
  }
  return { kind: 'io', error: 'Cannot store ' + job.file + ': ENOENT' };
}
parentPort.on('message', (jobs) => {
  realDirs.clear(); // resolved again for every batch: a directory may have been replaced meanwhile
  parentPort.postMessage(jobs.map((job) => {
    try { return job.op === 'stage' ? stage(job) : store(job); } catch (e) { return { kind: 'io', error: (e && e.message) || String(e) }; }
  }));
});
`;

interface Batch {
  jobs: StoreThreadJob[];
  resolve(results: StoreThreadResult[]): void;
  reject(err: Error): void;
}

/**
 * A few worker threads placing local packages. Batches wait in one queue and a thread takes
 * the next when it finishes one, so a thread that drew large files does not hold up the rest.
 */
class StoreThreadPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Batch>();
  private readonly queue: Batch[] = [];

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.unref();
      worker.on('message', (results: StoreThreadResult[]) => {
        this.busy.get(worker)?.resolve(results);
        this.busy.delete(worker);
        this.idle.push(worker);
        this.dispatch();
      });
      worker.on('error', (err) => {
        for (const batch of [...this.busy.values(), ...this.queue.splice(0)]) batch.reject(err);
        this.busy.clear();
      });
      this.idle.push(worker);
    }
  }

  run(jobs: StoreThreadJob[]): Promise<StoreThreadResult[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ jobs, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length && this.queue.length) {
      const worker = this.idle.pop() as Worker;
      const batch = this.queue.shift() as Batch;
      this.busy.set(worker, batch);
      worker.postMessage(batch.jobs);
    }
  }

  terminate(): void {
    for (const worker of [...this.idle, ...this.busy.keys()]) void worker.terminate();
  }
}

/**
 * Idle threads are stopped after a while: a worker process that builds nothing should hold no
 * threads, and a running worker thread would keep a test runner (or any embedding process)
 * alive even when unreferenced (the compose worker stops them when it stops). Not sooner:
 * starting them costs ~0.1 s, and one compose uses them twice, a createrepo_c run apart.
 */
const IDLE_MS = 60_000;
let pool: StoreThreadPool | undefined;
let users = 0;
let idleTimer: NodeJS.Timeout | undefined;

/** Runs the jobs in worker threads (one per core), `batch` at a time per thread; results in job order. */
export async function inStoreThreads(jobs: StoreThreadJob[], batch: number): Promise<StoreThreadResult[]> {
  if (!jobs.length) return [];
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  const active = (pool ??= new StoreThreadPool(Math.max(2, availableParallelism())));
  users++;
  try {
    const chunks: StoreThreadJob[][] = [];
    for (let i = 0; i < jobs.length; i += batch) chunks.push(jobs.slice(i, i + batch));
    return (await Promise.all(chunks.map((c) => active.run(c)))).flat();
  } finally {
    if (--users === 0) {
      idleTimer = setTimeout(stopStoreThreads, IDLE_MS);
      idleTimer.unref();
    }
  }
}

/** Stops the store threads unless jobs are running; the next jobs start new ones. */
export function stopStoreThreads(): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  if (users === 0 && pool) {
    pool.terminate();
    pool = undefined;
  }
}
