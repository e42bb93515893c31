/**
 * A local IAM Identity Center: the SSO Admin and Identity Store APIs on one port, speaking AWS
 * JSON 1.1 (POST /, `X-Amz-Target: SWBExternalService.<Op>` or `AWSIdentityStore.<Op>`), so the
 * real @aws-sdk clients can be tested on the wire. Every request is SigV4-verified and checked
 * against botocore's models (operation, required members, member types and constraints); the
 * answers are checked against the models too. Account assignments are made asynchronously, as at
 * AWS: a creation or deletion is IN_PROGRESS until polled (or until anything looks at the
 * assignments), then SUCCEEDED, or FAILED where a test says so.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { loadJsonModel, validateShape, type JsonModel } from './aws-json-model.ts';
import { expectedSignature, parseAuthorization } from './aws-sigv4.ts';
import { DEFAULT_ACCESS_KEY } from './iam-server.ts';
import { AwsJsonError, identityStore, ssoAdmin, SsoState } from './sso-operations.ts';

export { AwsJsonError };
export type SsoService = 'sso-admin' | 'identitystore';

const SERVICES: Record<string, { service: SsoService; namespace: string; signingName: string }> = {
  SWBExternalService: { service: 'sso-admin', namespace: 'com.amazonaws.swbexternalservice', signingName: 'sso' },
  AWSIdentityStore: { service: 'identitystore', namespace: 'com.amazonaws.identitystore', signingName: 'identitystore' },
};

export interface SsoRecordedRequest {
  service: SsoService | 'unknown';
  operation: string;
  input: Record<string, unknown>;
  accessKeyId?: string;
  at: Date;
  /** Filled once answered. */
  status?: number;
  errorCode?: string;
}

export interface SsoFailureSpec {
  status: number;
  code: string;
  message?: string;
}

export interface StartSsoServerOptions {
  /** The keys the server accepts (default: the IAM test server's, which the e2e harness exports). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Upper bound on a page, whatever MaxResults asks: tests use it to force pagination. */
  maxPageSize?: number;
  /** Status polls that still answer IN_PROGRESS before an assignment request completes (default 1). */
  pollsBeforeDone?: number;
  verifySignatures?: boolean;
}

type Predicate = (r: SsoRecordedRequest) => boolean;

export interface SsoTestServer extends SsoState {
  url: string;
  close(): Promise<void>;
  credentials: { accessKeyId: string; secretAccessKey: string };
  requests: SsoRecordedRequest[];
  /** Requests for one operation, in order. */
  calls(operation: string): SsoRecordedRequest[];
  /** The next `n` requests (matching `filter`, if given) fail. A bare status picks AWS's usual code. */
  failNext(n: number, failure?: number | SsoFailureSpec, filter?: Predicate): void;
  /** Every matching request fails until the returned function is called. */
  failWhen(predicate: Predicate, failure?: number | SsoFailureSpec): () => void;
  /**
   * Every matching request loses its answer until the returned function is called: the connection
   * is destroyed without a response. With `apply`, AWS carries the call out first.
   */
  dropWhen(predicate: Predicate, opts: { apply: boolean }): () => void;
  clearFailures(): void;
}

function failureFor(spec: number | SsoFailureSpec | undefined): SsoFailureSpec {
  if (typeof spec === 'object') return spec;
  const status = spec ?? 500;
  if (status === 400) return { status, code: 'ThrottlingException', message: 'Rate exceeded' };
  if (status === 403) return { status: 400, code: 'AccessDeniedException', message: 'User is not authorized to perform this action' };
  return { status, code: status >= 500 ? 'InternalServerException' : 'ValidationException', message: 'Injected failure' };
}

const operationOf = (target: string | undefined) => {
  const [prefix, operation] = (target ?? '').split('.');
  return { info: SERVICES[prefix ?? ''], operation: operation ?? '' };
};

export async function startSsoServer(opts: StartSsoServerOptions = {}): Promise<SsoTestServer> {
  const credentials = opts.credentials ?? DEFAULT_ACCESS_KEY;
  const keys = new Map([[credentials.accessKeyId, credentials.secretAccessKey]]);
  const verify = opts.verifySignatures ?? true;
  const requests: SsoRecordedRequest[] = [];
  const oneShot: Array<{ left: number; failure: SsoFailureSpec; filter?: Predicate }> = [];
  const standing = new Set<{ predicate: Predicate; failure: SsoFailureSpec }>();
  const drops = new Set<{ predicate: Predicate; apply: boolean }>();
  const state = new SsoState(opts);

  const injected = (rec: SsoRecordedRequest): SsoFailureSpec | undefined => {
    for (const f of standing) if (f.predicate(rec)) return f.failure;
    const i = oneShot.findIndex((f) => !f.filter || f.filter(rec));
    if (i < 0) return undefined;
    const f = oneShot[i]!;
    if (--f.left <= 0) oneShot.splice(i, 1);
    return f.failure;
  };

  const send = (res: ServerResponse, rec: SsoRecordedRequest, status: number, body: unknown, errorCode?: string) => {
    rec.status = status;
    if (errorCode) rec.errorCode = errorCode;
    res.writeHead(status, {
      'Content-Type': 'application/x-amz-json-1.1',
      'x-amzn-RequestId': randomUUID(),
      ...(errorCode ? { 'x-amzn-ErrorType': errorCode } : {}),
    });
    res.end(JSON.stringify(body));
  };
  const sendError = (res: ServerResponse, rec: SsoRecordedRequest, namespace: string, err: SsoFailureSpec) =>
    send(res, rec, err.status, { __type: `${namespace}#${err.code}`, Message: err.message ?? err.code }, err.code);

  const authenticate = (req: IncomingMessage, body: Buffer, rec: SsoRecordedRequest, signingName: string) => {
    const auth = parseAuthorization(req.headers.authorization);
    if (!auth) throw new AwsJsonError(400, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    rec.accessKeyId = auth.accessKeyId;
    const secret = keys.get(auth.accessKeyId);
    if (secret === undefined) throw new AwsJsonError(400, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    if (auth.service !== signingName) throw new AwsJsonError(400, 'InvalidSignatureException', `Credential should be scoped to correct service: '${signingName}'.`);
    if (verify && expectedSignature(req, body, auth, secret) !== auth.signature) {
      throw new AwsJsonError(400, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
    }
  };

  const run = (model: JsonModel, service: SsoService, operation: string, input: Record<string, unknown>): unknown => {
    const op = model.operations[operation];
    if (!op) throw new AwsJsonError(400, 'UnknownOperationException', `Unknown operation ${operation}`);
    const problems = op.input ? validateShape(model, op.input.shape, input) : [];
    if (problems.length) {
      throw new AwsJsonError(400, 'ValidationException', `${problems.length} validation error${problems.length === 1 ? '' : 's'} detected: ${problems.join('; ')}`);
    }
    const output = (service === 'sso-admin' ? ssoAdmin : identityStore)(state, operation, input);
    const wrong = op.output ? validateShape(model, op.output.shape, output) : [];
    if (wrong.length) throw new Error(`the test server's answer to ${operation} does not match the model: ${wrong.join('; ')}`);
    return output;
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const { info, operation } = operationOf(req.headers['x-amz-target'] as string | undefined);
    const rec: SsoRecordedRequest = { service: info?.service ?? 'unknown', operation, input: {}, at: new Date() };
    requests.push(rec);
    const namespace = info?.namespace ?? 'com.amazonaws.coral.service';
    try {
      if (req.method !== 'POST') throw new AwsJsonError(400, 'UnknownOperationException', `Method ${req.method} not allowed`);
      if (!info) throw new AwsJsonError(400, 'UnknownOperationException', `Unknown target ${String(req.headers['x-amz-target'])}`);
      if (req.headers['content-type'] !== 'application/x-amz-json-1.1') throw new AwsJsonError(400, 'SerializationException', `Content-Type must be application/x-amz-json-1.1`);
      authenticate(req, body, rec, info.signingName);
      try {
        rec.input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        throw new AwsJsonError(400, 'SerializationException', 'Start of structure or map found where not expected.');
      }
      const model = loadJsonModel(info.service);
      const drop = [...drops].find((d) => d.predicate(rec));
      if (drop) {
        rec.errorCode = 'ConnectionDropped';
        if (drop.apply) {
          try {
            run(model, info.service, operation, rec.input);
          } catch {
            // Refused or not: the client hears nothing either way.
          }
        }
        req.socket.destroy();
        return;
      }
      const failure = injected(rec);
      if (failure) return sendError(res, rec, namespace, failure);
      send(res, rec, 200, run(model, info.service, operation, rec.input));
    } catch (err) {
      if (err instanceof AwsJsonError) return sendError(res, rec, namespace, { status: err.status, code: err.code, message: err.message });
      sendError(res, rec, namespace, { status: 500, code: 'InternalServerException', message: (err as Error).message });
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
    credentials: { ...credentials },
    requests,
    calls: (operation: string) => requests.filter((r) => r.operation === operation),
    failNext(n: number, failure?: number | SsoFailureSpec, filter?: Predicate) {
      oneShot.push({ left: n, failure: failureFor(failure), ...(filter ? { filter } : {}) });
    },
    failWhen(predicate: Predicate, failure?: number | SsoFailureSpec) {
      const entry = { predicate, failure: failureFor(failure) };
      standing.add(entry);
      return () => void standing.delete(entry);
    },
    dropWhen(predicate: Predicate, o: { apply: boolean }) {
      const entry = { predicate, apply: o.apply };
      drops.add(entry);
      return () => void drops.delete(entry);
    },
    clearFailures() {
      oneShot.length = 0;
      standing.clear();
      drops.clear();
    },
  });
}
