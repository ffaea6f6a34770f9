/**
 * Connection fairness: one client must not hold every connection slot (4 on a device). When the cap is
 * reached, the client holding the most connections gives one up to a newcomer holding at least two
 * fewer — its oldest idle one, else its oldest still arriving (slowloris), else its oldest being sent;
 * never one whose request is being handled. A client opening more connections than the others is thus
 * only ever competing with itself, and a lone client still gets 503 past the cap.
 */

export interface Slot {
  /** The client key (modules/http/address.ts). */
  readonly client: string;
  /** 0: never evict (being handled, closed); higher: evict first (idle 3, receiving 2, sending 1). */
  readonly evictable: number;
}

/**
 * The connection to close so that a newcomer from `newcomer` can be served, or undefined when none should
 * be (then the newcomer gets 503). `connections` oldest first.
 */
export function connectionToEvict<S extends Slot>(connections: Iterable<S>, newcomer: string): S | undefined {
  // Only runs at the cap (at most maxConnections entries), so a small Map here costs nothing per request.
  const counts = new Map<string, number>();
  for (const connection of connections) counts.set(connection.client, (counts.get(connection.client) ?? 0) + 1);
  const floor = (counts.get(newcomer) ?? 0) + 2;
  let top: string | undefined;
  let topCount = 0;
  for (const [client, count] of counts) {
    if (count < floor || count <= topCount) continue;
    top = client;
    topCount = count;
  }
  if (top === undefined) return undefined;
  let victim: S | undefined;
  for (const connection of connections) {
    if (connection.client === top && connection.evictable > (victim?.evictable ?? 0)) victim = connection;
  }
  return victim;
}
