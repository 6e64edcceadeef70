import type { Services } from '../common/services';
import { Beat } from './beat/beat';
import { createBuildCompose } from './pipeline';
import { Worker } from './worker';

export async function startWorker(s: Services): Promise<Worker> {
  const worker = new Worker({
    cfg: s.cfg,
    store: s.store,
    broker: s.broker,
    log: s.log,
    build: createBuildCompose({ cfg: s.cfg }),
    outboxWritten: () => s.relay.kick(),
  });
  await worker.start();
  s.log.info({ worker: worker.name, queue: s.cfg.work_queue, concurrency: s.cfg.num_concurrent_composes }, 'worker consuming');
  return worker;
}

export function startBeat(s: Services): Beat {
  const beat = new Beat({ cfg: s.cfg, db: s.db, store: s.store, log: s.log, outboxWritten: () => s.relay.kick() });
  beat.start();
  s.log.info({ interval: s.cfg.beat_interval }, 'beat started');
  return beat;
}
