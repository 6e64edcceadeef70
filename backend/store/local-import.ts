import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** One package of a local repository to put at `dest`, through the store entry `stored`. */
export interface LocalImportJob {
  /** The file in the repository. */
  file: string;
  /** Real paths of allowed_repo_roots: the file must resolve inside one of them. */
  roots: readonly string[];
  stored: string;
  dest: string;
  /** Node hash name (sha256, sha1, md5, …) and the expected hex digest from the metadata. */
  algorithm: string;
  expected: string;
  name: string;
}

export type LocalImportResult = { reused: boolean } | { error: string; kind: 'checksum' | 'access' | 'io' };

/**
 * The whole placement of a local package, done with synchronous calls in a worker thread:
 * on these machines each asynchronous file operation costs the main thread more than the
 * system call itself, and placing a package takes about ten of them. Plain JavaScript, because
 * worker threads load code without the TypeScript toolchain.
 *
 * Steps: link the store entry to dest if it exists (reused); otherwise check that the file
 * stays inside the allowed roots, hash it, and link that very inode into the store (copy across
 * file systems or when it changed meanwhile, re-hashing the copy), then link it to dest.
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
function hashOf(file, algorithm) {
  return crypto.createHash(algorithm).update(fs.readFileSync(file)).digest('hex');
}
function place(job) {
  if (linkOrCopy(job.stored, job.dest)) return { reused: true };
  let real;
  try {
    const info = fs.lstatSync(job.file);
    real = info.isSymbolicLink() ? fs.realpathSync(job.file) : path.join(realDir(path.dirname(job.file)), path.basename(job.file));
  } catch (e) { return { kind: 'io', error: 'Cannot read ' + job.file + ': ' + (e.code || e.message) }; }
  if (!job.roots.some((r) => real.startsWith(r + '/'))) return { kind: 'access', error: 'Package ' + job.name + ' of ' + job.file + ' leads outside allowed_repo_roots.' };
  const fd = fs.openSync(real, 'r');
  let ino, actual;
  try {
    const info = fs.fstatSync(fd);
    ino = info.ino;
    const bytes = Buffer.allocUnsafe(info.size);
    let off = 0;
    while (off < info.size) { const n = fs.readSync(fd, bytes, off, info.size - off, off); if (n === 0) break; off += n; }
    actual = crypto.createHash(job.algorithm).update(bytes.subarray(0, off)).digest('hex');
  } finally { fs.closeSync(fd); }
  if (actual !== job.expected) return { kind: 'checksum', error: job.name + ': ' + job.algorithm + ' checksum is ' + actual + ', the repository metadata says ' + job.expected };
  const dir = path.dirname(job.stored);
  if (!madeDirs.has(dir)) { fs.mkdirSync(dir, { recursive: true }); madeDirs.add(dir); }
  const tmp = path.join(dir, '.tmp-' + crypto.randomBytes(6).toString('hex'));
  try {
    let linked = false;
    try { fs.linkSync(real, tmp); linked = fs.statSync(tmp).ino === ino; if (!linked) fs.rmSync(tmp, { force: true }); }
    catch (e) { if (!LINK_FALLBACK.has(e.code)) throw e; }
    if (!linked) {
      fs.copyFileSync(real, tmp, fs.constants.COPYFILE_FICLONE);
      const again = hashOf(tmp, job.algorithm);
      if (again !== job.expected) return { kind: 'checksum', error: job.name + ': ' + job.algorithm + ' checksum is ' + again + ', the repository metadata says ' + job.expected };
    }
    fs.renameSync(tmp, job.stored);
  } finally { fs.rmSync(tmp, { force: true }); }
  if (!linkOrCopy(job.stored, job.dest)) return { kind: 'io', error: job.stored + ' vanished from the package store' };
  return { reused: false };
}
parentPort.on('message', ({ id, jobs }) => {
  realDirs.clear(); // resolved again for every batch: a directory may have been replaced meanwhile
  const results = jobs.map((job) => {
    try { return place(job); } catch (e) { return { kind: 'io', error: (e && e.message) || String(e) }; }
  });
  parentPort.postMessage({ id, results });
});
`;

interface Pending {
  resolve(results: LocalImportResult[]): void;
  reject(err: Error): void;
}

/** A few worker threads placing local packages in batches. */
class LocalImportPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private turn = 0;

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.unref();
      worker.on('message', ({ id, results }: { id: number; results: LocalImportResult[] }) => {
        this.pending.get(id)?.resolve(results);
        this.pending.delete(id);
      });
      worker.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      this.workers.push(worker);
    }
  }

  run(jobs: LocalImportJob[]): Promise<LocalImportResult[]> {
    const id = this.nextId++;
    const worker = this.workers[this.turn++ % this.workers.length];
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, jobs });
    });
  }

  terminate(): void {
    for (const worker of this.workers) void worker.terminate();
  }
}

/**
 * Idle threads are stopped after a while: a worker process that builds nothing should hold no
 * threads, and a running worker thread would keep a test runner (or any embedding process)
 * alive even when unreferenced.
 */
const IDLE_MS = 2000;
let pool: LocalImportPool | undefined;
let users = 0;
let idleTimer: NodeJS.Timeout | undefined;

/** Places local packages, `batch` at a time per worker, spread over one worker per core. */
export async function placeLocalPackages(jobs: LocalImportJob[], batch = 64): Promise<LocalImportResult[]> {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  const active = (pool ??= new LocalImportPool(Math.max(2, availableParallelism())));
  users++;
  try {
    const chunks: LocalImportJob[][] = [];
    for (let i = 0; i < jobs.length; i += batch) chunks.push(jobs.slice(i, i + batch));
    return (await Promise.all(chunks.map((c) => active.run(c)))).flat();
  } finally {
    if (--users === 0) {
      idleTimer = setTimeout(stopLocalImports, IDLE_MS);
      idleTimer.unref();
    }
  }
}

/** Stops the import threads unless an import is running; the next import starts new ones. */
export function stopLocalImports(): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  if (users === 0 && pool) {
    pool.terminate();
    pool = undefined;
  }
}
