import { startBeat, startWorker } from '../../backend/main';
import { IpcBroker } from '../../common/broker/ipc-broker';
import { connectServices } from '../../common/services';
import { runRole } from './run';

// Composes are many small file operations; libuv's default of 4 threads serialises them.
process.env.UV_THREADPOOL_SIZE ??= '16';

/**
 * The worker and beat of the embedded default, forked by embedded.ts (see worker-process.ts).
 * The database is the parent's (DATABASE_URL in our environment); the broker is the parent's
 * in-process one over IPC, or RabbitMQ when AMQP_URL is set.
 */
if (!process.send) {
  process.stderr.write('embedded-worker is started by odcs-embedded (npm start), not on its own\n');
  process.exit(2);
}
// Without the parent there is no API and no in-process broker to work for.
process.on('disconnect', () => process.exit(1));

void runRole('embedded-worker', async (cfg, log) => {
  const s = await connectServices(cfg, { role: 'embedded-worker', log, broker: process.env.AMQP_URL ? 'amqp' : new IpcBroker() });
  s.relay.start();
  const worker = await startWorker(s);
  const beat = startBeat(s);
  return [{ stop: () => s.close() }, { stop: () => worker.stop() }, { stop: () => beat.stop() }];
});
