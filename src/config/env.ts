import { z } from 'zod';
import { isValidSigningKey } from '../evidence/checkpoint.ts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

const oktaOrgUrl = z.url().refine(
  (value) => {
    const url = new URL(value);
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
  },
  'must be https (plain http is accepted only for a loopback address such as http://127.0.0.1:PORT)',
);

const envSchema = z
  .object({
    SLACK_BOT_TOKEN: z.string().startsWith('xoxb-', 'a bot token starts with xoxb-'),
    SLACK_SIGNING_SECRET: z.string().min(1).optional(),
    SLACK_APP_TOKEN: z.string().startsWith('xapp-', 'an app-level token starts with xapp-').optional(),
    SLACK_API_URL: z.url().optional(),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
    DATA_DIR: z.string().min(1).default('./.data'),
    ACCESS_CONFIG: z.string().min(1).optional(),
    OKTA_ORG_URL: oktaOrgUrl.optional(),
    OKTA_API_TOKEN: z.string().min(1).optional(),
    AWS_REGION: z.string().min(1).default('us-east-1'),
    AWS_ENDPOINT_URL_IAM: z.url().optional(),
    AWS_ENDPOINT_URL_STS: z.url().optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    LEDGER_SIGNING_KEY: z
      .string()
      .min(1)
      .refine(isValidSigningKey, 'must be a base64 PKCS#8 DER Ed25519 private key (leave it unset and breakglass generates one at first start)')
      .optional(),
  })
  .superRefine((env, ctx) => {
    if (!env.SLACK_SIGNING_SECRET && !env.SLACK_APP_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['SLACK_SIGNING_SECRET'],
        message: 'set SLACK_SIGNING_SECRET (HTTP mode; Basic Information → Signing Secret) or SLACK_APP_TOKEN (Socket Mode)',
      });
    }
    if (Boolean(env.OKTA_ORG_URL) !== Boolean(env.OKTA_API_TOKEN)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.OKTA_ORG_URL ? 'OKTA_API_TOKEN' : 'OKTA_ORG_URL'],
        message: 'OKTA_ORG_URL and OKTA_API_TOKEN go together',
      });
    }
  });

export type Env = z.output<typeof envSchema>;

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`The environment is not usable:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'EnvError';
  }
}

/** Validates the environment; empty strings count as unset so `FOO=` in a .env file means "not given". */
export function readEnv(source: NodeJS.ProcessEnv): Env {
  return parseEnv(envSchema, source);
}

function parseEnv<T extends z.ZodType>(schema: T, source: NodeJS.ProcessEnv): z.output<T> {
  const present = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value !== ''));
  const result = schema.safeParse(present);
  if (result.success) return result.data;
  throw new EnvError(
    result.error.issues.map((issue) => {
      const name = issue.path.join('.');
      const missing = issue.code === 'invalid_type' && issue.input === undefined;
      // Never echo a value back: these are secrets.
      return `${name}: ${missing ? 'is not set' : issue.message}`;
    }),
  );
}

const cliEnvSchema = z.object({
  DATABASE_URL: envSchema.shape.DATABASE_URL,
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
