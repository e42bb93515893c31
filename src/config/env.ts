import { z } from 'zod';
import { isValidSigningKey } from '../ledger/checkpoint.ts';
import { providerEnv, providerEnvHints, providerEnvProblems } from '../providers/registry.ts';

/**
 * A Slack token as Slack issues it: the prefix, then ASCII letters, digits and dashes. A copied
 * placeholder (`xoxb-…`, with the ellipsis character) used to pass and then read as "Slack is unreachable".
 */
const slackToken = (prefix: string, what: string) =>
  z.string().superRefine((value, ctx) => {
    if (!value.startsWith(prefix)) ctx.addIssue({ code: 'custom', message: `${what} starts with ${prefix}` });
    else if (!/^[A-Za-z0-9-]+$/.test(value.slice(prefix.length))) {
      ctx.addIssue({ code: 'custom', message: `${what} is ${prefix} followed by letters, digits and dashes; this looks like a placeholder (such as ${prefix}…) or a partial copy` });
    }
  });

const envSchema = z.object({
  SLACK_BOT_TOKEN: slackToken('xoxb-', 'a bot token'),
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  SLACK_APP_TOKEN: slackToken('xapp-', 'an app-level token').optional(),
  SLACK_API_URL: z.url().optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DATABASE_MIGRATION_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  ACCESS_CONFIG: z.string().min(1).optional(),
  ...providerEnv,
  /** On-call auto-approval (access.yml auto_approve.pagerduty): a REST API key, read-only is enough. */
  PAGERDUTY_API_TOKEN: z.string().min(1).optional(),
  PAGERDUTY_API_URL: z.url().default('https://api.pagerduty.com'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LEDGER_SIGNING_KEY: z
    .string()
    .min(1)
    .refine(isValidSigningKey, 'must be a base64 PKCS#8 DER Ed25519 private key (leave it unset and breakglass generates one at first start)')
    .optional(),
});

/**
 * Settings that only make sense together. Checked on the raw values, beside the schema, so a
 * missing pair is reported in the same run as every other mistake (zod skips refinements of an
 * object that already failed).
 */
function pairingProblems(present: Record<string, string | undefined>): Array<{ name: string; message: string }> {
  const problems: Array<{ name: string; message: string }> = [];
  if (!present.SLACK_SIGNING_SECRET && !present.SLACK_APP_TOKEN) {
    problems.push({ name: 'SLACK_SIGNING_SECRET', message: 'set SLACK_SIGNING_SECRET (HTTP mode; Basic Information → Signing Secret) or SLACK_APP_TOKEN (Socket Mode)' });
  }
  if (present.DATABASE_MIGRATION_URL && !present.DATABASE_URL) {
    problems.push({ name: 'DATABASE_MIGRATION_URL', message: 'DATABASE_MIGRATION_URL needs DATABASE_URL (the role the bot runs as); unset it for the embedded database' });
  }
  return [...problems, ...providerEnvProblems(present)];
}

export type Env = z.output<typeof envSchema> & {
  /** Every variable given, for settings access.yml names by variable (a PostgreSQL resource's admin URL). Secrets: never log. */
  variables: Readonly<Record<string, string>>;
};

/** Where each setting comes from, appended to its error so the message names the fix. */
const WHERE_FROM: Record<string, string> = {
  SLACK_BOT_TOKEN: "your Slack app's OAuth & Permissions → Bot User OAuth Token (xoxb-…); see README, Creating the Slack app",
  SLACK_SIGNING_SECRET: "your Slack app's Basic Information → App Credentials → Signing Secret",
  SLACK_APP_TOKEN: "your Slack app's Basic Information → App-Level Tokens, with the connections:write scope (xapp-…)",
  SLACK_API_URL: 'leave it unset for Slack itself; e.g. https://slack-gov.com/api/ for GovSlack',
  PORT: 'a TCP port number such as 3000',
  HOST: 'the address to listen on, e.g. 127.0.0.1 behind a reverse proxy; unset listens on every interface',
  DATABASE_MIGRATION_URL: "a postgres:// URL for the role that owns breakglass's tables; DATABASE_URL then names the bot's own role",
  DATABASE_URL: 'e.g. postgres://breakglass@db.internal:5432/breakglass, or unset for the embedded database in DATA_DIR',
  ...providerEnvHints,
  PAGERDUTY_API_TOKEN: 'PagerDuty → Integrations → API Access Keys (a read-only key is enough)',
  PAGERDUTY_API_URL: 'leave it unset for https://api.pagerduty.com; https://api.eu.pagerduty.com for the EU service region',
  LEDGER_SIGNING_KEY: 'openssl genpkey -algorithm ed25519 -outform DER | base64 -w0',
};

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`The environment is not usable:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'EnvError';
  }
}

/** Validates the environment; empty strings count as unset so `FOO=` in a .env file means "not given". */
export function readEnv(source: NodeJS.ProcessEnv): Env {
  return { ...parseEnv(envSchema, source, pairingProblems), variables: present(source) };
}

const present = (source: NodeJS.ProcessEnv): Record<string, string> =>
  Object.fromEntries(Object.entries(source).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));

function parseEnv<T extends z.ZodType>(schema: T, source: NodeJS.ProcessEnv, together: typeof pairingProblems = () => []): z.output<T> {
  const given = present(source);
  const result = schema.safeParse(given);
  const problems = [
    ...(result.success ? [] : result.error.issues.map((issue) => ({ name: issue.path.join('.'), message: issue.message, missing: !(issue.path.join('.') in given), hinted: false }))),
    // These messages already say what to set.
    ...together(given).map((p) => ({ ...p, missing: false, hinted: true })),
  ];
  if (problems.length === 0 && result.success) return result.data;
  throw new EnvError(
    problems.map(({ name, message, missing, hinted }) => {
      // Never echo a value back: these are secrets.
      const hint = hinted ? undefined : WHERE_FROM[name];
      return `${name}: ${missing ? 'is not set' : message}${hint ? ` (${hint})` : ''}`;
    }),
  );
}

const cliEnvSchema = z.object({
  DATABASE_URL: envSchema.shape.DATABASE_URL,
  DATABASE_MIGRATION_URL: envSchema.shape.DATABASE_MIGRATION_URL,
  DATA_DIR: envSchema.shape.DATA_DIR,
  ACCESS_CONFIG: z.string().min(1).default('./access.yml'),
  /** Only its public half is used: to pin checkpoints to the bot's own key. */
  LEDGER_SIGNING_KEY: envSchema.shape.LEDGER_SIGNING_KEY,
});

export type CliEnv = z.output<typeof cliEnvSchema>;

/** The CLI needs only the database (and access.yml for some commands), never Slack's secrets. */
export function readCliEnv(source: NodeJS.ProcessEnv): CliEnv {
  return parseEnv(cliEnvSchema, source);
}
