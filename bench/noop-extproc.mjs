// A no-op ext_proc server: the same Node, grpc-js and protos as callguard (dist/extproc/
// protos.js), answering every message at once and changing nothing. The data path bench puts
// it behind the shipped Envoy config in callguard's place, so that what the ext_proc protocol
// itself costs (Envoy's side stream, HTTP/2, protobuf, a Node gRPC server) is measured apart
// from what callguard's work adds. Plain ESM JavaScript so that it runs as its own process
// (its CPU time is its own) with nothing but `node`. Usage: node bench/noop-extproc.mjs PORT

import { Buffer } from 'node:buffer';
import process from 'node:process';
import * as grpc from '@grpc/grpc-js';
import { loadServices } from '../dist/extproc/protos.js';

const port = process.argv[2];
const EMPTY = Buffer.alloc(0);

/** The answer that lets one message through unchanged (BUFFERED, or headers). */
function pass(msg) {
  for (const k of ['request_headers', 'response_headers', 'request_body', 'response_body'])
    if (msg[k]) return { [k]: { response: {} } };
  return msg.request_trailers ? { request_trailers: {} } : { response_trailers: {} };
}

/**
 * FULL_DUPLEX_STREAMED, as callguard answers a side it inspects: the headers answer is held
 * until the body has arrived, then both go back, the body as one StreamedBodyResponse.
 */
function duplex() {
  const held = {};
  const chunks = { request: [], response: [] };
  return (msg) => {
    for (const side of ['request', 'response']) {
      const h = msg[`${side}_headers`];
      if (h) {
        if (h.end_of_stream) return [pass(msg)];
        held[side] = { [`${side}_headers`]: { response: {} } };
        return [];
      }
      const b = msg[`${side}_body`];
      if (b) {
        chunks[side].push(b.body ?? EMPTY);
        if (!b.end_of_stream) return [];
        const body = Buffer.concat(chunks[side]);
        const streamed = { streamed_response: { body, end_of_stream: true } };
        return [held[side], { [`${side}_body`]: { response: { body_mutation: streamed } } }];
      }
    }
    return [pass(msg)];
  };
}

const server = new grpc.Server();
server.addService(loadServices().extProc, {
  Process(call) {
    let answer;
    call.on('data', (msg) => {
      answer ??=
        msg.protocol_config?.request_body_mode === 'FULL_DUPLEX_STREAMED'
          ? duplex()
          : (m) => [pass(m)];
      for (const a of answer(msg)) call.write(a);
    });
    call.on('end', () => call.end());
  },
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  console.log('no-op ext_proc listening');
});
