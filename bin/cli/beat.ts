import { startBeat } from '../../backend/main';
import { connectServices } from '../../common/services';
import { runRole } from './run';

void runRole('beat', async (cfg, log) => {
  const s = await connectServices(cfg, { role: 'beat', log });
  s.relay.start();
  const beat = startBeat(s);
  return [{ stop: () => s.close() }, { stop: () => beat.stop() }];
});
