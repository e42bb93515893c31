/**
 * Slack's Socket Mode, as the wire shows it: `apps.connections.open` (authenticated by the
 * app-level token, answering a WebSocket URL), then a WebSocket on which Slack sends `hello` and
 * envelopes `{ envelope_id, type, payload, accepts_response_payload }`, and the app acknowledges
 * each with `{ envelope_id, payload? }` (https://api.slack.com/apis/socket-mode). Attached to the
 * fake Slack Web API server, so the bot's one SLACK_API_URL serves both.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { SlackServer } from './slack-server.ts';

export const TEST_APP_TOKEN = 'xapp-1-A111-111-testapptoken';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface Ack {
  envelope_id: string;
  payload?: Record<string, unknown>;
}

export class SocketModeLink {
  readonly appToken: string;
  /** apps.connections.open calls, with whether the token was accepted. */
  readonly opens: Array<{ accepted: boolean }> = [];
  #wss = new WebSocketServer({ noServer: true });
  #socket: WebSocket | undefined;
  #acks = new Map<string, (ack: Ack) => void>();
  #ticket = 0;

  constructor(
    private readonly slack: SlackServer,
    appToken = TEST_APP_TOKEN,
  ) {
    this.appToken = appToken;
    slack.socketMode = { open: (token) => this.#open(token), upgrade: (req, socket, head) => this.#upgrade(req, socket, head) };
  }

  get connected(): boolean {
    return this.#socket?.readyState === 1;
  }

  /** Waits until the app holds an open connection (after `hello`). */
  async waitConnected(timeoutMs = 10_000): Promise<void> {
    await this.slack.waitFor(() => this.connected || undefined, timeoutMs, 'a Socket Mode connection');
  }

  /** Sends an envelope as Slack would and resolves with the app's acknowledgement. */
  async send(type: EnvelopeType, payload: Record<string, unknown>, timeoutMs = 3_000): Promise<Ack> {
    const socket = this.#socket;
    if (!socket || socket.readyState !== 1) throw new Error('no Socket Mode connection is open');
    const envelopeId = randomUUID();
    const acked = new Promise<Ack>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`envelope ${type} was not acknowledged within ${timeoutMs} ms (Slack's limit is 3 s)`)), timeoutMs);
      this.#acks.set(envelopeId, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
    });
    socket.send(JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: type !== 'events_api', retry_attempt: 0, retry_reason: '' }));
    return acked;
  }

  /** Drops the connection as Slack does when it rotates or has an incident. */
  drop(): void {
    this.#socket?.terminate();
  }

  close(): void {
    this.#socket?.terminate();
    this.#wss.close();
  }

  #open(token: string | undefined): Record<string, unknown> {
    const accepted = token === this.appToken;
    this.opens.push({ accepted });
    if (!accepted) return { ok: false, error: token?.startsWith('xapp-') ? 'invalid_auth' : 'not_allowed_token_type' };
    return { ok: true, url: `${this.slack.url.replace(/^http/, 'ws')}/link/?ticket=${++this.#ticket}&app_id=${this.slack.appId}` };
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!req.url?.startsWith('/link/')) {
      socket.destroy();
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#socket = ws;
      ws.on('message', (data) => {
        const ack = JSON.parse(String(data)) as Ack;
        this.#acks.get(ack.envelope_id)?.(ack);
        this.#acks.delete(ack.envelope_id);
      });
      ws.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'applink-test', build_number: 1, approximate_connection_time: 18060 }, connection_info: { app_id: this.slack.appId } }));
    });
  }
}
