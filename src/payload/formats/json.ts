// Plain JSON function endpoints: the whole body is the one call (request) or result
// (response) of the route's function, whose name the payload does not carry.

import type { FormatAdapter } from './types.js';

export const jsonAdapter: FormatAdapter = {
  name: 'json',
  scan(root, direction) {
    return {
      calls: [
        {
          name: undefined,
          path: '',
          args: root,
          encoded: false,
          kind: direction === 'request' ? 'call' : 'result',
        },
      ],
      skip: [],
      names: new Map(),
    };
  },
};
