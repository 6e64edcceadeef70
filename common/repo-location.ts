import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from './config';
import { ComposeError } from './errors';

/** Where a repository is: a local directory or an http(s) base URL. */
export type RepoLocation = { kind: 'path'; path: string } | { kind: 'url'; url: string };

export type LocationCheck = { location: RepoLocation } | { problem: string };

function insideRoots(roots: readonly string[], p: string): boolean {
  return roots.some((root) => {
    const r = root.endsWith('/') ? root.slice(0, -1) : root;
    return p === r || p.startsWith(`${r}/`);
  });
}

/**
 * Reads a repository location given by a request (a `repo` source or a lookaside repository)
 * and says whether the configuration allows it: local paths only under `allowed_repo_roots`,
 * URLs only on `allowed_repo_hosts`. A request never picks an arbitrary path or host.
 */
export function checkRepoLocation(cfg: Config, text: string): LocationCheck {
  if (/^https?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return { problem: `Repository URL "${text}" is not a valid URL.` };
    }
    if (!hostAllowed(cfg.allowed_repo_hosts, url)) {
      return { problem: `Repository URL "${text}" is not allowed: its host is not in allowed_repo_hosts.` };
    }
    return { location: { kind: 'url', url: url.href.replace(/\/+$/, '') } };
  }
  let local = text;
  if (/^file:/i.test(text)) {
    try {
      local = fileURLToPath(text);
    } catch {
      return { problem: `Repository URL "${text}" is not a valid file URL.` };
    }
  }
  if (!path.isAbsolute(local)) return { problem: `Repository "${text}" must be an absolute path or an http(s) URL.` };
  const resolved = path.resolve(local);
  if (!insideRoots(cfg.allowed_repo_roots, resolved)) {
    return { problem: `Repository "${text}" is not allowed: it is not under any of allowed_repo_roots.` };
  }
  return { location: { kind: 'path', path: resolved } };
}

/**
 * Whether the URL's host is one of `hosts`: an entry `host:port` allows that port only (the
 * scheme's default port counts as written: `example.com:443` allows https://example.com/), a
 * bare `host` any port of it. Host names compare case-insensitively. Every outgoing request
 * checks each hop with this (common/http), redirects included.
 */
export function hostAllowed(hosts: readonly string[], url: URL): boolean {
  const defaultPort = url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '';
  const port = url.port || defaultPort;
  const name = url.hostname.toLowerCase();
  return hosts.some((entry) => {
    const e = entry.trim().toLowerCase();
    return e === name || (port !== '' && e === `${name}:${port}`);
  });
}

/**
 * The variant URL of a `pungi_compose` source (`<compose>/compose/<Variant>`): only http(s) on
 * allowed_pungi_compose_hosts. ODCS fetches whatever URL it is given; we do not let a request
 * make the backend fetch from an arbitrary host.
 */
export function checkPungiComposeUrl(cfg: Config, text: string): { url: URL } | { problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: `Pungi compose URL "${text}" is not a valid URL.` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: `Pungi compose URL "${text}" must be an http(s) URL.` };
  if (!hostAllowed(cfg.allowed_pungi_compose_hosts, url)) {
    return { problem: `Pungi compose URL "${text}" is not allowed: its host is not in allowed_pungi_compose_hosts.` };
  }
  if (url.pathname.replace(/\/+$/, '').split('/').filter(Boolean).length < 2) {
    return { problem: `Pungi compose URL "${text}" must name a variant directory of a compose (<compose>/compose/<variant>).` };
  }
  return { url };
}

/**
 * The same check against the file system as it is now: a symbolic link inside an allowed root
 * must not lead outside all of them. Throws with the reason when it does.
 */
export async function resolveLocalRepo(cfg: Config, dir: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(dir);
  } catch (err) {
    throw new ComposeError(`Cannot read repository ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const roots = await Promise.all(cfg.allowed_repo_roots.map((r) => realpath(r).catch(() => r)));
  if (!insideRoots(roots, real)) throw new ComposeError(`Repository ${dir} is not allowed: it leads outside allowed_repo_roots.`);
  return real;
}

/** A lookaside repository location for one compose arch (`$basearch` expanded). */
export function expandBasearch(text: string, arch: string): string {
  return text.split('$basearch').join(arch);
}
