import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Request } from 'express';
import passport from 'passport';
import { ConfigError, type Config } from '../../../common/config';
import type { Logger } from '../../../common/log';
import type { Caller } from '../../permissions';
import { fromTrustedProxy } from '../../proxy-headers';

/** ODCS's text when the certificate has no subject (reference §4.1, Appendix A). */
export const NO_DN = 'Unable to get user information (DN) from client certificate';

/** ODCS's text when the client is not verified; `verify` is mod_ssl's SSL_CLIENT_VERIFY value. */
export const cannotVerify = (verify: string): string => `Cannot verify client: ${verify}`;

/** A proxy's header value longer than this is no DN anyone uses, and is refused. */
const MAX_HEADER_VALUE = 4096;

/**
 * OpenSSL's texts (X509_verify_cert_error_string) of the verify errors a client certificate
 * meets, keyed by the code Node reports: mod_ssl sets SSL_CLIENT_VERIFY to `FAILED:<text>`.
 */
const VERIFY_ERROR_TEXT: Record<string, string> = {
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  UNABLE_TO_GET_CRL: 'unable to get certificate CRL',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CRL_SIGNATURE_FAILURE: 'CRL signature failure',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CRL_NOT_YET_VALID: 'CRL is not yet valid',
  CRL_HAS_EXPIRED: 'CRL has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  CERT_REVOKED: 'certificate revoked',
  INVALID_CA: 'invalid CA certificate',
  INVALID_PURPOSE: 'unsuitable certificate purpose',
  CERT_UNTRUSTED: 'certificate not trusted',
  CERT_REJECTED: 'certificate rejected',
};

/** mod_ssl's SSL_CLIENT_VERIFY value for a certificate Node did not authorize. */
export function failedVerify(code: string | Error | null | undefined): string {
  const key = typeof code === 'string' ? code : (code?.message ?? 'unknown');
  return `FAILED:${VERIFY_ERROR_TEXT[key] ?? key}`;
}

/**
 * The subject DN as mod_ssl 2.4 gives it in SSL_CLIENT_S_DN (and nginx in $ssl_client_s_dn):
 * RFC 2253, most specific RDN first, `,` between RDNs and `+` inside one, special characters
 * escaped, UTF-8 kept (e.g. `CN=dev,OU=Builds,O=Example,C=US`). Node's X509Certificate.subject
 * holds the same escaped values, one RDN per line in certificate order.
 */
export function rfc2253(cert: Pick<X509Certificate, 'subject'>): string {
  return cert.subject
    .split('\n')
    .filter((rdn) => rdn !== '')
    .reverse()
    .map((rdn) => rdn.replace(/ \+ /g, '+'))
    .join(',');
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined ? undefined : one.trim();
}

type Verdict = { kind: 'pass' } | { kind: 'fail'; message: string } | { kind: 'success'; dn: string };

/** What a verify result and a DN say, the same for a TLS connection and a proxy's headers. */
function judge(verify: string, dn: string | undefined): Verdict {
  if (verify === 'NONE' && !dn) return { kind: 'pass' };
  if (verify !== 'SUCCESS') return { kind: 'fail', message: cannotVerify(verify) };
  if (!dn) return { kind: 'fail', message: NO_DN };
  return { kind: 'success', dn };
}

/**
 * `ssl` (reference §4.1): the user is the subject DN of a verified client certificate, without
 * groups. The certificate comes from this process's own TLS listener (frontend/main.ts, with
 * tls_client_ca_file), or, from a trusted TLS-terminating proxy only, from its headers
 * (auth_ssl_dn_header and auth_ssl_verify_header, like mod_ssl's SSL_CLIENT_S_DN and
 * SSL_CLIENT_VERIFY). No certificate is "no credentials" (pass); a bad one is a 401.
 */
export class SslStrategy extends passport.Strategy {
  override name = 'ssl';

  constructor(private readonly cfg: Config) {
    super();
  }

  override authenticate(req: Request): void {
    const verdict = this.fromProxy(req) ?? this.fromConnection(req);
    if (verdict.kind === 'pass') return this.pass();
    if (verdict.kind === 'fail') return this.fail({ message: verdict.message }, 401);
    const caller: Caller = { username: verdict.dn, groups: [], anonymous: false, via: 'ssl' };
    this.success(caller);
  }

  /** The proxy's verdict, or undefined when proxy mode is off or the peer is not a trusted proxy. */
  private fromProxy(req: Request): Verdict | undefined {
    if (this.cfg.auth_ssl_dn_header === '' || !fromTrustedProxy(this.cfg, req)) return undefined;
    const dn = header(req, this.cfg.auth_ssl_dn_header);
    const verify = header(req, this.cfg.auth_ssl_verify_header) || 'NONE';
    if ((dn?.length ?? 0) > MAX_HEADER_VALUE || verify.length > MAX_HEADER_VALUE) return { kind: 'fail', message: NO_DN };
    return judge(verify, dn);
  }

  private fromConnection(req: Request): Verdict {
    const socket = req.socket as Partial<TLSSocket>;
    // Plain HTTP, or TLS without asking for certificates: no certificate can be there.
    if (!socket.encrypted || typeof socket.getPeerX509Certificate !== 'function') return { kind: 'pass' };
    const cert = socket.getPeerX509Certificate();
    if (!cert) return { kind: 'pass' };
    if (!socket.authorized) return judge(failedVerify(socket.authorizationError), undefined);
    return judge('SUCCESS', rfc2253(cert));
  }
}

export async function createSslStrategy(cfg: Config, log: Logger): Promise<passport.Strategy> {
  if (cfg.tls_client_ca_file === '' && cfg.auth_ssl_dn_header === '') {
    // Otherwise no client could ever present a certificate: every mutating request would be a 401.
    throw new ConfigError(
      'Invalid configuration: auth_backend ssl needs tls_client_ca_file (with tls_cert_file and tls_key_file: this process verifies certificates) or auth_ssl_dn_header (a trusted TLS proxy does)',
    );
  }
  if (cfg.auth_ssl_dn_header !== '' && cfg.trusted_proxies.length === 0) {
    log.warn('auth_ssl_dn_header is set but trusted_proxies is empty: the header is honoured from no address');
  }
  return new SslStrategy(cfg);
}
