import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { isKnownArch } from './arches';
import { FLAGS, RESULTS, SOURCE_TYPES } from './enums';

/**
 * The one configuration of every process role. Sources, later ones winning:
 * built-in defaults < the file named by ODCS_CONFIG_FILE (YAML or JSON) < environment variables.
 * Option names are ODCS's (reference §8) in snake_case; in the environment they are
 * `ODCS_<NAME>` in upper case, except DATABASE_URL, AMQP_URL, HOST and PORT.
 */

const absolutePath = z.string().refine((p) => path.isAbsolute(p), { message: 'must be an absolute path' });
const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, { message: 'must be an http(s) URL' });
const stringList = z.array(z.string());
/** Compose arches become directory names: only rpm's architecture names (common/arches.ts). */
const archList = z.array(z.string().refine(isKnownArch, { message: 'is not a known RPM architecture' }));
/** An IPv4/IPv6 address or a CIDR such as 10.0.0.0/8. */
const addressOrCidr = z.string().refine(
  (entry) => {
    const [address, prefix, ...rest] = entry.split('/');
    const max = isIPv4(address) ? 32 : isIPv6(address) ? 128 : 0;
    return max > 0 && rest.length === 0 && (prefix === undefined || (/^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= max));
  },
  { message: 'must be an IP address or a CIDR (e.g. 10.0.0.0/8)' },
);
/** An http(s) URL, or empty for "not configured". */
const optionalHttpUrl = z.string().regex(/^(https?:\/\/[^\s]+)?$/, { message: 'must be empty or an http(s) URL' }).default('');

/** Per-client attribute rules of allowed_clients (reference §4.3–§4.4). */
const clientRules = z
  .object({
    source_types: stringList.optional(),
    sources: stringList.optional(),
    results: stringList.optional(),
    flags: stringList.optional(),
    arches: stringList.optional(),
    compose_types: stringList.optional(),
    target_dirs: stringList.optional(),
    raw_config_keys: stringList.optional(),
  })
  .strict();
export type ClientRules = z.infer<typeof clientRules>;

/** Limits of one tenant (config `quotas`); a limit left out is no limit. */
const quotaLimits = z
  .object({
    /** Composes of the user in `wait` or `generating` at once. */
    max_active_composes: z.number().int().nonnegative().optional(),
    /** The longest seconds_to_live the user may ask for (a request without one gets at most this). */
    max_seconds_to_live: z.number().int().positive().optional(),
    /** How many times one compose may be renewed (a regenerated copy carries the count on). */
    max_renewals: z.number().int().nonnegative().optional(),
  })
  .strict();
export type QuotaLimits = z.infer<typeof quotaLimits>;

const rawConfigEntry = z
  .object({
    url: z.string().min(1),
    config_filename: z.string().min(1),
    commit: z.string().optional(),
    path: z.string().optional(),
    schema_override: z.string().optional(),
    pungi_timeout: z.number().int().positive().optional(),
    raw_config_wrapper: z.string().optional(),
    seconds_to_live: z.number().int().positive().optional(),
    max_seconds_to_live: z.number().int().positive().optional(),
  })
  .strict();

/** The authentication backends of reference §4.1. */
export const AUTH_BACKENDS = ['noauth', 'openidc', 'kerberos', 'ssl', 'kerberos_or_ssl'] as const;
export type AuthBackendName = (typeof AUTH_BACKENDS)[number];

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export const configSchema = z
  .object({
    // Process and services.
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(5000),
    database_url: z.string().min(1).default('postgres://postgres@127.0.0.1:5432/odcs'),
    database_pool_size: z.number().int().positive().default(10),
    amqp_url: z.string().min(1).default('amqp://guest:guest@127.0.0.1:5672'),
    /** Durable queue carrying `{compose_id}` work messages to the workers. */
    work_queue: z.string().min(1).default('odcs.composes'),
    log_level: logLevel.default('info'),

    // Storage and URLs (reference §2.8, §10.1).
    /** Where composes are written; defaults to `<data_dir>/composes` (resolved after data_dir). */
    target_dir: absolutePath.optional(),
    /** Public URL of target_dir; defaults to the built-in static server of this process. */
    target_dir_url: httpUrl.optional(),
    extra_target_dirs: z.record(z.string(), absolutePath).default({}),

    // Lifetimes (reference §6.2).
    seconds_to_live: z.number().int().positive().default(86400),
    max_seconds_to_live: z.number().int().positive().default(259200),

    // Defaults for compose attributes.
    arches: archList.default(['x86_64']),
    sigkeys: stringList.default([]),

    // Permissions (reference §4.3–§4.4).
    allowed_source_types: z.array(z.enum(Object.keys(SOURCE_TYPES) as [string, ...string[]])).default(['tag', 'module', 'build']),
    allowed_sources: stringList.default(['']),
    allowed_flags: stringList.default(Object.keys(FLAGS)),
    allowed_arches: stringList.default(['x86_64']),
    allowed_results: stringList.default(Object.keys(RESULTS)),
    allowed_compose_types: stringList.default(['']),
    allowed_target_dirs: stringList.default([]),
    allowed_clients: z
      .object({
        users: z.record(z.string(), clientRules).default({}),
        groups: z.record(z.string(), clientRules).default({}),
      })
      .strict()
      .default({ users: {}, groups: {} }),
    admins: z
      .object({ users: stringList.default([]), groups: stringList.default([]) })
      .strict()
      .default({ users: [], groups: [] }),
    /**
     * One of noauth, openidc, kerberos, ssl, kerberos_or_ssl (reference §4.1), or beyond ODCS a
     * list of them tried in order (`openidc kerberos ssl`, or a YAML/JSON list). Kept as the
     * space-joined names (what /about/ shows); authBackendNames() gives the list.
     */
    auth_backend: z
      .union([z.string(), z.array(z.string())])
      .default('noauth')
      .transform((value, ctx) => {
        const names = (Array.isArray(value) ? value : value.split(/[\s,]+/)).filter(Boolean);
        if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'names no backend' });
        for (const name of names) {
          if (!(AUTH_BACKENDS as readonly string[]).includes(name)) ctx.addIssue({ code: 'custom', message: `Unknown backend name ${name}.` });
        }
        return names.join(' ');
      }),
    /**
     * Reverse proxies (IPs or CIDRs) whose X-Forwarded-Host, X-Scheme and X-Script-Name the API
     * honours in its absolute links; empty honours none.
     */
    trusted_proxies: z.array(addressOrCidr).default([]),

    // TLS served by this process, and the `ssl` backend (reference §4.1; frontend/auth/strategies/ssl.ts).
    /** PEM certificate (chain) of the API's HTTPS listener; with tls_key_file it serves HTTPS instead of HTTP. */
    tls_cert_file: z.union([z.literal(''), absolutePath]).default(''),
    /** PEM private key of tls_cert_file. */
    tls_key_file: z.union([z.literal(''), absolutePath]).default(''),
    /** PEM CA certificate(s) client certificates must chain to; set: clients are asked for a certificate. */
    tls_client_ca_file: z.union([z.literal(''), absolutePath]).default(''),
    /** PEM certificate revocation list(s) of the client CA; a revoked client certificate gets a 401. */
    tls_crl_file: z.union([z.literal(''), absolutePath]).default(''),
    /**
     * Behind a TLS-terminating proxy (one of trusted_proxies): the header carrying the verified
     * client's subject DN (like mod_ssl's SSL_CLIENT_S_DN). Empty: no proxy mode. Ignored from
     * any other address.
     */
    auth_ssl_dn_header: z.string().regex(/^([!#$%&'*+.^_`|~0-9A-Za-z-]+)?$/, { message: 'must be empty or a header name' }).default(''),
    /** With auth_ssl_dn_header: the header carrying the proxy's verify result (SUCCESS, NONE, FAILED:<reason>). */
    auth_ssl_verify_header: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: 'must be a header name' }).default('X-SSL-Client-Verify'),

    // Kerberos (SPNEGO) and its LDAP groups (reference §4.1; frontend/auth/strategies/kerberos.ts).
    /**
     * Keytab holding the service principal's keys (set as KRB5_KTNAME for the GSS-API library).
     * Empty: the library's default (KRB5_KTNAME from the environment, else /etc/krb5.keytab).
     */
    auth_kerberos_keytab: z.union([z.literal(''), absolutePath]).default(''),
    /**
     * The acceptor's service name in GSS-API host-based form, e.g. `HTTP@odcs.example.com` for
     * the principal HTTP/odcs.example.com@REALM. Empty: any service principal of the keytab.
     */
    auth_kerberos_service: z.string().default(''),
    /** LDAP server of the Kerberos users' groups: `ldap://host[:port]` or `ldaps://…`. */
    auth_ldap_server: z.string().regex(/^(ldaps?:\/\/[^\s]+)?$/, { message: 'must be empty or an ldap:// or ldaps:// URL' }).default(''),
    /**
     * [base, filter] pairs searched (one level, attribute cn) for a user's groups; `{}` in the
     * filter is the user's uid, e.g. [["ou=groups,dc=example,dc=com", "memberUid={}"]].
     */
    auth_ldap_groups: z.array(z.tuple([z.string().min(1), z.string().min(1)])).default([]),
    /** ODCS 0.3.x form: one base searched with `memberUid=<uid>` (used along with auth_ldap_groups). */
    auth_ldap_group_base: z.string().default(''),
    /** Seconds an LDAP connect or search may take before the user is given no groups (logged). */
    auth_ldap_timeout: z.number().int().positive().default(5),
    /** Seconds a user's LDAP groups are reused before being looked up again; 0 looks up every request. */
    auth_ldap_cache_seconds: z.number().int().nonnegative().default(60),

    // OpenID Connect bearer tokens (reference §4.1-4.2; frontend/auth/strategies/openidc.ts).
    /** The OpenID provider's issuer URL; its metadata is discovered at start-up (required by openidc). */
    auth_openidc_issuer: optionalHttpUrl,
    /** This service's client at the provider, for token introspection (RFC 7662). */
    auth_openidc_client_id: z.string().default(''),
    /** The client's secret (client_secret_basic); empty: a public client. */
    auth_openidc_client_secret: z.string().default(''),
    /** UserInfo URL whose `groups` key gives the user's groups; empty: the discovered userinfo_endpoint. */
    auth_openidc_userinfo_uri: optionalHttpUrl,
    /** Scopes every token must have (ODCS: `Required OIDC scope <scope> not present.`). */
    auth_openidc_required_scopes: stringList.default([]),
    /** Prefix of ODCS's per-route scopes (`<namespace>new-compose`, `renew-compose`, `delete-compose`). */
    oidc_base_namespace: z.string().default('https://pagure.io/odcs/'),
    /**
     * A token that is a JWT is verified here against the issuer's JWKS (signature, iss, exp, aud
     * when auth_openidc_audience is set) instead of being introspected: no round trip, but a
     * revoked JWT stays valid until it expires.
     */
    auth_openidc_local_jwt: z.boolean().default(false),
    /** The `aud` a locally verified JWT must carry; empty: not checked. */
    auth_openidc_audience: z.string().default(''),
    /** Claim naming the user (mod_auth_openidc's OIDCOAuthRemoteUserClaim; its default is `sub`). */
    auth_openidc_username_claim: z.string().min(1).default('sub'),
    /** Claim of the introspection answer or JWT holding the groups; empty: the UserInfo `groups` key. */
    auth_openidc_groups_claim: z.string().default(''),
    /** Tokens whose introspection and groups are remembered (least recently used goes first). */
    auth_openidc_cache_size: z.number().int().nonnegative().default(10000),
    /**
     * Longest a remembered token is trusted without asking the provider again, seconds (never past
     * the token's exp): a token revoked at the provider is refused at most this much later.
     */
    auth_openidc_cache_seconds: z.number().int().nonnegative().default(60),

    // Sources.
    raw_config_urls: z.record(z.string(), rawConfigEntry).default({}),
    base_module_names: stringList.default(['platform', 'bootstrap']),
    /**
     * Module Build Service base URL (the API is at `<mbs_url>/1/…`), for `module` composes.
     * Empty (the default): not configured, and a module compose that needs MBS fails at once
     * saying so (ODCS's default, http://localhost/module-build-service, answers nowhere).
     */
    mbs_url: optionalHttpUrl,
    /** Local directories under which `repo` sources may live; empty allows none. */
    allowed_repo_roots: z.array(absolutePath).default([]),
    /** Hosts (host or host:port) from which `repo` sources may be fetched over http(s). */
    allowed_repo_hosts: stringList.default([]),
    /**
     * Koji, for the tag, build, module and pungi_compose sources: the hub's XML-RPC endpoint and
     * the file tree RPMs are downloaded from (a Koji profile's `server` and `topurl`). Only these
     * are ever contacted; a request never names a Koji.
     */
    koji_url: optionalHttpUrl,
    koji_topurl: optionalHttpUrl,
    /** Hosts (host or host:port) whose Pungi composes `pungi_compose` sources may name. */
    allowed_pungi_compose_hosts: stringList.default([]),
    /**
     * Hosts (host or host:port) of the git repositories a compose's `module_defaults_url` may
     * name (http, https or git://); empty (the default) allows none, and such composes fail
     * saying so. The repository is fetched with git at `module_defaults_commit` for the
     * modulemd-defaults documents of the compose's modules.
     */
    allowed_module_defaults_hosts: stringList.default([]),
    /**
     * The most a module defaults checkout may take on disk, bytes (git's transfer included):
     * git is stopped and the compose fails when it grows past this.
     */
    module_defaults_max_bytes: z.number().int().positive().default(64 * 1024 ** 2),
    /**
     * Outgoing HTTP (Koji, MBS, remote repositories): the retry window, and the limit of one
     * attempt's connect + answer and of any pause in a body, seconds.
     */
    net_timeout: z.number().int().positive().default(120),
    /** Seconds between attempts of a transient failure (connect error, timeout, 5xx). */
    net_retry_interval: z.number().int().positive().default(30),
    /**
     * The slowest average transfer accepted, bytes per second, once a body has streamed for
     * net_timeout seconds: a server dripping bytes never trips the idle limit, but trips this.
     */
    net_min_rate_bytes: z.number().int().nonnegative().default(1024),
    /**
     * Composes of one worker that may wait at once on one failing outside service (Koji, MBS):
     * another compose meeting that service's failure then fails at once instead of holding a
     * slot through its retries. Default (0): half of num_concurrent_composes, rounded up.
     */
    max_slots_per_service: z.number().int().nonnegative().default(0),

    // Multi-tenancy (beyond ODCS).
    /**
     * Limits per user and per group (a group's limits apply to each of its members): composes
     * in wait+generating, seconds_to_live, renewals of one compose. A user's own entry wins over
     * its groups; among groups the most generous applies; `default` covers users without either.
     * Admins are exempt (so is everyone under noauth). Empty (the default): no limits.
     */
    quotas: z
      .object({
        users: z.record(z.string(), quotaLimits).default({}),
        groups: z.record(z.string(), quotaLimits).default({}),
        default: quotaLimits.optional(),
      })
      .strict()
      .default({ users: {}, groups: {} }),
    /** Owners shown by name in the per-owner metrics (the most active); the others add up under `other`. */
    metrics_top_owners: z.number().int().nonnegative().default(20),

    // Workers and beat.
    num_concurrent_composes: z.number().int().positive().default(2),
    /** Kill timeout of one compose; a compose generating for 2x this long is failed by the beat. */
    compose_timeout: z.number().int().positive().default(3600),
    heartbeat_interval: z.number().int().positive().default(10),
    /**
     * On SIGTERM a worker stops taking work and waits this many seconds for the composes it is
     * building; those still running then are aborted (their tools killed) and left for another
     * worker, their work messages unacked.
     */
    shutdown_grace_seconds: z.number().int().nonnegative().default(30),
    /** The createrepo_c binary (a name on PATH or an absolute path). */
    createrepo_c: z.string().min(1).default('createrepo_c'),
    /** The modifyrepo_c binary, which adds modules.yaml to the repodata of module composes. */
    modifyrepo_c: z.string().min(1).default('modifyrepo_c'),
    beat_interval: z.number().int().positive().default(60),
    /** A `wait` compose nobody claimed for this many seconds is published again. */
    lost_wait_seconds: z.number().int().positive().default(180),
    /** A generating compose whose worker sent no heartbeat for this long is taken from it. */
    heartbeat_timeout: z.number().int().positive().default(60),
    /** How many workers may try a compose whose workers died before it fails as stuck. */
    max_attempts: z.number().int().positive().default(3),
    /** Store entries and cached repodata younger than this are never collected (a build may be linking them). */
    store_grace_seconds: z.number().int().nonnegative().default(3600),
    /**
     * Koji header cache entries (`<target_dir>/.cache/koji-headers`, one per RPM seen) no compose
     * read for this long are deleted by the beat's store collection (fetched again if needed).
     */
    koji_header_cache_max_age_seconds: z.number().int().positive().default(30 * 24 * 3600),

    // Bounds on repository metadata read from outside (backend/rpm/repodata.ts). Exceeding one
    // fails that compose with a reason naming the option. Defaults fit Fedora Everything
    // (~75,000 packages, a few million file entries) with a wide margin.
    /** Decompressed bytes of one metadata file (primary.xml, filelists.xml). */
    metadata_max_bytes: z.number().int().positive().default(2 * 1024 ** 3),
    /** Packages in one repository. */
    metadata_max_packages: z.number().int().positive().default(500_000),
    /** File entries of one package. */
    metadata_max_files_per_package: z.number().int().positive().default(100_000),
    /** File entries of one repository, all packages together. */
    metadata_max_files: z.number().int().positive().default(30_000_000),
    /** Provides, requires, conflicts and obsoletes entries of one package together. */
    metadata_max_deps_per_package: z.number().int().positive().default(100_000),
    /** Characters of one value in the metadata (a name, a version, a file path, a dependency). */
    metadata_max_string_length: z.number().int().positive().default(64 * 1024),
    /**
     * Parsed repository metadata a worker keeps for the next compose, in items (packages +
     * files + dependency entries, roughly 100 bytes of memory each: the default is about 1 GB).
     * Least recently used goes first; a repository larger than this is not kept at all.
     */
    metadata_cache_max_items: z.number().int().nonnegative().default(8_000_000),

    // Messaging (reference §7; fedora-messaging wire format).
    messaging_backend: z.enum(['', 'fedora-messaging']).default('fedora-messaging'),
    messaging_exchange: z.string().min(1).default('amq.topic'),
    messaging_topic_prefix: z.string().default(''),

    // The embedded default.
    /** The embedded PostgreSQL cluster, the sample repository and, unless target_dir is set, the composes. */
    data_dir: absolutePath.default(path.resolve('.odcs-data')),
    /**
     * Heap bound (MB, V8's --max-old-space-size) of the embedded default's worker process; a
     * compose that needs more ends that process only, and a new one takes over.
     */
    embedded_worker_heap_mb: z.number().int().min(256).default(4096),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.seconds_to_live > cfg.max_seconds_to_live) {
      ctx.addIssue({ code: 'custom', path: ['seconds_to_live'], message: 'must not exceed max_seconds_to_live' });
    }
    for (const name of Object.keys(cfg.extra_target_dirs)) {
      if (name === 'default') {
        ctx.addIssue({ code: 'custom', path: ['extra_target_dirs', name], message: '"default" names the main target_dir' });
      }
    }
    // HTTPS needs both halves; client CA and CRL only mean something on an HTTPS listener.
    if ((cfg.tls_cert_file === '') !== (cfg.tls_key_file === '')) {
      ctx.addIssue({ code: 'custom', path: [cfg.tls_cert_file === '' ? 'tls_cert_file' : 'tls_key_file'], message: 'tls_cert_file and tls_key_file go together' });
    }
    for (const key of ['tls_client_ca_file', 'tls_crl_file'] as const) {
      if (cfg[key] !== '' && cfg.tls_cert_file === '') ctx.addIssue({ code: 'custom', path: [key], message: 'needs tls_cert_file and tls_key_file' });
    }
    if (cfg.tls_crl_file !== '' && cfg.tls_client_ca_file === '') {
      ctx.addIssue({ code: 'custom', path: ['tls_crl_file'], message: 'needs tls_client_ca_file' });
    }
    const backends = cfg.auth_backend.split(' ');
    if (backends.length > 1 && backends.includes('noauth')) {
      // noauth accepts everyone as an admin: in a list it would make the others meaningless.
      ctx.addIssue({ code: 'custom', path: ['auth_backend'], message: 'noauth cannot be combined with other backends' });
    }
  });

export type ConfigInput = z.input<typeof configSchema>;
type ParsedConfig = z.output<typeof configSchema>;
export type Config = Readonly<Omit<ParsedConfig, 'target_dir_url' | 'target_dir'> & { target_dir_url: string; target_dir: string }>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Environment variables that are not `ODCS_`-prefixed, as 12-factor tools expect. */
const PLAIN_ENV: Record<string, keyof ParsedConfig> = {
  DATABASE_URL: 'database_url',
  AMQP_URL: 'amqp_url',
  HOST: 'host',
  PORT: 'port',
};

function fieldShape(key: string): z.ZodType | undefined {
  return Object.hasOwn(configSchema.shape, key) ? (configSchema.shape[key as keyof ParsedConfig] as z.ZodType) : undefined;
}

/** Unwraps defaults/optionals to see what kind of value an option holds. */
function baseKind(schema: z.ZodType): 'number' | 'string' | 'array' | 'object' | 'other' {
  let s: z.ZodType = schema;
  for (;;) {
    const def = (s as unknown as { def: { type: string; innerType?: z.ZodType } }).def;
    if ((def.type === 'default' || def.type === 'optional' || def.type === 'pipe') && def.innerType) {
      s = def.innerType;
      continue;
    }
    // A transformed value (auth_backend) reads like its input.
    const input = (def as { in?: z.ZodType }).in;
    if (def.type === 'pipe' && input) {
      s = input;
      continue;
    }
    // A string-or-list option (auth_backend) is given as a string in the environment.
    const options = (def as { options?: z.ZodType[] }).options;
    if (def.type === 'union' && options?.some((o) => baseKind(o) === 'string')) return 'string';
    if (def.type === 'number') return 'number';
    if (def.type === 'string' || def.type === 'enum') return 'string';
    if (def.type === 'array') return 'array';
    if (def.type === 'object' || def.type === 'record') return 'object';
    return 'other';
  }
}

function parseEnvValue(name: string, key: string, raw: string): unknown {
  const shape = fieldShape(key);
  const kind = shape ? baseKind(shape) : 'other';
  if (kind === 'string') return raw;
  if (kind === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`Invalid configuration: ${key} (from ${name}): expected a number, got "${raw}"`);
    return n;
  }
  const trimmed = raw.trim();
  if (kind === 'array' && !trimmed.startsWith('[')) {
    // A plain list is easier to write in an env file: "x86_64 ppc64le" or "x86_64,ppc64le".
    return trimmed === '' ? [] : trimmed.split(/[\s,]+/).filter(Boolean);
  }
  try {
    return JSON.parse(trimmed);
  } catch {
    throw new ConfigError(`Invalid configuration: ${key} (from ${name}): not valid JSON`);
  }
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read configuration file ${file}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`Cannot parse configuration file ${file}: ${(err as Error).message}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`Configuration file ${file} must hold a mapping of option names to values`);
  }
  // ODCS's Python config uses upper-case attribute names; accept both spellings.
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) out[k.toLowerCase()] = v;
  return out;
}

function fromEnvironment(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    let key: string | undefined = PLAIN_ENV[name];
    if (!key && name.startsWith('ODCS_') && name !== 'ODCS_CONFIG_FILE') key = name.slice(5).toLowerCase();
    if (!key) continue;
    if (!fieldShape(key)) throw new ConfigError(`Invalid configuration: unknown option ${key} (from ${name})`);
    out[key] = parseEnvValue(name, key, raw);
  }
  return out;
}

function describeIssues(error: z.ZodError, sourceOf: (key: string) => string): string {
  return error.issues
    .map((issue) => {
      const key = issue.path.map(String).join('.') || '(root)';
      const top = String(issue.path[0] ?? '');
      let message = issue.message;
      if (issue.code === 'unrecognized_keys') {
        const keys = (issue as { keys: string[] }).keys;
        const prefix = issue.path.length ? `${key}.` : '';
        return keys.map((k) => `${prefix}${k}: unknown option${top || k ? ` (from ${sourceOf(top || k)})` : ''}`).join('; ');
      }
      if (message.startsWith('Invalid input: ')) message = message.slice('Invalid input: '.length);
      return `${key}: ${message}${top ? ` (from ${sourceOf(top)})` : ''}`;
    })
    .join('; ');
}

/**
 * Builds the configuration from defaults, an optional file and the environment.
 * Throws ConfigError naming the offending option when anything is invalid.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigInput = {}): Config {
  const file = env.ODCS_CONFIG_FILE;
  const fromFile = file ? readConfigFile(file) : {};
  const fromEnv = fromEnvironment(env);
  const merged = { ...fromFile, ...fromEnv, ...overrides };
  const sourceOf = (key: string): string => {
    if (key in overrides) return 'overrides';
    if (key in fromEnv) {
      const plain = Object.entries(PLAIN_ENV).find(([, k]) => k === key);
      return plain ? plain[0] : `ODCS_${key.toUpperCase()}`;
    }
    if (key in fromFile) return file ?? 'file';
    return 'default';
  };
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(`Invalid configuration: ${describeIssues(parsed.error, sourceOf)}`);
  const cfg = parsed.data;
  const target_dir_url = (cfg.target_dir_url ?? defaultTargetDirUrl(cfg)).replace(/\/+$/, '');
  // Defaults under data_dir follow it: moving ODCS_DATA_DIR moves everything not set on its own.
  const target_dir = cfg.target_dir ?? path.join(cfg.data_dir, 'composes');
  return Object.freeze({ ...cfg, target_dir, target_dir_url });
}

/** The backends of auth_backend, in the order they are tried. */
export function authBackendNames(cfg: Pick<Config, 'auth_backend'>): AuthBackendName[] {
  return cfg.auth_backend.split(' ') as AuthBackendName[];
}

/**
 * The target_dir_url used when none is configured: `/odcs` of this process's own HTTP server,
 * which then serves target_dir there (frontend/compose-tree.ts).
 */
export function defaultTargetDirUrl(cfg: { host: string; port: number; tls_cert_file?: string }): string {
  // With tls_cert_file the API's port speaks HTTPS only.
  return `${cfg.tls_cert_file ? 'https' : 'http'}://${hostForUrl(cfg.host)}:${cfg.port}/odcs`;
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

/** Loads the configuration or ends the process with a message naming the bad option. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
