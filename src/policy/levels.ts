// Classification levels: an ordered list, lowest first. The lowest level means "not
// sensitive": a value at that level produces no finding.

export const DEFAULT_LEVELS = ['public', 'internal', 'confidential', 'restricted'] as const;

/**
 * The level from which a value is never kept in clear in an audit record, named on the
 * default ladder. A policy with its own ladder says where it lands (detectors.levels).
 */
export const CLEAR_THRESHOLD_LEVEL = 'confidential';

export class Levels {
  readonly names: readonly string[];
  /**
   * Rank from which a value never appears in clear in an audit record: `confidential` on a
   * ladder that has it, else the level given (the policy's mapping of `confidential`), else
   * 1 (every level but the lowest: the strict choice when nothing says otherwise).
   */
  readonly clearRank: number;
  private readonly rank: Map<string, number>;

  constructor(names: readonly string[], clearFrom?: string) {
    this.names = names;
    this.rank = new Map(names.map((n, i) => [n, i]));
    const own = this.rank.get(CLEAR_THRESHOLD_LEVEL);
    const mapped = clearFrom !== undefined ? this.rank.get(clearFrom) : undefined;
    this.clearRank = Math.max(1, own ?? mapped ?? 1);
  }

  has(name: string): boolean {
    return this.rank.has(name);
  }

  /** Rank of a known level; a TypeError for an unknown one (compile-time checks catch those). */
  rankOf(name: string): number {
    const r = this.rank.get(name);
    if (r === undefined) throw new TypeError(`unknown level ${name}`);
    return r;
  }

  max(a: string, b: string): string {
    return this.rankOf(a) >= this.rankOf(b) ? a : b;
  }

  get lowest(): string {
    return this.names[0] as string;
  }
}
