import { InitialSchema1763683200000 } from './1763683200000-initial-schema';

/** Every migration, oldest first. Listed explicitly so that tsc, ts-jest and node all see the same set. */
export const MIGRATIONS = [InitialSchema1763683200000];
