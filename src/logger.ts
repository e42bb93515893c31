import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Secrets must never reach a log line: tokens, signing secrets and keys are redacted wherever
 * they appear in structured fields, and error messages from the SDKs are logged without headers.
 */
const REDACT = [
  'token',
  '*.token',
  'botToken',
  '*.botToken',
  'signingSecret',
  '*.signingSecret',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  '*.config.headers',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'OKTA_API_TOKEN',
  'LEDGER_SIGNING_KEY',
  'DATABASE_URL',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { app: 'breakglass' } }, destination as never);
}
