import { connectServices } from '../../common/services';
import { startFrontend } from '../../frontend/main';
import { runRole } from './run';

void runRole('frontend', async (cfg, log) => {
  const s = await connectServices(cfg, { role: 'frontend', log });
  s.relay.start();
  const api = await startFrontend(s);
  return [{ stop: () => s.close() }, { stop: () => api.close() }];
});
