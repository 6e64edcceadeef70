/**
 * Which database a target dir belongs to. A target dir holds `odcs-<id>` directories named by
 * the compose ids of ONE database; another database (the embedded one of `npm start`, then a
 * `DATABASE_URL`; a staging copy; a second deployment sharing a volume) has other composes under
 * the same ids, and to its beat every one of them looks like a stray to delete. So a target dir
 * names its database in a marker file, `.odcs-owner`, written at first use — while it holds no
 * compose directory yet — and only that database sweeps it or builds in it.
 *
 * The identity is a uuid kept in the database itself (table `database_identity`, made on first
 * use): it follows the data through a dump and restore or pg_upgrade, which PostgreSQL's
 * system_identifier and a database oid do not.
 */
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { link, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Queryable } from './db/database';
import { ComposeError } from './errors';

/** The marker file, at the top of a target dir. Hidden, so never served. */
export const OWNER_MARKER = '.odcs-owner';

/**
 * This database's identity, created by the first caller (concurrent first callers agree: the
 * table holds one row, and the losers read the winner's).
 */
export async function databaseIdentity(db: Queryable): Promise<string> {
  const read = async (): Promise<string | undefined> => (await db.query<{ id: string }>(`SELECT id::text AS id FROM database_identity`))[0]?.id;
  const known = await read();
  if (known) return known;
  await db.query(`INSERT INTO database_identity (id) VALUES (gen_random_uuid()) ON CONFLICT DO NOTHING`);
  const made = await read();
  if (!made) throw new Error('database_identity has no row after inserting one');
  return made;
}

/**
 * The compose id an `odcs-*` / `latest-odcs-*` entry belongs to (reference §6.4): the part
 * after `odcs` must be digits. Other names are not ours to judge.
 */
export function composeIdOfEntry(name: string): number | undefined {
  const parts = name.split('-');
  const at = parts.indexOf('odcs');
  if (at < 0 || (at > 0 && parts[0] !== 'latest')) return undefined;
  const id = parts[at + 1];
  return id !== undefined && /^\d{1,9}$/.test(id) ? Number(id) : undefined;
}

/**
 * What a target dir is to this database:
 *  - `ours`: its marker names this database (or it was just claimed: `claimed` says so);
 *  - `foreign`: its marker names another database (`owner`);
 *  - `unmarked`: no marker, but compose directories: a target dir of an older version, or of
 *    another database. Nobody can tell which, so it is not claimed (an operator can: write
 *    this database's identity into the marker);
 *  - `missing`: the directory does not exist (a target dir mounted on other hosts only).
 */
export type TargetDirOwnership =
  | { status: 'ours'; claimed: boolean }
  | { status: 'foreign'; owner: string }
  | { status: 'unmarked' }
  | { status: 'missing' };

/** The identity a marker names: its first line that is neither empty nor a `#` comment. */
export function ownerInMarker(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '' && !l.startsWith('#')) ?? ''
  );
}

async function readMarker(dir: string): Promise<string | undefined> {
  try {
    return ownerInMarker(await readFile(path.join(dir, OWNER_MARKER), 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Whether `dir` holds a compose directory (`odcs-<id>`, `latest-odcs-<id>…`). */
async function holdsComposes(dir: string): Promise<boolean | undefined> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return entries.some((e) => composeIdOfEntry(e.name) !== undefined);
}

/**
 * Reads the marker of `dir`, and writes one naming `identity` when there is none and the dir
 * holds no compose directory yet. The marker is written whole under a temporary name and then
 * linked into place, which fails if another process claimed the dir meanwhile (its claim wins).
 */
export async function claimTargetDir(dir: string, identity: string): Promise<TargetDirOwnership> {
  for (let attempt = 0; ; attempt++) {
    const owner = await readMarker(dir);
    if (owner !== undefined) return owner === identity ? { status: 'ours', claimed: false } : { status: 'foreign', owner };
    const composes = await holdsComposes(dir);
    if (composes === undefined) return { status: 'missing' };
    if (composes) return { status: 'unmarked' };
    const tmp = path.join(dir, `${OWNER_MARKER}.tmp-${randomBytes(4).toString('hex')}`);
    try {
      await writeFile(
        tmp,
        `# The composes in this directory belong to the ODCS database below. Only that database's\n` +
          `# beat sweeps here and only its workers build here. Do not copy this file elsewhere.\n${identity}\n`,
      );
      await link(tmp, path.join(dir, OWNER_MARKER));
      return { status: 'ours', claimed: true };
    } catch (err) {
      // Someone else claimed it first: read theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

/**
 * For a worker about to build in `dir`: claims it when it is new, and refuses it when it belongs
 * to another database, whose compose directories carry the same ids as ours (building there
 * would write into its composes).
 */
export async function refuseForeignTargetDir(dir: string, identity: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const ownership = await claimTargetDir(dir, identity);
  if (ownership.status === 'foreign') {
    throw new ComposeError(
      `The target directory of this compose belongs to another ODCS database (see its ${OWNER_MARKER} file); this server does not write there.`,
    );
  }
}
