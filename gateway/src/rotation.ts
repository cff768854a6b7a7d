import { RESOLVE_EVERY_MS, replicaKey, resolveReplicas, systemLookup, type Lookup } from "@chirp/kit/grpc";
import type { Logger } from "@chirp/kit";

/** How long a replica that could not be reached is left out of the rotation, unless it is the only one. */
const DOWN_MS = 2_000;

/** A replica in a rotation: `key` is its `host:port`. */
export interface Replica {
  readonly key: string;
  downUntil: number;
}

export interface RotationOptions<M extends Replica> {
  /** One replica or many (`resolveReplicas`). */
  address: string;
  log: Logger;
  /** A new replica's member, at its `host:port`. */
  join(key: string): M;
  /** A member whose replica is no longer listed, or whose rotation closed, lets go of what it holds. */
  leave?(member: M): void;
  /** Replaces DNS (tests). */
  lookup?: Lookup | undefined;
  resolveEveryMs?: number | undefined;
}

/**
 * The replicas of a service, taken in turn, for both ways the gateway reaches a service
 * (BalancedTransport on the router's path, ByteUpstream on the direct one): looked up again every
 * few seconds (a headless Service's name lists its ready pods), a replica kept with what it holds
 * while it is listed, and one that could not be reached left out of the turn for a moment.
 */
export class Rotation<M extends Replica> {
  private members: M[] = [];
  private next = 0;
  private readonly timer: NodeJS.Timeout;
  /** Settles once the first lookup has. */
  readonly ready: Promise<void>;

  constructor(private readonly options: RotationOptions<M>) {
    this.ready = this.refresh();
    this.timer = setInterval(() => void this.refresh(), options.resolveEveryMs ?? RESOLVE_EVERY_MS);
    this.timer.unref();
  }

  /** The replicas in the rotation now. */
  keys(): string[] {
    return this.members.map((m) => m.key);
  }

  /**
   * The next replica in turn that is not in `exclude`, those left out for a moment last, or, when
   * all were tried, the next one all the same; undefined only when none is known.
   */
  pick(exclude: ReadonlySet<M>): M | undefined {
    const n = this.members.length;
    if (n === 0) return undefined;
    const now = Date.now();
    for (const allowDown of [false, true]) {
      for (let i = 0; i < n; i++) {
        const member = this.members[(this.next + i) % n]!;
        if (exclude.has(member) || (!allowDown && member.downUntil > now)) continue;
        this.next = (this.next + i + 1) % n;
        return member;
      }
    }
    const member = this.members[this.next % n]!;
    this.next = (this.next + 1) % n;
    return member;
  }

  /** `member` could not be reached: it leaves the turn for DOWN_MS. */
  down(member: M): void {
    member.downUntil = Date.now() + DOWN_MS;
  }

  close(): void {
    clearInterval(this.timer);
    for (const member of this.members) this.options.leave?.(member);
  }

  private async refresh(): Promise<void> {
    try {
      const found = await resolveReplicas(this.options.address, this.options.lookup ?? systemLookup);
      if (found.length === 0) return;
      const known = new Map(this.members.map((m) => [m.key, m]));
      const members = found.map((r) => known.get(replicaKey(r)) ?? this.options.join(replicaKey(r)));
      for (const old of this.members) if (!members.includes(old)) this.options.leave?.(old);
      this.members = members;
    } catch (error) {
      // Keep the replicas known so far: a failed lookup says nothing about them.
      this.options.log.warn({ err: error, address: this.options.address }, "replicas not looked up; keeping the last ones known");
    }
  }
}
