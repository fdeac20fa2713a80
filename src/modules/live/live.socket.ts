import type { WebSocket } from 'ws';
import type { LiveSocket } from './live.hub.js';

/**
 * The hub's view of one ws WebSocket (see LiveSocket).
 *
 * ws keeps its TCP socket private. Corking it batches a pump round into one write;
 * writing the hub's ready-made frames to it skips per-socket framing. That is safe only
 * while ws itself writes every frame synchronously, i.e. with no extension
 * (permessage-deflate queues frames): otherwise the frames go through ws. Pings go
 * through ws, in order with the frames written directly, so a pong acknowledges every
 * byte written before its ping.
 */
export function liveSocketOf(socket: WebSocket): LiveSocket {
  const tcp = (socket as unknown as { _socket?: { cork?: () => void; uncork?: () => void; write?: (data: Buffer) => boolean } })._socket;
  const raw = socket.extensions === '' && typeof tcp?.write === 'function' ? tcp : undefined;
  return {
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    send: (data: string) => socket.send(data),
    sendFrames: raw
      ? (frames: Buffer) => {
          if (socket.readyState === socket.OPEN) {
            raw.write?.(frames);
          }
        }
      : undefined,
    ping: (mark: number) => {
      if (socket.readyState === socket.OPEN) {
        socket.ping(String(mark));
      }
    },
    onPong: (listener: (mark: number) => void) => {
      socket.on('pong', (data: Buffer) => {
        const mark = Number(data.toString('latin1'));
        if (Number.isSafeInteger(mark)) {
          listener(mark);
        }
      });
    },
    close: (code?: number, reason?: string) => socket.close(code, reason),
    terminate: () => socket.terminate(),
    cork: () => tcp?.cork?.(),
    uncork: () => tcp?.uncork?.(),
  };
}
