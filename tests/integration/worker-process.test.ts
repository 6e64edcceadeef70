/**
 * The supervisor of the embedded default's worker process (bin/cli/worker-process.ts) with a
 * real child that exhausts its bounded heap, as a metadata bomb did (issue 10, item 3): the
 * parent lives on, says why the child died, and starts another.
 */
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { WorkerProcess } from '../../bin/cli/worker-process';
import { eventually } from '../support/listener';

function collectingLogger(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

describe('the worker process of the embedded default', () => {
  it('outlives a child that runs out of its heap, logs why, and starts a new one', async () => {
    const { log, lines } = collectingLogger();
    const supervisor = new WorkerProcess({
      entry: path.join(__dirname, '..', 'fixtures', 'processes', 'heap-hog.js'),
      heapMb: 64,
      env: { PATH: process.env.PATH },
      log,
      // V8's dying words are read by the supervisor; the test output does not need them.
      stderr: new Writable({ write: (_chunk, _enc, done) => done() }),
      maxBackoffMs: 100,
    });
    try {
      supervisor.start();
      const died = await eventually(async () => lines.find((l) => l.msg === 'worker process died; the API keeps running and a new worker process starts'), 60000, 'the child to die');
      expect(died.reason).toBe('ran out of memory (its heap is bounded to 64 MB by embedded_worker_heap_mb)');
      const started = await eventually(async () => {
        const all = lines.filter((l) => l.msg === 'worker process started');
        return all.length >= 2 ? all : undefined;
      }, 60000, 'a new child');
      expect(started[1].workerPid).not.toBe(started[0].workerPid);
    } finally {
      await supervisor.stop();
    }
  });
});
