import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Vanta's documents API as its reference describes it (developer.vanta.com, Manage Vanta:
 * "Upload file for document" and the "Upload a document" guide): Bearer auth;
 * POST /v1/documents/{id}/uploads takes multipart/form-data with a required `file` part and
 * optional `effectiveAtDate` and `description`, and answers 201 with the file's metadata;
 * POST /v1/documents/{id}/submit sends the document for review. Every call is checked against
 * that shape; what does not fit is a violation and a 4xx, as Vanta would refuse it.
 */
export interface VantaUploadRecord {
  documentId: string;
  fileName: string;
  mimeType: string;
  content: Buffer;
  effectiveAtDate: string | null;
  description: string | null;
}

export class VantaServer {
  readonly uploads: VantaUploadRecord[] = [];
  readonly submitted: string[] = [];
  readonly violations: string[] = [];
  /** Answer the next N calls with 429 and Retry-After: 0. */
  throttleNext = 0;
  private server?: Server;

  constructor(readonly token: string, readonly documents: string[]) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(
        ({ status, body, headers }) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body === undefined ? '' : JSON.stringify(body)),
        (error: Error) => res.writeHead(500).end(JSON.stringify({ error: error.message })),
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/v1`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body?: unknown; headers?: Record<string, string> }> {
    const body = await readBody(req);
    const route = /^\/v1\/documents\/([^/]+)\/(uploads|submit)$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !route) return this.refuse(404, `no such operation: ${req.method} ${req.url}`);
    if (req.headers.authorization !== `Bearer ${this.token}`) return { status: 401, body: { error: 'Unauthorized' } };
    if (this.throttleNext > 0) {
      this.throttleNext--;
      return { status: 429, body: { error: 'Too many requests' }, headers: { 'retry-after': '0' } };
    }
    const documentId = decodeURIComponent(route[1]!);
    if (!this.documents.includes(documentId)) return { status: 404, body: { error: `Document ${documentId} not found` } };
    if (route[2] === 'submit') {
      this.submitted.push(documentId);
      return { status: 200, body: { id: documentId, uploadStatus: 'OK' } };
    }
    return this.upload(documentId, req, body);
  }

  private async upload(documentId: string, req: IncomingMessage, body: Buffer): Promise<{ status: number; body?: unknown }> {
    if (!/^multipart\/form-data; boundary=/.test(req.headers['content-type'] ?? '')) return this.refuse(415, `uploads must be multipart/form-data, got ${req.headers['content-type']}`);
    const form = await new Request('http://vanta.test/', { method: 'POST', headers: { 'content-type': req.headers['content-type']! }, body: new Uint8Array(body) }).formData();
    const file = form.get('file');
    if (!(file instanceof File)) return this.refuse(400, 'the required `file` part is missing');
    const unknown = [...form.keys()].filter((k) => !['file', 'effectiveAtDate', 'description'].includes(k));
    if (unknown.length > 0) return this.refuse(400, `unknown form fields: ${unknown.join(', ')}`);
    const effectiveAtDate = form.get('effectiveAtDate');
    if (typeof effectiveAtDate === 'string' && Number.isNaN(Date.parse(effectiveAtDate))) return this.refuse(400, `effectiveAtDate is not a date: ${effectiveAtDate}`);
    // Vanta stores a part sent as application/octet-stream as a blank document (its docs warn of it).
    if (!file.type || file.type === 'application/octet-stream') this.violations.push(`${file.name} was sent without its content type`);
    const record = { documentId, fileName: file.name, mimeType: file.type, content: Buffer.from(await file.arrayBuffer()), effectiveAtDate: typeof effectiveAtDate === 'string' ? effectiveAtDate : null, description: stringOrNull(form.get('description')) };
    this.uploads.push(record);
    const now = new Date().toISOString();
    return { status: 201, body: { id: String(this.uploads.length), fileName: file.name, title: file.name, description: record.description, url: null, creationDate: now, updatedDate: now, effectiveDate: record.effectiveAtDate, deletionDate: null, mimeType: file.type, uploadedBy: { id: 'api', type: 'APPLICATION' } } };
  }

  private refuse(status: number, why: string): { status: number; body: unknown } {
    this.violations.push(why);
    return { status, body: { error: why } };
  }
}

const stringOrNull = (value: FormDataEntryValue | null) => (typeof value === 'string' ? value : null);

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
