import { EventEmitter } from 'node:events';
import type { IpcChannel } from '../../common/broker/ipc-broker';

/**
 * Two connected ends of an in-process channel that behaves like Node's IPC one: messages arrive
 * asynchronously, as a JSON copy, in order; `disconnect()` ends both sides.
 */
export function ipcPair(): { parent: IpcChannel & { disconnect(): void }; child: IpcChannel } {
  const make = (): EventEmitter & { connected: boolean; peer?: EventEmitter & { connected: boolean } } =>
    Object.assign(new EventEmitter(), { connected: true });
  const a = make();
  const b = make();
  const sender = (to: EventEmitter & { connected: boolean }) => (message: unknown): boolean => {
    const copy = JSON.parse(JSON.stringify(message)) as unknown;
    setImmediate(() => to.connected && to.emit('message', copy));
    return true;
  };
  const disconnect = (): void => {
    for (const end of [a, b]) {
      if (!end.connected) continue;
      end.connected = false;
      end.emit('disconnect');
    }
  };
  return {
    parent: Object.assign(a, { send: sender(b), disconnect }) as unknown as IpcChannel & { disconnect(): void },
    child: Object.assign(b, { send: sender(a) }) as unknown as IpcChannel,
  };
}
