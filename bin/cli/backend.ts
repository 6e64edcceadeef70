import { startWorker } from '../../backend/main';
import { connectServices } from '../../common/services';
import { runRole } from './run';

// Composes are many small file operations; libuv's default of 4 threads serialises them.
process.env.UV_THREADPOOL_SIZE ??= '16';

void runRole('backend', async (cfg, log) => {
  const s = await connectServices(cfg, { role: 'backend', log });
  s.relay.start();
  const worker = await startWorker(s);
  return [{ stop: () => s.close() }, { stop: () => worker.stop() }];
});
