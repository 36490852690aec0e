import type { Collection, Db } from "mongodb";
import { isDuplicateKey } from "../clients/mongo.js";

interface ClaimDoc {
  _id: string;
  owner: string;
  at: Date;
}

/**
 * Claims "publish document X up to event N" by inserting `{_id: "<collection>:<X>:<N>"}`. A unique `_id` insert is
 * atomic on MongoDB and on FerretDB v1, whose conditional updates and findAndModify are not (measured: 2 of 20
 * concurrent findOneAndUpdate claims won). A claim older than the lease may be taken over (its holder died).
 */
/** The collection of the claims; services create it at startup with their own (see ensureCollections). */
export const OUTBOX_CLAIMS_COLLECTION = "outbox_claims";

export class OutboxClaims {
  private readonly claims: Collection<ClaimDoc>;
  private lastSweep = Date.now();

  constructor(
    db: Db,
    private readonly scope: string,
    private readonly owner: string,
    private readonly leaseMs: number,
  ) {
    this.claims = db.collection<ClaimDoc>(OUTBOX_CLAIMS_COLLECTION);
  }

  key(docId: string, seq: number): string {
    return `${this.scope}:${docId}:${seq}`;
  }

  async claim(docId: string, seq: number): Promise<boolean> {
    const _id = this.key(docId, seq);
    if (await this.insert(_id)) return true;
    const held = await this.claims.findOne({ _id });
    if (!held || held.at.getTime() > Date.now() - this.leaseMs) return false;
    await this.claims.deleteOne({ _id, owner: held.owner, at: held.at });
    return this.insert(_id);
  }

  /** Gives claims back after a failed send, so the next round (of any instance) retries at once. */
  async release(keys: string[]): Promise<void> {
    await this.claims.deleteMany({ _id: { $in: keys }, owner: this.owner }).catch(() => undefined);
  }

  /** Claims of published events only guard against stale reads; an hour later they can go (no TTL indexes). */
  async sweep(): Promise<void> {
    if (Date.now() - this.lastSweep < 60_000) return;
    this.lastSweep = Date.now();
    await this.claims.deleteMany({ at: { $lt: new Date(Date.now() - 3_600_000) } });
  }

  private async insert(_id: string): Promise<boolean> {
    try {
      await this.claims.insertOne({ _id, owner: this.owner, at: new Date() });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }
}
