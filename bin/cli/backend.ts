import { startWorker } from '../../backend/main';
import { connectServices } from '../../common/services';
import { runRole } from './run';

void runRole('backend', async (cfg, log) => {
  const s = await connectServices(cfg, { role: 'backend', log });
  s.relay.start();
  const worker = await startWorker(s);
  return [{ stop: () => s.close() }, { stop: () => worker.stop() }];
});
