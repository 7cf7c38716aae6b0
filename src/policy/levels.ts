// Classification levels: an ordered list, lowest first. The lowest level means "not
// sensitive": a value at that level produces no finding.

export const DEFAULT_LEVELS = ['public', 'internal', 'confidential', 'restricted'] as const;

export class Levels {
  readonly names: readonly string[];
  private readonly rank: Map<string, number>;

  constructor(names: readonly string[]) {
    this.names = names;
    this.rank = new Map(names.map((n, i) => [n, i]));
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
