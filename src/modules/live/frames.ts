import * as ws from 'ws';

/** ws's frame encoder (exported as `Sender`, not typed by @types/ws). */
const Sender = (ws as unknown as {
  Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] };
}).Sender;

const TEXT = 0x1;

/**
 * `messages` as consecutive WebSocket text frames, one per message, in one buffer:
 * what ws would put on the wire for `send(message)` each, built once however many
 * sockets receive it (server frames are unmasked, so the bytes are the same for all).
 */
export function textFrames(messages: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const message of messages) {
    parts.push(...Sender.frame(Buffer.from(message), { fin: true, opcode: TEXT, mask: false, readOnly: true, rsv1: false }));
  }
  return Buffer.concat(parts);
}
