import { readFileSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { loadReviewReport } from '../reports/review/review-report.ts';
import { vantaAccessFile } from '../reports/export/vanta-access-file.ts';
import { systemClock } from '../ports.ts';
import { campaignId, withDatabase } from './context.ts';
import { uploadToVanta, type VantaFile } from './vanta-upload.ts';

const documentId = (text: string) => {
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(text)) throw new InvalidArgumentError(`"${text}" is not a Vanta document id (the part after /documents/ in its URL, e.g. access-reviews)`);
  return text;
};

interface VantaOptions {
  campaign: number;
  resource?: string;
  out?: string;
  company?: string;
  upload?: string;
  report?: string;
}

export function exportCommand(): Command {
  const command = new Command('export').description('evidence in the formats compliance platforms take');
  command
    .command('vanta')
    .description("an access review campaign as Vanta's Access File CSV; with --upload, sent to a Vanta document with the report PDF and submitted")
    .requiredOption('--campaign <id>', 'the access review campaign', campaignId)
    .option('--resource <name>', 'only this resource (Vanta reviews one system per file); default: every resource of the campaign, as roles')
    .option('--out <file>', 'write the CSV here (default: standard output, unless --upload)')
    .option('--company <name>', 'your company, for the file name Vanta expects ("Access File - <company> - <system>.csv")')
    .option('--upload <document-id>', 'upload to this Vanta document (needs VANTA_API_TOKEN) and submit it')
    .option('--report <pdf>', "the audit pack's report.pdf to upload with it")
    .action(async (options: VantaOptions) => exportVanta(options));
  return command;
}

async function exportVanta(options: VantaOptions): Promise<void> {
  const token = process.env.VANTA_API_TOKEN;
  if (options.upload && !token) throw new Error('--upload needs VANTA_API_TOKEN: a Manage Vanta token with the scopes vanta-api.all:write and vanta-api.documents:upload');
  const pdf = options.report ? readReport(options.report) : undefined;
  const file = await withDatabase(async ({ db }) => {
    const report = await loadReviewReport(db, { campaignId: options.campaign, now: systemClock.now() });
    if (!report) throw new Error(`there is no access review #${options.campaign}`);
    if (options.resource && !report.campaign.scope.includes(options.resource)) {
      throw new Error(`access review #${options.campaign} did not review "${options.resource}"; it covers ${report.campaign.scope.join(', ')}`);
    }
    return vantaAccessFile(report, { resource: options.resource, company: options.company });
  });
  if (options.out) writeFileSync(options.out, file.csv);
  else if (!options.upload) process.stdout.write(file.csv);
  const summary = `${file.accounts} account(s) from ${file.lines} review line(s) of access review #${options.campaign}`;
  if (!options.upload) {
    if (options.out) process.stderr.write(`Wrote ${summary} to ${options.out}\n`);
    return;
  }
  const files: VantaFile[] = [{ name: file.filename, type: 'text/csv', content: Buffer.from(file.csv) }, ...(pdf ? [pdf] : [])];
  const uploaded = await uploadToVanta({
    documentId: options.upload,
    token: token!,
    baseUrl: process.env.VANTA_API_URL,
    files,
    description: `breakglass access review #${options.campaign}`,
    effectiveAt: systemClock.now(),
    onProgress: (message) => process.stderr.write(`${message}\n`),
  });
  process.stdout.write(`Uploaded ${uploaded.map((u) => `${u.name} (Vanta file ${u.id})`).join(' and ')} to Vanta document ${options.upload} and submitted it: ${summary}.\n`);
  if (!pdf) process.stdout.write('No report PDF was sent: pass --report <pack>/report.pdf to attach the audit report too.\n');
}

function readReport(path: string): VantaFile {
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read --report ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (content.subarray(0, 5).toString('latin1') !== '%PDF-') throw new Error(`--report ${path} is not a PDF; give the audit pack's report.pdf`);
  return { name: path.split('/').pop()!, type: 'application/pdf', content };
}
