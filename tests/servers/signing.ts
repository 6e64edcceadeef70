/**
 * Test signing keys and rpmsign, for the Koji double's signed copies.
 *
 * A key is generated with `gpg --batch --gen-key` (RSA 2048, no passphrase) into its own
 * temporary GNUPGHOME; `removeSigningKey` stops that home's gpg-agent (gpgconf --kill, only
 * for that home) and deletes it. Everything runs with argument arrays.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TestSigningKey {
  gnupgHome: string;
  /** 16 hex digits, upper case, as gpg prints it. */
  keyId: string;
  fingerprint: string;
  /** Koji's sigkey: last 8 hex digits of the key id, lower case. */
  sigkey: string;
  uid: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a tool (argument array, no shell); rejects with its stderr on failure. */
export function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; maxBuffer?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        env: options.env ?? process.env,
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: options.maxBuffer ?? 256 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}

let gpgBinary: Promise<string> | undefined;

/** The gpg program rpmsign should run (Debian has `gpg`, Fedora `gpg2` too). */
export function findGpg(): Promise<string> {
  gpgBinary ??= (async () => {
    for (const dir of (process.env['PATH'] ?? '/usr/bin:/bin').split(path.delimiter)) {
      for (const name of ['gpg', 'gpg2']) {
        const p = path.join(dir, name);
        try {
          await access(p, fsConstants.X_OK);
          return p;
        } catch {
          // keep looking
        }
      }
    }
    throw new Error('gpg is not installed (apt-get install gnupg)');
  })();
  return gpgBinary;
}

export async function createSigningKey(name = 'ODCS Test Signing Key'): Promise<TestSigningKey> {
  const gpg = await findGpg();
  // gpg-agent's socket path must stay short: keep the home directly under the temp dir.
  const gnupgHome = await mkdtemp(path.join(os.tmpdir(), 'odcs-gpg-'));
  const env = { ...process.env, GNUPGHOME: gnupgHome };
  const email = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}@odcs.test`;
  const params = path.join(gnupgHome, 'key-params');
  await writeFile(
    params,
    [
      '%no-protection',
      'Key-Type: RSA',
      'Key-Length: 2048',
      'Key-Usage: sign',
      `Name-Real: ${name}`,
      `Name-Email: ${email}`,
      'Expire-Date: 0',
      '%commit',
      '',
    ].join('\n'),
  );
  try {
    await run(gpg, ['--batch', '--gen-key', params], { env });
    const { stdout } = await run(gpg, ['--batch', '--with-colons', '--list-secret-keys'], { env });
    const lines = stdout.split('\n').map((l) => l.split(':'));
    const sec = lines.find((f) => f[0] === 'sec');
    const fpr = lines.find((f) => f[0] === 'fpr');
    if (!sec?.[4] || !fpr?.[9]) throw new Error(`cannot read the generated key:\n${stdout}`);
    const keyId = sec[4].toUpperCase();
    return { gnupgHome, keyId, fingerprint: fpr[9], sigkey: keyId.slice(-8).toLowerCase(), uid: `${name} <${email}>` };
  } catch (err) {
    await removeSigningKey({ gnupgHome });
    throw err;
  }
}

export async function removeSigningKey(key: Pick<TestSigningKey, 'gnupgHome'>): Promise<void> {
  await run('gpgconf', ['--homedir', key.gnupgHome, '--kill', 'gpg-agent']).catch(() => undefined);
  await rm(key.gnupgHome, { recursive: true, force: true });
}

/** Signs the files in place with rpmsign (header signature with the key). */
export async function signRpms(files: readonly string[], key: TestSigningKey): Promise<void> {
  if (files.length === 0) return;
  const gpg = await findGpg();
  await run(
    'rpmsign',
    [
      '--define',
      `_gpg_name ${key.keyId}`,
      '--define',
      `_gpg_path ${key.gnupgHome}`,
      '--define',
      `__gpg ${gpg}`,
      '--addsign',
      ...files,
    ],
    { env: { ...process.env, GNUPGHOME: key.gnupgHome } },
  );
}

/** The sigkey an RPM file is signed with (lower-case last 8 hex digits), or '' when unsigned. */
export async function rpmFileSigkey(file: string): Promise<string> {
  const { stdout } = await run('rpm', [
    '-qp',
    '--nosignature',
    '--nodigest',
    '--qf',
    '%{RSAHEADER:pgpsig}|%{DSAHEADER:pgpsig}|%{SIGPGP:pgpsig}|%{SIGGPG:pgpsig}\n',
    file,
  ]);
  const m = /Key ID ([0-9a-fA-F]+)/.exec(stdout);
  return m ? m[1]!.slice(-8).toLowerCase() : '';
}

/** The raw signature header of an RPM file (after the 96-byte lead), as Koji hashes it. */
export async function readSignatureHeader(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(96 + 16);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead < head.length || head.readUInt32BE(0) !== 0xedabeedb) throw new Error(`${file}: not an RPM file`);
    if (head.readUInt32BE(96) !== 0x8eade801) throw new Error(`${file}: no signature header`);
    const il = head.readUInt32BE(96 + 8);
    const dl = head.readUInt32BE(96 + 12);
    const length = 16 + il * 16 + dl;
    const sig = Buffer.alloc(length);
    await fh.read(sig, 0, length, 96);
    return sig;
  } finally {
    await fh.close();
  }
}

/** Koji's `sighash`: MD5 of the signature header. */
export async function signatureHash(file: string): Promise<string> {
  return createHash('md5').update(await readSignatureHeader(file)).digest('hex');
}
