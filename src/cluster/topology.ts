/**
 * Names of everything the cluster keeps in NATS, in one place (docs/CLUSTER.md, "Where state lives").
 * Source ids are [a-z0-9-] (config), valid as subject tokens and KV keys as they are.
 */

/** JetStream stream of ItemBatches published by poll nodes and not yet committed by the writer. */
export const ITEMS_STREAM = 'TICKERPULSE_ITEMS';
export const ITEMS_SUBJECTS = 'tp.items.>';
/** One subject per source: the writer gets each source's batches in publish order. */
export const itemsSubject = (sourceId: string): string => `tp.items.${sourceId}`;
/** Durable pull consumer the active writer reads ITEMS_STREAM with (there is one: workqueue retention). */
export const WRITER_CONSUMER = 'tickerpulse-writer';

/** Core NATS subject every committed StoredBatch is published on, for serve nodes. */
export const STORED_SUBJECT = 'tp.stored';

/** KV bucket of leases (TTL = config cluster.lease.ttl). */
export const LEASE_BUCKET = 'tickerpulse_leases';
export const sourceLeaseKey = (sourceId: string): string => `source.${sourceId}`;
export const WRITER_LEASE_KEY = 'writer';
/** Presence of each live poll node: how many share the sources. */
export const nodeLeaseKey = (nodeId: string): string => `poll-node.${nodeId}`;
export const NODE_LEASE_PREFIX = 'poll-node.';
