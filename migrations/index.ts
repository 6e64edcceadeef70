import { InitialSchema1763683200000 } from './1763683200000-initial-schema';
import { RenewalAndReuse1763769600000 } from './1763769600000-renewal-and-reuse';
import { DatabaseIdentity1764979200000 } from './1764979200000-database-identity';
import { Tenancy1765152000000 } from './1765152000000-tenancy';

/** Every migration, oldest first. Listed explicitly so that tsc, ts-jest and node all see the same set. */
export const MIGRATIONS = [InitialSchema1763683200000, RenewalAndReuse1763769600000, DatabaseIdentity1764979200000, Tenancy1765152000000];
