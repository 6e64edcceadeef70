/**
 * The reverse-proxy headers ODCS honours in its absolute links (`X-Forwarded-Host`, `X-Scheme`,
 * `X-Script-Name`), honoured here only when the request comes from one of `trusted_proxies` and
 * only when the value has the shape it should (a host name, http or https, a plain path). Any
 * client could otherwise put a host of its choice into the links the API hands out.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { Request } from 'express';
import type { Config } from '../common/config';

/** host[:port], the host a DNS name, an IPv4 address or a bracketed IPv6 address. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const SCHEME = /^https?$/i;
/** Path segments of unreserved characters; no `.` or `..` segments. */
const SCRIPT_NAME = /^\/?(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*(?:\/|$))*$/;
/** Longer values are never valid (and never reach the patterns above). */
const MAX_HEADER_VALUE = 255;

const trustedByConfig = new WeakMap<Config, BlockList>();

/** The BlockList of `trusted_proxies` (IPs and CIDRs), built once per configuration. */
function trustedProxies(cfg: Config): BlockList {
  let list = trustedByConfig.get(cfg);
  if (!list) {
    list = new BlockList();
    for (const entry of cfg.trusted_proxies) {
      const [address, prefix] = entry.split('/');
      const type = isIPv4(address) ? 'ipv4' : 'ipv6';
      if (prefix === undefined) list.addAddress(address, type);
      else list.addSubnet(address, Number(prefix), type);
    }
    trustedByConfig.set(cfg, list);
  }
  return list;
}

/** Whether the peer of `req` is a configured trusted proxy. */
export function fromTrustedProxy(cfg: Config, req: Request): boolean {
  if (cfg.trusted_proxies.length === 0) return false;
  let address = req.socket.remoteAddress ?? '';
  // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) address = mapped[1];
  if (isIPv4(address)) return trustedProxies(cfg).check(address, 'ipv4');
  return isIPv6(address) && trustedProxies(cfg).check(address, 'ipv6');
}

function first(v: string | string[] | undefined): string | undefined {
  return (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim() || undefined;
}

/** A header value if it matches `shape`, else undefined (a malformed value is ignored). */
function valid(v: string | undefined, shape: RegExp): string | undefined {
  return v !== undefined && v.length <= MAX_HEADER_VALUE && shape.test(v) ? v : undefined;
}

/** scheme://host[/prefix] as the client sees us. */
export function externalBase(cfg: Config, req: Request): string {
  const proxied = fromTrustedProxy(cfg, req);
  const scheme = (proxied ? valid(first(req.headers['x-scheme']), SCHEME)?.toLowerCase() : undefined) ?? req.protocol;
  const host =
    (proxied ? valid(first(req.headers['x-forwarded-host']), HOST) : undefined) ?? valid(req.headers.host, HOST) ?? 'localhost';
  const script = proxied ? (valid(first(req.headers['x-script-name']), SCRIPT_NAME) ?? '') : '';
  // A prefix without its leading slash would run into the host name.
  const prefix = script.replace(/\/+$/, '').replace(/^(?=[^/])/, '/');
  return `${scheme}://${host}${prefix}`;
}
