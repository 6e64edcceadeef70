/**
 * A throwaway certificate authority made with the openssl CLI, for the `ssl` backend's tests: a
 * CA, a server certificate for localhost/127.0.0.1, client certificates for users, one client
 * from an unknown CA, one revoked (in the CA's CRL). Keys are P-256 (quick to make).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function openssl(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('openssl', args, { cwd });
  return stdout;
}

export interface ClientCert {
  cert: Buffer;
  key: Buffer;
  /** The subject DN as mod_ssl's SSL_CLIENT_S_DN gives it, according to `openssl x509 -nameopt RFC2253`. */
  dn: string;
}

export interface TestCa {
  dir: string;
  caFile: string;
  crlFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** The CA certificate, for clients to trust the server. */
  ca: Buffer;
  /** A client certificate signed by the CA; `subject` in openssl's `/K=v/…` form. */
  client(name: string, subject?: string): Promise<ClientCert>;
  /** A client certificate from another CA, which the server does not know. */
  unknownCaClient(name: string): Promise<ClientCert>;
  /** Revokes a client certificate of this CA and rewrites the CRL. */
  revoke(client: ClientCert): Promise<void>;
  close(): Promise<void>;
}

const CA_CONFIG = `[ ca ]
default_ca = ca_default
[ ca_default ]
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 30
`;

async function newCa(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '30', '-subj', `/O=ODCS tests/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

/** A key and a certificate for `subject` signed by CA `caName`, with the extensions of `ext`. */
async function issue(dir: string, caName: string, name: string, subject: string, ext: string): Promise<void> {
  await writeFile(path.join(dir, `${name}.ext`), ext);
  await openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  await openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-sha256', '-extfile', `${name}.ext`,
  ]);
}

const CLIENT_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';

async function clientCert(dir: string, caName: string, name: string, subject: string): Promise<ClientCert> {
  await issue(dir, caName, name, subject, CLIENT_EXT);
  // mod_ssl prints with XN_FLAG_RFC2253 minus ASN1_STRFLGS_ESC_MSB (UTF-8 is kept as is).
  const printed = await openssl(dir, ['x509', '-noout', '-subject', '-nameopt', 'RFC2253,-esc_msb', '-in', `${name}.crt`]);
  return {
    cert: await readFile(path.join(dir, `${name}.crt`)),
    key: await readFile(path.join(dir, `${name}.key`)),
    dn: printed.replace(/^subject=/, '').trim(),
  };
}

/** The default client subject of `name`: most general first, as openssl's -subj takes it. */
export const clientSubject = (name: string): string => `/C=US/O=Example/OU=Builds/CN=${name}`;

export async function createTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(path.join(tmpdir(), 'odcs-test-ca-'));
  await newCa(dir, 'ca');
  await newCa(dir, 'other-ca');
  await issue(
    dir,
    'ca',
    'server',
    '/O=ODCS tests/CN=localhost',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n',
  );
  await writeFile(path.join(dir, 'ca.cnf'), CA_CONFIG);
  await writeFile(path.join(dir, 'index.txt'), '');
  await writeFile(path.join(dir, 'crlnumber'), '01\n');
  const gencrl = () => openssl(dir, ['ca', '-config', 'ca.cnf', '-gencrl', '-keyfile', 'ca.key', '-cert', 'ca.crt', '-out', 'ca.crl']);
  await gencrl();
  const files = new Map<ClientCert, string>();
  return {
    dir,
    caFile: path.join(dir, 'ca.crt'),
    crlFile: path.join(dir, 'ca.crl'),
    serverCertFile: path.join(dir, 'server.crt'),
    serverKeyFile: path.join(dir, 'server.key'),
    ca: await readFile(path.join(dir, 'ca.crt')),
    async client(name, subject = clientSubject(name)) {
      const cert = await clientCert(dir, 'ca', `client-${name}`, subject);
      files.set(cert, `client-${name}.crt`);
      return cert;
    },
    unknownCaClient: (name) => clientCert(dir, 'other-ca', `stranger-${name}`, clientSubject(name)),
    async revoke(client) {
      const file = files.get(client);
      if (!file) throw new Error('not a client certificate of this CA');
      await openssl(dir, ['ca', '-config', 'ca.cnf', '-revoke', file, '-keyfile', 'ca.key', '-cert', 'ca.crt']);
      await gencrl();
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
