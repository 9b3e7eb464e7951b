// What the audit card says (pure; node tests in test/audittext.test.js). Field names:
// api/schemas.py AuditEventPublic; actions: store/audit.py.

export const AUDIT_ACTIONS = [
  'project.create', 'project.update', 'project.delete', 'study.upload', 'study.import_pacs', 'study.receive_pacs',
  'study.download', 'study.delete', 'annotation.save', 'annotation.from_mask', 'annotation.delete',
  'annotation.download', 'reference.save', 'reference.delete', 'reference.download', 'mask.download', 'mask.send_pacs', 'completion.download', 'job.create', 'job.cancel',
  'model.download', 'webhook.create', 'webhook.delete', 'key.create', 'key.revoke', 'pacs.search', 'request',
]

/** 'ok' (2xx), 'refused' (4xx), 'error' (5xx): how the request ended, for the badge. */
export function outcome(status) {
  if (status >= 200 && status < 300) return { level: 'ok', text: `${status} done` }
  if (status === 401 || status === 403) return { level: 'err', text: `${status} not allowed` }
  if (status >= 400 && status < 500) return { level: 'warn', text: `${status} refused` }
  return { level: 'err', text: `${status} error` }
}

/** Who: the key's prefix, or that no valid key was given. */
export function who(e) {
  return e.key_prefix ? `${e.key_prefix}…` : 'no valid key'
}
