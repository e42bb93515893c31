
export interface HelpView {
  /** The resources this person may request, with their limits; undefined when that could not be checked. */
  resources: Array<{ name: string; description?: string | undefined; maxDuration: string; emergency: boolean; onCall?: boolean }> | undefined;
  /** Whether access.yml defines any resource at all. */
  configured?: boolean;
}

/** The answer to `/breakglass help`: plain mrkdwn, so it reads the same in a notification. */
export function helpText(view: HelpView): string {
  const lines = [
    '*breakglass*: time-limited production access, approved in Slack and recorded as audit evidence.',
    '',
    '`/breakglass` (or the *Request access* shortcut): a form to ask for access',
    '`/breakglass <resource> <duration> <reason…>`: ask for access, e.g. `/breakglass prod-db 2h INC-1234 replication lag`',
    '`/breakglass list`: your active grants and pending requests',
    '`/breakglass end <id>`: end your access early',
    '`/breakglass extend <id> <duration>`: ask for more time (needs a new approval)',
    '`/breakglass log [resource] [days]`: security only: the evidence log (default: all resources, 30 days) as a CSV file in your DMs',
    '`/breakglass help`: this message',
    '',
    'Durations look like `30m`, `2h`, `1h30m`, `1d` or `PT2H`. A ticket reference such as `INC-1234` in the reason is recorded with the request.',
  ];
  if (view.resources === undefined) {
    lines.push('', '_Which resources you may request could not be checked just now (Slack did not answer); try `/breakglass help` again shortly._');
  } else if (view.resources.length === 0) {
    lines.push('', view.configured ? '_No resource is open to you; ask your security team._' : '_No resources are configured yet: an administrator adds them to access.yml._');
  } else {
    lines.push('', '*You may request:*');
    for (const r of view.resources) {
      lines.push(`• \`${r.name}\` up to ${r.maxDuration}${r.emergency ? ', emergency self-grant allowed' : ''}${r.onCall ? ', approved at once when you are on call (PagerDuty)' : ''}${r.description ? `: ${r.description}` : ''}`);
    }
  }
  return lines.join('\n');
}

