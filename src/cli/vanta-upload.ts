/**
 * Vanta's documents API (Manage Vanta, developer.vanta.com "Upload a document"): each file is a
 * `multipart/form-data` POST to /documents/{id}/uploads, then one POST to /documents/{id}/submit
 * sends the document for review. Node's own fetch and FormData speak it; Vanta has no SDK for Node.
 */
export const VANTA_API_URL = 'https://api.vanta.com/v1';

export interface VantaFile {
  name: string;
  type: 'text/csv' | 'application/pdf';
  content: Buffer;
}

export interface VantaUpload {
  documentId: string;
  token: string;
  baseUrl?: string | undefined;
  files: VantaFile[];
  description: string;
  effectiveAt: Date;
  onProgress?: (message: string) => void;
}

export class VantaError extends Error {}

/** Uploads every file, then submits the document. Returns Vanta's id for each uploaded file. */
export async function uploadToVanta(upload: VantaUpload): Promise<Array<{ name: string; id: string }>> {
  const document = `${(upload.baseUrl ?? VANTA_API_URL).replace(/\/+$/, '')}/documents/${encodeURIComponent(upload.documentId)}`;
  const uploaded: Array<{ name: string; id: string }> = [];
  for (const file of upload.files) {
    upload.onProgress?.(`uploading ${file.name} (${file.content.length} bytes) to Vanta document ${upload.documentId}…`);
    const form = new FormData();
    // A Blob with its type: without it Vanta stores the CSV as application/octet-stream (a blank document).
    form.append('file', new Blob([new Uint8Array(file.content)], { type: file.type }), file.name);
    form.append('effectiveAtDate', upload.effectiveAt.toISOString());
    form.append('description', upload.description);
    const answer = await call(`${document}/uploads`, upload.token, form, `uploading ${file.name}`);
    uploaded.push({ name: file.name, id: String((answer as { id?: unknown } | undefined)?.id ?? '') });
  }
  upload.onProgress?.(`submitting Vanta document ${upload.documentId} for review…`);
  await call(`${document}/submit`, upload.token, undefined, 'submitting the document');
  return uploaded;
}

const ATTEMPTS = 3;

async function call(url: string, token: string, body: FormData | undefined, doing: string): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, body, signal: AbortSignal.timeout(60_000) });
    } catch (error) {
      throw new VantaError(`${doing}: Vanta could not be reached (${(error as Error).message}); nothing after this step was sent`);
    }
    // Only a 429 is certain to have changed nothing, so only it is tried again: a repeated upload
    // after a 5xx could leave the file twice on the document.
    if (response.status === 429 && attempt < ATTEMPTS) {
      await sleep(retryAfterMs(response.headers.get('retry-after')));
      continue;
    }
    const text = await response.text();
    if (!response.ok) throw new VantaError(`${doing}: ${refusal(response.status, text)}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  }
}

function refusal(status: number, text: string): string {
  const said = text.slice(0, 300).replace(/\s+/g, ' ').trim();
  if (status === 401) return 'Vanta refused the token (401): VANTA_API_TOKEN is missing, expired (tokens last one hour) or not a Manage Vanta token';
  if (status === 403) return 'the token lacks a scope (403): it needs vanta-api.all:write and vanta-api.documents:upload';
  if (status === 404) return 'Vanta has no such document (404): copy the id from the document\'s URL in Vanta, e.g. access-reviews';
  return `Vanta answered ${status}${said ? `: ${said}` : ''}`;
}

function retryAfterMs(header: string | null): number {
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 30) * 1000 : 2_000;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
