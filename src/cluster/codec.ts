/**
 * ItemBatch / StoredBatch ⇄ bytes on NATS. JSON, except the one typed array the messages carry
 * (an item's `storySig`, a Uint32Array the writer's story clusterer needs), which travels as a
 * plain array and is rebuilt. A message of an unknown `v` or type is refused (MESSAGE_VERSION
 * rule of src/lib/messages.ts) with INPUT_INVALID.
 */
import { TickerpulseError } from '../lib/errors.js';
import { MESSAGE_VERSION, type ItemBatch, type StoredBatch } from '../lib/messages.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function replacer(key: string, value: unknown): unknown {
  return key === 'storySig' && value instanceof Uint32Array ? Array.from(value) : value;
}

function reviveSigs(items: Array<{ storySig?: unknown }>): void {
  for (const it of items) if (Array.isArray(it.storySig)) it.storySig = Uint32Array.from(it.storySig as number[]);
}

export function encodeBatch(batch: ItemBatch | StoredBatch): Uint8Array {
  return enc.encode(JSON.stringify(batch, replacer));
}

function decode<T extends ItemBatch | StoredBatch>(data: Uint8Array, type: T['type']): T {
  let m: T;
  try {
    m = JSON.parse(dec.decode(data)) as T;
  } catch (err) {
    throw new TickerpulseError('INPUT_INVALID', `a ${type} message is not JSON: ${(err as Error).message}`);
  }
  if (!m || m.type !== type || !Array.isArray(m.items)) throw new TickerpulseError('INPUT_INVALID', `not a ${type} message`);
  if (m.v !== MESSAGE_VERSION) throw new TickerpulseError('INPUT_INVALID', `${type} version ${String(m.v)} is not the version this node speaks (${MESSAGE_VERSION})`);
  reviveSigs(m.items as Array<{ storySig?: unknown }>);
  return m;
}

export const decodeItemBatch = (data: Uint8Array): ItemBatch => decode<ItemBatch>(data, 'ItemBatch');
export const decodeStoredBatch = (data: Uint8Array): StoredBatch => decode<StoredBatch>(data, 'StoredBatch');
