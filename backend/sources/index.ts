import type { SourceTypeName } from '../../common/enums';
import { repoSource } from './repo';
import type { SourceHandler } from './types';

/** The handler of each source type; a type without one fails its composes clearly. */
export const SOURCE_HANDLERS: Partial<Record<SourceTypeName, SourceHandler>> = {
  repo: repoSource,
};
