/**
 * Serves target_dir over HTTP where the default `target_dir_url` points (`/odcs` of this
 * server): files with Range support (the Python client's --watch tails pungi-stderr.log with
 * Range requests) and a plain HTML listing for directories, so that `toplevel_url` answers.
 *
 * Never served nor listed: hidden entries (`.store`, `.cache`, `.compose.tmp-*`,
 * `.removing-*`, any name starting with a dot) and anything whose real path, symbolic links
 * resolved, is not under target_dir's real path (a link in a compose to /etc is a 404).
 */
import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { type NextFunction, type Request, type Response, Router } from 'express';

const NOT_FOUND = Symbol('not found');

/** The decoded path segments of `urlPath`, or NOT_FOUND when one could never name a served entry. */
function segmentsOf(urlPath: string): string[] | typeof NOT_FOUND {
  const segments: string[] = [];
  for (const raw of urlPath.split('/')) {
    if (raw === '') continue;
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      return NOT_FOUND;
    }
    if (name.startsWith('.') || name.includes('/') || name.includes('\0')) return NOT_FOUND;
    segments.push(name);
  }
  return segments;
}

/** Whether `real` is `root` or below it, with no hidden entry on the way. */
function confined(root: string, real: string): boolean {
  if (real === root) return true;
  const rel = path.relative(root, real);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return false;
  return !rel.split(path.sep).some((part) => part.startsWith('.'));
}

async function realpathOrNull(p: string): Promise<string | null> {
  try {
    return await realpath(p);
  } catch {
    return null;
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The entries of directory `dir` a listing may show: visible, and (for links) leading inside root. */
async function visibleEntries(root: string, dir: string): Promise<Array<{ name: string; directory: boolean }>> {
  const entries: Dirent[] = await readdir(dir, { withFileTypes: true });
  const out: Array<{ name: string; directory: boolean }> = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    if (e.isSymbolicLink()) {
      const real = await realpathOrNull(path.join(dir, e.name));
      if (!real || !confined(root, real)) continue;
      const s = await stat(real).catch(() => null);
      if (s) out.push({ name: e.name, directory: s.isDirectory() });
    } else if (e.isDirectory() || e.isFile()) {
      out.push({ name: e.name, directory: e.isDirectory() });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function listingPage(title: string, entries: ReadonlyArray<{ name: string; directory: boolean }>, atRoot: boolean): string {
  const links = entries.map(({ name, directory }) => {
    const shown = directory ? `${name}/` : name;
    return `<li><a href="${escapeHtml(encodeURIComponent(name))}${directory ? '/' : ''}">${escapeHtml(shown)}</a></li>`;
  });
  if (!atRoot) links.unshift('<li><a href="../">../</a></li>');
  const t = escapeHtml(title);
  return `<!doctype html><html><head><meta charset="utf-8"><title>Index of ${t}</title></head><body><h1>Index of ${t}</h1><ul>${links.join('')}</ul></body></html>`;
}

/** The router serving `targetDir` (mount it at the path of target_dir_url). */
export function composeTreeRouter(targetDir: string): Router {
  const router = Router({ strict: true, caseSensitive: true });
  router.use(async (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const segments = segmentsOf(req.path);
    if (segments === NOT_FOUND) return next();
    // Resolved per request: target_dir may be created (or replaced by a link) after start.
    const root = await realpathOrNull(targetDir);
    if (!root) return next();
    const real = await realpathOrNull(path.join(root, ...segments));
    if (!real || !confined(root, real)) return next();
    const info = await stat(real).catch(() => null);
    if (!info) return next();

    if (info.isDirectory()) {
      if (!req.path.endsWith('/')) {
        const q = req.originalUrl.indexOf('?');
        const pathname = q < 0 ? req.originalUrl : req.originalUrl.slice(0, q);
        res.redirect(301, `${pathname}/${q < 0 ? '' : req.originalUrl.slice(q)}`);
        return;
      }
      const entries = await visibleEntries(root, real);
      const title = `${req.baseUrl}/${segments.map((s) => `${s}/`).join('')}`;
      res.set('Cache-Control', 'no-cache').type('html').send(listingPage(title, entries, segments.length === 0));
      return;
    }
    // A file named as a directory (`x.log/`) names nothing, as for any static server.
    if (!info.isFile() || req.path.endsWith('/')) return next();
    // Sent by its real path, relative to the real root: the checked file is the one served.
    res.sendFile(path.relative(root, real), { root, dotfiles: 'allow', acceptRanges: true }, (err?: Error & { status?: number }) => {
      if (!err || res.headersSent) return;
      if (err.status === 404) next();
      else next(err);
    });
  });
  return router;
}
