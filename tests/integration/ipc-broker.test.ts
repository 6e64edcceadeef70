import type { Delivery } from '../../common/broker/broker';
import { IpcBroker, serveBrokerToChild } from '../../common/broker/ipc-broker';
import { MemoryBroker } from '../../common/broker/memory-broker';
import { ipcPair } from '../support/ipc-pair';
import { eventually } from '../support/listener';

/** The embedded default's worker process dies: what it held goes to the next one (issue 10, item 3). */
describe('the in-process broker served over IPC', () => {
  it('redelivers what a dead child held unacknowledged to the next child, and nothing it acked', async () => {
    const broker = new MemoryBroker();
    await broker.assertQueue('work');
    const first = ipcPair();
    const served = serveBrokerToChild(broker, first.parent);
    const got: Delivery[] = [];
    await new IpcBroker(first.child).consume('work', { prefetch: 2 }, (d) => got.push(d));
    await broker.publish(['a', 'b', 'c'].map((text) => ({ exchange: '', routingKey: 'work', body: Buffer.from(text) })));
    await eventually(async () => got.length === 2, 5000, 'two deliveries');
    got[0].ack();
    await eventually(async () => got.length === 3, 5000, 'the third, in the slot the ack freed');

    // The child is gone (SIGKILL): its channel closes and the parent detaches it.
    first.parent.disconnect();
    await served.detach();

    const second = ipcPair();
    serveBrokerToChild(broker, second.parent);
    const again: Delivery[] = [];
    await new IpcBroker(second.child).consume('work', { prefetch: 5 }, (d) => again.push(d));
    await eventually(async () => again.length === 2, 5000, 'the redeliveries');
    expect(again.map((d) => [d.body.toString(), d.redelivered])).toEqual([
      ['b', true],
      ['c', true],
    ]);
    expect(await broker.queueLength('work')).toBe(0);
  });
});
