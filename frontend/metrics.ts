import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ComposeStore } from '../common/db/compose-store';
import { sourceTypeName, stateName } from '../common/enums';

/** Prometheus metrics of the frontend (reference §10.2 plus request metrics). */
export class FrontendMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly duration: Histogram<'method' | 'route'>;

  /** `topOwners`: owners named in composes_by_owner; the rest are counted as `other`. */
  constructor(store: ComposeStore, options: { topOwners?: number } = {}) {
    const topOwners = options.topOwners ?? 20;
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to answer HTTP requests',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    new Gauge({
      name: 'composes_total',
      help: 'Total number of composes',
      labelNames: ['source_type', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await store.countsByTypeAndState()) {
          this.set(
            { source_type: sourceTypeName(row.source_type) ?? String(row.source_type), state: stateName(row.state) ?? String(row.state) },
            row.count,
          );
        }
      },
    });
    new Gauge({
      name: 'composes_by_owner',
      help: 'Composes per owner and state; the owners with the most active composes by name, the others as "other"',
      labelNames: ['owner', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await store.countsByOwnerAndState(topOwners)) {
          this.set({ owner: row.owner, state: stateName(row.state) ?? String(row.state) }, row.count);
        }
      },
    });
  }
}
