import type { SourceTypeName } from '../../common/enums';
import { buildSource } from './build';
import { moduleSource } from './module';
import { pungiComposeSource } from './pungi-compose';
import { repoSource } from './repo';
import { tagSource } from './tag';
import type { SourceHandler } from './types';

/** The handler of each source type; a type without one fails its composes clearly. */
export const SOURCE_HANDLERS: Partial<Record<SourceTypeName, SourceHandler>> = {
  repo: repoSource,
  tag: tagSource,
  build: buildSource,
  pungi_compose: pungiComposeSource,
  module: moduleSource,
};
