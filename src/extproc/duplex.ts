// Envoy's FULL_DUPLEX_STREAMED body mode, in front of an Exchange. In that mode Envoy sends
// a side's headers and body chunks without waiting for answers, so a protected call costs
// one round trip per side instead of two (headers, then body). callguard judges a JSON
// body whole, so a side it inspects is gathered here and handed to the exchange as one
// buffered body; the answers go back in the order Envoy requires (headers, body as a
// StreamedBodyResponse, trailers), and the headers answer is held until the body is judged:
// nothing of a refused request reaches the upstream, not even its headers. A side the
// exchange passes through or streams (SSE) goes chunk by chunk.
//
// In BUFFERED mode (the first message's protocol_config says which), messages go to the
// exchange one to one, as before.

import type { Direction } from '../policy/types.js';
import type { Exchange } from './exchange.js';
import type {
  BodyResponse,
  CommonResponse,
  HeaderMutation,
  HttpBody,
  ProcessingRequest,
  ProcessingResponse,
} from './protos.js';

interface DuplexSide {
  /** Envoy streams this side's body (FULL_DUPLEX_STREAMED). */
  duplex: boolean;
  /** The headers answer, held until the gathered body is judged. */
  held?: ProcessingResponse;
  /** Gathered body chunks of a side the exchange inspects whole. */
  chunks: Buffer[];
  size: number;
}

const EMPTY = Buffer.alloc(0);

export class DuplexFlow {
  private readonly sides: Record<Direction, DuplexSide> = {
    request: { duplex: false, chunks: [], size: 0 },
    response: { duplex: false, chunks: [], size: 0 },
  };
  private configured = false;
  /** An immediate response went out: Envoy is done with this stream. */
  private ended = false;

  constructor(
    private readonly exchange: Exchange,
    private readonly maxBodyBytes: number,
  ) {}

  /** The answers to one message from Envoy, in order; none while a body is being gathered. */
  async handle(
    msg: ProcessingRequest,
    interim: (r: ProcessingResponse) => void,
  ): Promise<ProcessingResponse[]> {
    if (!this.configured) {
      // Only the stream's first message carries the protocol configuration.
      this.configured = true;
      const pc = msg.protocol_config;
      this.sides.request.duplex = pc?.request_body_mode === 'FULL_DUPLEX_STREAMED';
      this.sides.response.duplex = pc?.response_body_mode === 'FULL_DUPLEX_STREAMED';
    }
    if (this.ended) return [];
    let answers: ProcessingResponse[];
    try {
      answers = await this.route(msg, interim);
    } catch (e) {
      answers = [this.exchange.refuse(e)]; // fail closed, as the exchange does
    }
    if (answers.some((a) => a.immediate_response)) this.ended = true;
    return answers;
  }

  private async route(
    msg: ProcessingRequest,
    interim: (r: ProcessingResponse) => void,
  ): Promise<ProcessingResponse[]> {
    if (msg.request_headers)
      return this.onHeaders('request', msg, msg.request_headers.end_of_stream, interim);
    if (msg.response_headers)
      return this.onHeaders('response', msg, msg.response_headers.end_of_stream, interim);
    if (msg.request_body) return this.onBody('request', msg.request_body, interim);
    if (msg.response_body) return this.onBody('response', msg.response_body, interim);
    const direction: Direction = msg.request_trailers ? 'request' : 'response';
    const side = this.sides[direction];
    if (!side.duplex || side.held === undefined) {
      return [await this.exchange.handle(msg, interim)];
    }
    // Trailers end a gathered body: judge it, then answer the trailers after it.
    const before = await this.finishGathered(direction, false, interim);
    if (before.some((a) => a.immediate_response)) return before;
    return [...before, await this.exchange.handle(msg, interim)];
  }

  private async onHeaders(
    direction: Direction,
    msg: ProcessingRequest,
    endOfStream: boolean | undefined,
    interim: (r: ProcessingResponse) => void,
  ): Promise<ProcessingResponse[]> {
    const side = this.sides[direction];
    // A header-only call held for approval waits here (its timer extended by interim).
    const answer = await this.exchange.handle(msg, interim);
    if (!side.duplex || endOfStream || answer.immediate_response) return [answer];
    // Envoy may already have sent body chunks: a mode override would race with them.
    delete answer.mode_override;
    if (this.exchange.bodyPlan(direction) !== 'gather') return [answer];
    side.held = answer;
    return [];
  }

  private async onBody(
    direction: Direction,
    m: HttpBody,
    interim: (r: ProcessingResponse) => void,
  ): Promise<ProcessingResponse[]> {
    const side = this.sides[direction];
    const key = direction === 'request' ? 'request_body' : 'response_body';
    if (!side.duplex) return [await this.exchange.handle({ [key]: m }, interim)];
    const chunk = m.body ?? EMPTY;
    if (side.held === undefined) {
      // Passed through or streamed: each chunk is answered as it comes.
      const answer = await this.exchange.handle({ [key]: m }, interim);
      if (answer.immediate_response) return [answer];
      return [streamed(key, answer[key], chunk, m.end_of_stream === true)];
    }
    side.chunks.push(chunk);
    side.size += chunk.length;
    if (side.size > this.maxBodyBytes) {
      // The exchange refuses it (body_too_large) and records why; nothing more is gathered.
      return this.finishGathered(direction, true, interim);
    }
    if (!m.end_of_stream) return [];
    return this.finishGathered(direction, true, interim);
  }

  /** Judges a gathered body: the held headers answer, then the body, or a refusal alone. */
  private async finishGathered(
    direction: Direction,
    endOfStream: boolean,
    interim: (r: ProcessingResponse) => void,
  ): Promise<ProcessingResponse[]> {
    const side = this.sides[direction];
    const key = direction === 'request' ? 'request_body' : 'response_body';
    const body = side.chunks.length === 1 ? side.chunks[0]! : Buffer.concat(side.chunks, side.size);
    side.chunks = [];
    const answer = await this.exchange.handle({ [key]: { body, end_of_stream: true } }, interim);
    if (answer.immediate_response) return [answer];
    const held = side.held as ProcessingResponse;
    side.held = undefined;
    const judged = answer[key]?.response;
    const headersKey = direction === 'request' ? 'request_headers' : 'response_headers';
    const headers = held[headersKey] ?? {};
    // The body answer's header changes (content-length, content-encoding) go with the headers.
    if (judged?.header_mutation) {
      headers.response = {
        ...headers.response,
        header_mutation: merge(headers.response?.header_mutation, judged.header_mutation),
      };
    }
    return [{ ...held, [headersKey]: headers }, streamed(key, answer[key], body, endOfStream)];
  }
}

/** A buffered-mode body answer as the StreamedBodyResponse FULL_DUPLEX_STREAMED requires. */
function streamed(
  key: 'request_body' | 'response_body',
  answer: BodyResponse | undefined,
  original: Buffer,
  endOfStream: boolean,
): ProcessingResponse {
  const r: CommonResponse | undefined = answer?.response;
  let body: Uint8Array = original;
  if (r?.status === 'CONTINUE_AND_REPLACE' && r.body_mutation) {
    body = r.body_mutation.clear_body ? EMPTY : (r.body_mutation.body ?? original);
  }
  return {
    [key]: {
      response: { body_mutation: { streamed_response: { body, end_of_stream: endOfStream } } },
    },
  };
}

function merge(a: HeaderMutation | undefined, b: HeaderMutation): HeaderMutation {
  return {
    set_headers: [...(a?.set_headers ?? []), ...(b.set_headers ?? [])],
    remove_headers: [...(a?.remove_headers ?? []), ...(b.remove_headers ?? [])],
  };
}
