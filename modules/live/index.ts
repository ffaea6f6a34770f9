/**
 * xsdot's live connections: Server-Sent Events and WebSocket (RFC 6455). A separate import
 * (`xsdot/live`): an app that does not use them loads and allocates none of this.
 */
export { eventStream, EventStream, formatEvent, withSSE, SSE_DEFAULTS, type EventInit, type EventOptions, type SSEOptions } from './sse';
export {
  acceptKey, acceptWebSocket, withWebSocket, WebSocket, WEBSOCKET_DEFAULTS, CONNECTING, OPEN, CLOSING, CLOSED,
  type Message, type WebSocketHandler, type WebSocketOptions,
} from './websocket';
export { sleep } from './sleep';
export { WebSocketError, FrameParser, encodeFrame, isValidUtf8, type FrameLimits, type FrameSink } from './frames';
