/**
 * Module defaults (`module_defaults_url` + `module_defaults_commit`, stored as "<url> <commit>"):
 * a git repository of modulemd-defaults documents, which ODCS hands to Pungi as
 * `module_defaults_dir = {scm: git, repo: <url>, branch: <commit>, dir: "."}`. Pungi reads the
 * `*.yaml` files at the top of that checkout and writes the defaults of the compose's modules
 * into each arch's modules.yaml, so that `dnf module install <name>` picks the default stream
 * and profile.
 *
 * The fetch is held to what a request may make the backend do:
 *  - the URL must be http, https or git:// on `allowed_module_defaults_hosts` (a request never
 *    makes the backend reach an arbitrary host, or a local path, or ssh with the server's keys);
 *    git itself is limited to those transports (GIT_ALLOW_PROTOCOL: no `ext::`, no `file://`),
 *    follows no redirects, reads no system or user configuration and never prompts;
 *  - the commit (a hash, branch or tag) cannot pass for an option;
 *  - git runs with an argument array, `net_timeout` per step, stopped by the compose's signal,
 *    and stopped when the checkout grows past `module_defaults_max_bytes`;
 *  - only regular `*.yaml` files at the top are read (no symlinks), within the same bound.
 * As Pungi's git wrapper does, a shallow fetch of the commit comes first; a server that does not
 * give single commits gets a full fetch and a checkout.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { isMap, parseAllDocuments } from 'yaml';
import type { Config } from '../../common/config';
import { ComposeError } from '../../common/errors';
import { hostAllowed } from '../../common/repo-location';
import type { ComposeLog } from '../compose-log';
import { runTool, ToolError } from '../tools';

export interface ModuleDefaultsLocation {
  url: string;
  commit: string;
}

/** How often the size of a running checkout is looked at, ms. */
const SIZE_CHECK_MS = 500;

/** The URL and commit of a compose's `module_defaults_url` column, checked against the configuration. */
export function moduleDefaultsLocation(cfg: Pick<Config, 'allowed_module_defaults_hosts'>, field: string): ModuleDefaultsLocation {
  const [rawUrl = '', commit = '', ...rest] = field.trim().split(/\s+/);
  if (!rawUrl || !commit || rest.length) throw new ComposeError(`Invalid module defaults "${field}": expected "<git url> <commit>".`);
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new ComposeError(`Module defaults URL "${rawUrl}" is not a URL.`);
  }
  if (!['http:', 'https:', 'git:'].includes(url.protocol)) {
    throw new ComposeError(`Module defaults URL "${rawUrl}" is not allowed: only http, https and git:// repositories can be fetched.`);
  }
  if (!hostAllowed(cfg.allowed_module_defaults_hosts, url)) {
    throw new ComposeError(`Module defaults URL "${rawUrl}" is not allowed: its host is not in allowed_module_defaults_hosts.`);
  }
  // A hash, a branch or a tag; never something git would read as an option or a revision range.
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/.test(commit) || commit.includes('..') || commit.endsWith('.lock')) {
    throw new ComposeError(`Invalid module defaults commit "${commit}".`);
  }
  return { url: url.href, commit };
}

export interface FetchDefaultsOptions {
  cfg: Pick<Config, 'allowed_module_defaults_hosts' | 'module_defaults_max_bytes' | 'net_timeout'>;
  log: ComposeLog;
  signal: AbortSignal;
  /** A directory the checkout may be made in (removed afterwards). */
  workDir: string;
  /** The git binary (default `git`). */
  git?: string;
}

/**
 * The modulemd-defaults documents of the repository at the commit: module name -> the
 * document as YAML (with `---`/`...` markers). Two different documents for one module fail.
 */
export async function fetchModuleDefaults(location: ModuleDefaultsLocation, options: FetchDefaultsOptions): Promise<Map<string, string>> {
  await mkdir(options.workDir, { recursive: true });
  const dir = await mkdtemp(path.join(options.workDir, 'module-defaults-'));
  try {
    await checkout(location, dir, options);
    return await readDefaults(dir, options.cfg.module_defaults_max_bytes);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function checkout(location: ModuleDefaultsLocation, dir: string, options: FetchDefaultsOptions): Promise<void> {
  const { cfg, log } = options;
  const git = options.git ?? 'git';
  const home = path.join(dir, '.home');
  const repo = path.join(dir, 'repo');
  await mkdir(home, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: home,
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    GIT_ALLOW_PROTOCOL: 'http:https:git',
  };
  // Stopped by the compose's signal, and when the checkout grows past the bound.
  const bound = new AbortController();
  const signal = AbortSignal.any([options.signal, bound.signal]);
  let checking = false;
  const watcher = setInterval(() => {
    if (checking) return;
    checking = true;
    void treeSize(repo)
      .then((size) => {
        if (size > cfg.module_defaults_max_bytes) {
          bound.abort(new ComposeError(`The module defaults repository ${location.url} is larger than module_defaults_max_bytes (${cfg.module_defaults_max_bytes} bytes).`));
        }
      })
      .finally(() => {
        checking = false;
      });
  }, SIZE_CHECK_MS);
  const run = (args: string[]): Promise<void> =>
    runTool(git, ['-c', 'http.followRedirects=false', '-c', 'core.hooksPath=/dev/null', ...args], { log, signal, env, timeoutMs: cfg.net_timeout * 1000, cwd: dir });
  try {
    await run(['init', '-q', repo]);
    try {
      await run(['-C', repo, 'fetch', '-q', '--depth', '1', '--', location.url, location.commit]);
      await run(['-C', repo, 'checkout', '-q', '--detach', 'FETCH_HEAD']);
    } catch (err) {
      if (signal.aborted) throw err;
      log.info(`A shallow fetch of ${location.commit} failed; fetching the whole repository`);
      await run(['-C', repo, 'fetch', '-q', '--', location.url, '+refs/heads/*:refs/remotes/origin/*', '+refs/tags/*:refs/tags/*']);
      const ref = /^[0-9a-f]{7,64}$/i.test(location.commit) ? location.commit : `refs/remotes/origin/${location.commit}`;
      await run(['-C', repo, 'checkout', '-q', '--detach', ref]).catch(async () => {
        await run(['-C', repo, 'checkout', '-q', '--detach', `refs/tags/${location.commit}`]);
      });
    }
    if ((await treeSize(repo)) > cfg.module_defaults_max_bytes) {
      throw new ComposeError(`The module defaults repository ${location.url} is larger than module_defaults_max_bytes (${cfg.module_defaults_max_bytes} bytes).`);
    }
  } catch (err) {
    if (bound.signal.aborted) throw bound.signal.reason;
    if (options.signal.aborted) throw err;
    if (err instanceof ToolError) {
      throw new ComposeError(`Cannot fetch module defaults from ${location.url} at ${location.commit}: ${err.message}`);
    }
    throw err;
  } finally {
    clearInterval(watcher);
  }
}

/** Bytes of the regular files under `dir` (symlinks not followed); 0 while it does not exist. */
async function treeSize(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) total += (await lstat(p).catch(() => ({ size: 0 }))).size;
    }
  };
  await walk(dir);
  return total;
}

/** The `*.yaml` files at the top of the checkout (as Pungi's module_defaults_dir with dir "."). */
async function readDefaults(dir: string, maxBytes: number): Promise<Map<string, string>> {
  const repo = path.join(dir, 'repo');
  const names = (await readdir(repo)).filter((n) => n.endsWith('.yaml')).sort();
  const out = new Map<string, string>();
  let read = 0;
  for (const name of names) {
    const file = path.join(repo, name);
    const st = await lstat(file);
    if (!st.isFile()) continue;
    read += st.size;
    if (read > maxBytes) throw new ComposeError(`The module defaults documents are larger than module_defaults_max_bytes (${maxBytes} bytes).`);
    const text = await readFile(file, 'utf8');
    for (const [module, doc] of defaultsDocuments(text, name)) {
      const seen = out.get(module);
      if (seen !== undefined && seen !== doc) throw new ComposeError(`Module defaults: conflicting defaults for module ${module} (${name}).`);
      out.set(module, doc);
    }
  }
  return out;
}

/** The modulemd-defaults documents of one file: module name -> document. Other documents are ignored. */
export function defaultsDocuments(text: string, fileName: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const docs = parseAllDocuments(text, { intAsBigInt: true });
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new ComposeError(`Module defaults: invalid YAML in ${fileName}: ${doc.errors[0]!.message}`);
    if (doc.get('document') !== 'modulemd-defaults') continue;
    const data = doc.get('data');
    const module = isMap(data) ? data.get('module') : undefined;
    if (typeof module !== 'string' || !module) throw new ComposeError(`Module defaults: a document of ${fileName} names no module.`);
    const yaml = doc.toString({ directives: true, lineWidth: 0 });
    out.push([module, /^\.\.\.$/m.test(yaml) ? yaml : `${yaml}...\n`]);
  }
  return out;
}

/** The defaults documents of these modules (by name), in name order, ready to append to modules.yaml. */
export function defaultsFor(defaults: ReadonlyMap<string, string>, moduleNames: Iterable<string>): string {
  return [...new Set(moduleNames)]
    .sort()
    .map((n) => defaults.get(n))
    .filter((d): d is string => d !== undefined)
    .join('');
}
