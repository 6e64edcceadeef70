import type { Config } from '../common/config';
import { ComposeError } from '../common/errors';
import { HttpError } from '../common/http/errors';
import { DownloadError } from './koji/download';
import { UnknownKojiTagError } from './koji/client';
import { RpmHeaderError } from './koji/package';
import { UnsignedRpmsError } from './koji/signatures';
import { KojiFault, XmlRpcProtocolError, XmlRpcTransportError } from './koji/xmlrpc';
import { MbsError } from './mbs/client';
import { DepsolveError } from './rpm/depsolve';
import { RepodataError } from './rpm/repodata';
import { RichDepError } from './rpm/richdeps';
import { XmlSyntaxError } from './rpm/xml-stream';
import { ToolError } from './tools';

/**
 * The errors written for the compose's owner: their messages say what is wrong with the
 * request or its sources. Anything else (a TypeError, an ENOENT of the worker's own files) is
 * an internal failure whose text would only leak local paths and confuse: users get a generic
 * reason and the operator's log the stack. A new error class meant for users extends
 * ComposeError or is listed here.
 */
const USER_FACING: ReadonlyArray<abstract new (...args: never[]) => Error> = [
  ComposeError,
  ToolError,
  RepodataError,
  XmlSyntaxError,
  RichDepError,
  DepsolveError,
  MbsError,
  DownloadError,
  HttpError,
  RpmHeaderError,
  KojiFault,
  XmlRpcTransportError,
  XmlRpcProtocolError,
  UnknownKojiTagError,
  UnsignedRpmsError,
];

export function isUserFacing(err: unknown): err is Error {
  return USER_FACING.some((cls) => err instanceof cls);
}

/** The reason users see for an internal failure; the operator's log has the error and its stack. */
export function internalFailureReason(composeId: number): string {
  return `Internal error while generating the compose; the operator's log has the details (compose ${composeId})`;
}

/**
 * The text after "Error while generating compose: " for a failed compose, and whether the
 * failure was internal (to be logged with its stack). Local paths stay paths, except the log
 * files a failed tool's message names: those are shown as their URLs, where ODCS's users read
 * them (reference §5.1 replaces target_dir by target_dir_url for that purpose).
 */
export function failureReason(cfg: Config, composeId: number, err: unknown): { text: string; internal: boolean } {
  if (!isUserFacing(err)) return { text: internalFailureReason(composeId), internal: true };
  let text = err.message;
  if (err instanceof ToolError) {
    for (const log of err.logs) {
      if (log.startsWith(`${cfg.target_dir}/`)) text = text.split(log).join(`${cfg.target_dir_url}${log.slice(cfg.target_dir.length)}`);
    }
  }
  return { text, internal: false };
}
