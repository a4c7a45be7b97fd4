/** Seats per party (cluster → replicas). */
export type Seats = Record<string, number>;

interface Party {
  name: string;
  votes: number;
  seats: number;
}

/** Orders two parties whose quotients are equal; true when a gets the seat. */
export type TieBreaker = (a: Party, b: Party) => boolean;

/** Fewer seats first, then name ascending. */
export const byFewerSeatsThenName: TieBreaker = (a, b) =>
  a.seats !== b.seats ? a.seats < b.seats : a.name < b.name;

/** FNV-1a, 32 bits, over the UTF-8 bytes of a string. */
export function fnv32a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * The tie-break for a workload: fewer seats first, then names ascending, or descending when the
 * FNV-1a hash of its UID is odd. Equal remainders thus land on different clusters for different
 * workloads, but always the same ones for the same workload.
 */
export function tieBreakerForUid(uid: string): TieBreaker {
  const descending = uid !== "" && fnv32a(uid) % 2 === 1;
  return (a, b) => (a.seats !== b.seats ? a.seats < b.seats : descending ? a.name > b.name : a.name < b.name);
}

/**
 * Webster (Sainte-Laguë) apportionment: each new seat goes to the party with the highest
 * votes / (2·seats + 1), compared exactly as rationals. It is house-monotone (more seats never
 * take one away) and favours no party by size. Parties with initial seats but no votes keep
 * them and gain none. No votes at all means no result.
 */
export function allocateWebsterSeats(
  newSeats: number,
  votes: Record<string, number>,
  initial: Seats = {},
  tieBreaker: TieBreaker = byFewerSeatsThenName,
): Seats | undefined {
  const names = Object.keys(votes);
  if (names.length === 0) return undefined;
  const parties: Party[] = names.map((name) => ({ name, votes: votes[name]!, seats: initial[name] ?? 0 }));
  for (let seat = 0; seat < newSeats; seat++) {
    let best: Party | undefined;
    for (const party of parties) {
      if (party.votes <= 0) continue;
      if (!best) {
        best = party;
        continue;
      }
      // a/(2s+1) against b/(2t+1), without division: exact for integers.
      const left = party.votes * (2 * best.seats + 1);
      const right = best.votes * (2 * party.seats + 1);
      if (left > right || (left === right && tieBreaker(party, best))) best = party;
    }
    if (!best) break;
    best.seats += 1;
  }
  const result: Seats = {};
  for (const name of [...new Set([...names, ...Object.keys(initial)])].sort())
    result[name] = parties.find((p) => p.name === name)?.seats ?? initial[name] ?? 0;
  return result;
}
