import { authBackendNames, ConfigError, loadConfig } from '../../common/config';
import { silentLogger } from '../../common/log';
import { createAuthBackend, noAuth, strategyNames } from '../../frontend/auth';
import { startFrontend } from '../../frontend/main';
import { startTestStack } from '../support/stack';

/**
 * The authentication framework (frontend/auth/index.ts): auth_backend as one backend or a list
 * tried in order, each a Passport strategy. `kerberos_or_ssl` over real HTTPS is tested in
 * auth-kerberos.test.ts: libkrb5 is used from one test file per process only.
 */

describe('auth_backend configuration', () => {
  const errorOf = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('no error');
  };

  it("fails at start-up on an unknown backend name with ODCS's text", () => {
    expect(errorOf(() => loadConfig({ ODCS_AUTH_BACKEND: 'magic' }))).toBe('Invalid configuration: auth_backend: Unknown backend name magic. (from ODCS_AUTH_BACKEND)');
    expect(errorOf(() => loadConfig({}, { auth_backend: ['ssl', 'kerberos_or_ssl_openidc'] }))).toContain('Unknown backend name kerberos_or_ssl_openidc.');
    expect(errorOf(() => loadConfig({}, { auth_backend: '' }))).toContain('auth_backend: names no backend');
  });

  it('takes one backend or a list, from the environment (space or comma separated) or a file list', () => {
    expect(loadConfig({}).auth_backend).toBe('noauth');
    expect(loadConfig({ ODCS_AUTH_BACKEND: 'kerberos_or_ssl' }).auth_backend).toBe('kerberos_or_ssl');
    expect(authBackendNames(loadConfig({ ODCS_AUTH_BACKEND: 'openidc kerberos ssl' }))).toEqual(['openidc', 'kerberos', 'ssl']);
    expect(authBackendNames(loadConfig({ ODCS_AUTH_BACKEND: 'openidc,ssl' }))).toEqual(['openidc', 'ssl']);
    expect(authBackendNames(loadConfig({}, { auth_backend: ['ssl', 'openidc'] }))).toEqual(['ssl', 'openidc']);
    // kerberos_or_ssl is Kerberos first, then SSL; a name given twice is tried once.
    expect(strategyNames(loadConfig({}, { auth_backend: 'openidc kerberos_or_ssl ssl' }))).toEqual(['openidc', 'kerberos', 'ssl']);
  });

  it('refuses noauth in a list: it would let everyone in as an admin', () => {
    expect(errorOf(() => loadConfig({}, { auth_backend: 'ssl noauth' }))).toContain('auth_backend: noauth cannot be combined with other backends');
  });

  it('checks that the TLS files come together', () => {
    expect(errorOf(() => loadConfig({}, { tls_cert_file: '/etc/odcs/cert.pem' }))).toContain('tls_key_file: tls_cert_file and tls_key_file go together');
    expect(errorOf(() => loadConfig({}, { tls_client_ca_file: '/etc/odcs/ca.pem' }))).toContain('tls_client_ca_file: needs tls_cert_file and tls_key_file');
    expect(errorOf(() => loadConfig({}, { tls_cert_file: '/c.pem', tls_key_file: '/k.pem', tls_crl_file: '/crl.pem' }))).toContain(
      'tls_crl_file: needs tls_client_ca_file',
    );
    expect(errorOf(() => loadConfig({}, { tls_cert_file: 'cert.pem', tls_key_file: '/k.pem' }))).toContain('tls_cert_file: must be an absolute path');
  });

  it('points the default target_dir_url at https when the API serves TLS', () => {
    expect(loadConfig({}, { port: 8443 }).target_dir_url).toBe('http://127.0.0.1:8443/odcs');
    expect(loadConfig({}, { port: 8443, tls_cert_file: '/c.pem', tls_key_file: '/k.pem' }).target_dir_url).toBe('https://127.0.0.1:8443/odcs');
  });

  it('keeps noauth as it was: everyone is the anonymous unknown', async () => {
    expect(await createAuthBackend(loadConfig({}), { log: silentLogger() })).toBe(noAuth);
  });

  it('fails to start the API when a TLS file cannot be read, naming the option', async () => {
    const t = await startTestStack();
    try {
      const cfg = { ...t.cfg, tls_cert_file: '/nonexistent/cert.pem', tls_key_file: '/nonexistent/key.pem' };
      await expect(startFrontend({ ...t.s, cfg }, { port: 0 })).rejects.toThrow('Invalid configuration: tls_cert_file: cannot read /nonexistent/cert.pem (ENOENT)');
    } finally {
      await t.close();
    }
  });
});
