/**
 * WebSocket frames (RFC 6455 §5): an incremental parser for the client's frames and the encoder of the
 * server's. The parser takes bytes in any split, unmasks them into the message as they arrive (no copy
 * of a frame is kept), reassembles fragmented messages, and refuses, by throwing a `WebSocketError`
 * carrying the close code to send:
 * - 1002: RSV bits set (no extension is negotiated), an unknown opcode, an unmasked frame (§5.1), a
 *   control frame fragmented or over 125 bytes (§5.5), a continuation with no message or a new message
 *   inside one (§5.4), a non-minimal or 64-bit-overflowing length (§5.2), a close frame with 1 byte or an
 *   invalid code (§7.4);
 * - 1007: a text message or close reason that is not valid UTF-8 (§8.1);
 * - 1009: a frame over `maxFrameBytes` or a message over `maxMessageBytes`, refused from its header, before
 *   its payload is read.
 */

/** Opcodes (RFC 6455 §5.2). */
export const CONTINUATION = 0x0;
export const TEXT = 0x1;
export const BINARY = 0x2;
export const CLOSE = 0x8;
export const PING = 0x9;
export const PONG = 0xa;

/** Close codes (RFC 6455 §7.4.1) xsdot sends. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_UNSUPPORTED = 1003;
/** Received as "no status code" (an empty close frame); never sent. */
export const CLOSE_NO_STATUS = 1005;
/** Reported when the connection ended without a close frame; never sent. */
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL_ERROR = 1011;

/** A WebSocket failure: a protocol error of the peer (parser), or the end of the connection (`receive()`). */
export class WebSocketError extends Error {
  // A class field, not an assignment: Moddable's preload freezes Error.prototype.
  override readonly name = 'WebSocketError';
  /** The close code (RFC 6455 §7.4.1). */
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export interface FrameLimits {
  /** Payload bytes of one frame. Over it: 1009. */
  maxFrameBytes: number;
  /** Payload bytes of one (reassembled) message. Over it: 1009. */
  maxMessageBytes: number;
}

/** What the parser hands on. Each payload is a new array the receiver may keep. */
export interface FrameSink {
  /** A whole message: text (valid UTF-8, still bytes) or binary. */
  onMessage(text: boolean, payload: Uint8Array): void;
  onPing(payload: Uint8Array): void;
  onPong(payload: Uint8Array): void;
  /** A close frame: its code (1005 when it had none) and reason (valid UTF-8 bytes). */
  onCloseFrame(code: number, reason: Uint8Array): void;
}

/** True for a close code a peer may send (RFC 6455 §7.4.1-2: 1000-1003, 1007-1014, 3000-4999). */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF, no truncated sequence. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const end = bytes.length;
  let i = 0;
  while (i < end) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let count: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) count = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      count = 2;
      if (b === 0xe0) low = 0xa0;
      else if (b === 0xed) high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      count = 3;
      if (b === 0xf0) low = 0x90;
      else if (b === 0xf4) high = 0x8f;
    } else return false;
    if (i + count >= end) return false;
    const second = bytes[i + 1];
    if (second < low || second > high) return false;
    for (let k = 2; k <= count; k++) {
      const next = bytes[i + k];
      if (next < 0x80 || next > 0xbf) return false;
    }
    i += count + 1;
  }
  return true;
}

/** The client's frames, parsed incrementally. One parser per connection; after a throw it takes nothing more. */
export class FrameParser {
  // Helpers are TypeScript-private, not #private: XS gives every instance a slot per #method.
  readonly #limits: FrameLimits;
  /** The frame header so far: 2 bytes, up to 8 of extended length, the 4-byte mask key. */
  readonly #head = new Uint8Array(14);
  #headLength = 0;
  /** Header bytes this frame has (known once its first 2 bytes are in). */
  #headNeed = 2;
  #opcode = 0;
  #fin = false;
  /** Payload bytes of the current frame still to come; -1 while reading a header. */
  #remaining = -1;
  /** Where the current frame's payload goes: a control frame's own array, or the message being assembled. */
  #target: Uint8Array | undefined;
  #at = 0;
  #maskIndex = 0;
  /** The message being assembled from fragments (its opcode TEXT or BINARY), and its bytes so far. */
  #message: Uint8Array | undefined;
  #messageOpcode = 0;
  #failed = false;

  constructor(limits: FrameLimits) {
    this.#limits = limits;
  }

  /** Parses `bytes` (any split), calling `sink` for each complete message and control frame. Throws WebSocketError. */
  push(bytes: Uint8Array, sink: FrameSink): void {
    if (this.#failed) return;
    try {
      this.parse(bytes, sink);
    } catch (error) {
      this.#failed = true;
      throw error;
    }
  }

  private parse(bytes: Uint8Array, sink: FrameSink): void {
    const end = bytes.length;
    let i = 0;
    while (i < end) {
      if (this.#remaining < 0) {
        const head = this.#head;
        while (i < end && this.#headLength < this.#headNeed) {
          head[this.#headLength++] = bytes[i++];
          if (this.#headLength === 2) this.startHeader();
        }
        if (this.#headLength < this.#headNeed) return;
        this.endHeader();
        if (this.#remaining === 0) this.endFrame(sink);
        continue;
      }
      const target = this.#target as Uint8Array;
      const head = this.#head;
      const maskAt = this.#headNeed - 4;
      const take = Math.min(end - i, this.#remaining);
      let at = this.#at;
      let m = this.#maskIndex;
      for (let k = 0; k < take; k++) target[at++] = bytes[i++] ^ head[maskAt + (m++ & 3)];
      this.#at = at;
      this.#maskIndex = m;
      this.#remaining -= take;
      if (this.#remaining === 0) this.endFrame(sink);
    }
  }

  /** The first two header bytes: flags, opcode, mask bit and the 7-bit length. */
  private startHeader(): void {
    const b0 = this.#head[0];
    const b1 = this.#head[1];
    if ((b0 & 0x70) !== 0) throw new WebSocketError(CLOSE_PROTOCOL_ERROR, 'RSV bits set without a negotiated extension');
    const opcode = b0 & 0x0f;
    this.#fin = (b0 & 0x80) !== 0;
    if (opcode >= CLOSE) {
      if (opcode > PONG) throw new WebSocketError(CLOSE_PROTOCOL_ERROR, `unknown opcode ${opcode}`);
      if (!this.#fin) throw new WebSocketError(CLOSE_PROTOCOL_ERROR, 'fragmented control frame');
      if ((b1 & 0x7f) > 125) throw new WebSocketError(CLOSE_PROTOCOL_ERROR, 'control frame over 125 bytes');
    } else if (opcode > BINARY) {
      throw new WebSocketError(CLOSE_PROTOCOL_ERROR, `unknown opcode ${opcode}`);
    } else if (opcode === CONTINUATION ? this.#message === undefined : this.#message !== undefined) {
      throw new WebSocketError(CLOSE_PROTOCOL_ERROR, opcode === CONTINUATION ? 'continuation frame without a message' : 'new message before the last one ended');
    }
    if ((b1 & 0x80) === 0) throw new WebSocketError(CLOSE_PROTOCOL_ERROR, 'unmasked client frame');
    this.#opcode = opcode;
    const length7 = b1 & 0x7f;
    this.#headNeed = 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + 4;
  }

  /** The whole header is in: the payload length (checked against the limits) and where it goes. */
  private endHeader(): void {
    const head = this.#head;
    const length7 = head[1] & 0x7f;
    let length = length7;
    if (length7 === 126) {
      length = (head[2] << 8) | head[3];
      if (length < 126) throw new WebSocketError(CLOSE_PROTOCOL_ERROR, 'non-minimal payload length');
    } else if (length7 === 127) {
      if (head[2] & 0x80) throw new WebSocketError(CLOSE_PROTOCOL_ERROR, 'payload length over 2^63');
      // Anything over 2^32 is over every limit: its high word need not be exact.
      const high = ((head[2] << 24) | (head[3] << 16) | (head[4] << 8) | head[5]) >>> 0;
      const low = ((head[6] << 24) | (head[7] << 16) | (head[8] << 8) | head[9]) >>> 0;
      length = high > 0 ? Infinity : low;
      if (length < 65536) throw new WebSocketError(CLOSE_PROTOCOL_ERROR, 'non-minimal payload length');
    }
    const limits = this.#limits;
    if (length > limits.maxFrameBytes) throw new WebSocketError(CLOSE_TOO_BIG, `frame over maxFrameBytes (${limits.maxFrameBytes})`);
    if (this.#opcode >= CLOSE) {
      this.#target = new Uint8Array(length);
      this.#at = 0;
    } else {
      const before = this.#message === undefined ? 0 : this.#message.length;
      if (before + length > limits.maxMessageBytes) throw new WebSocketError(CLOSE_TOO_BIG, `message over maxMessageBytes (${limits.maxMessageBytes})`);
      if (this.#opcode !== CONTINUATION) this.#messageOpcode = this.#opcode;
      // The message grows by exactly this frame: a new array, the fragments so far copied once.
      const message = new Uint8Array(before + length);
      if (this.#message !== undefined) message.set(this.#message, 0);
      this.#message = message;
      this.#target = message;
      this.#at = before;
    }
    this.#remaining = length;
    this.#maskIndex = 0;
  }

  private endFrame(sink: FrameSink): void {
    const opcode = this.#opcode;
    const payload = this.#target as Uint8Array;
    this.#target = undefined;
    this.#remaining = -1;
    this.#headLength = 0;
    this.#headNeed = 2;
    if (opcode === PING) sink.onPing(payload);
    else if (opcode === PONG) sink.onPong(payload);
    else if (opcode === CLOSE) {
      if (payload.length === 1) throw new WebSocketError(CLOSE_PROTOCOL_ERROR, 'close frame with a 1-byte payload');
      const code = payload.length === 0 ? CLOSE_NO_STATUS : (payload[0] << 8) | payload[1];
      if (payload.length > 0 && !isValidCloseCode(code)) throw new WebSocketError(CLOSE_PROTOCOL_ERROR, `invalid close code ${code}`);
      const reason = payload.subarray(Math.min(2, payload.length));
      if (!isValidUtf8(reason)) throw new WebSocketError(CLOSE_INVALID_DATA, 'close reason is not UTF-8');
      sink.onCloseFrame(code, reason);
    } else if (this.#fin) {
      const message = this.#message as Uint8Array;
      const text = this.#messageOpcode === TEXT;
      this.#message = undefined;
      if (text && !isValidUtf8(message)) throw new WebSocketError(CLOSE_INVALID_DATA, 'text message is not UTF-8');
      sink.onMessage(text, message);
    }
  }
}

/** One unfragmented, unmasked server frame (§5.2): 2, 4 or 10 header bytes and the payload, in one array. */
export function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const length = payload.length;
  const headLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = new Uint8Array(headLength + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) frame[1] = length;
  else if (length < 65536) {
    frame[1] = 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 127;
    // Payloads here are bounded far below 2^32: the high word is 0.
    frame[6] = length >>> 24; frame[7] = length >>> 16; frame[8] = length >>> 8; frame[9] = length & 0xff;
  }
  frame.set(payload, headLength);
  return frame;
}

/** A close frame's payload: the code, then the reason's UTF-8 (cut to fit the 125-byte control frame). */
export function closePayload(code: number, reason: Uint8Array): Uint8Array {
  let length = Math.min(reason.length, 123);
  // Cut at a character boundary: a continuation byte (10xxxxxx) never starts the cut-off rest.
  while (length < reason.length && length > 0 && (reason[length] & 0xc0) === 0x80) length--;
  const payload = new Uint8Array(2 + length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reason.subarray(0, length), 2);
  return payload;
}
