// Vitest's asymmetric matchers, typed `unknown` instead of the `any` Vitest gives them
// (vitest-dev/vitest#7015): placed in an object of expected values, an `any` is what the
// type-aware lint (no-unsafe-assignment) rightly refuses elsewhere. Same matchers, same checks.

import { expect } from 'vitest';

export const anyOf = (constructor: unknown): unknown => expect.any(constructor);
export const matching = (pattern: string | RegExp): unknown => expect.stringMatching(pattern);
export const containing = (items: unknown[]): unknown => expect.arrayContaining(items);
