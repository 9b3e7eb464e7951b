// What the Integrations tab (webhooks, their deliveries) and the API keys card say: pure
// functions, no DOM (unit-tested with node --test; the page itself is in integrations.js and
// apikeys.js). Field names: api/schemas.py (WebhookPublic, WebhookDeliveryPublic, ApiKeyPublic).

/** The job events a webhook can subscribe to, in the order the page lists them. */
export const EVENTS = ['job.succeeded', 'job.failed', 'job.cancelled']

const defaultFmt = (s) => (s ? new Date(s).toLocaleString() : '')
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`

/** The events ticked in the form ([{value, checked}], e.g. the checkboxes), in EVENTS order. */
export function checkedEvents(boxes) {
  const on = new Set([...(boxes ?? [])].filter((b) => b?.checked).map((b) => b.value))
  return EVENTS.filter((e) => on.has(e))
}

/** What is wrong with the form before it is sent, or '' (the service checks again and has the last word). */
export function webhookFormProblem(url, events) {
  if (!String(url ?? '').trim()) return 'Enter the address the hospital’s server listens on, e.g. https://ris.hospital.example/elsnet-events.'
  if (!events?.length) return 'Choose at least one event.'
  return ''
}

/** A webhook's state: {text, level} with level ok | err (a disabled webhook is sent nothing). */
export function webhookState(hook, fmt = defaultFmt) {
  return hook?.disabled_at ? { text: `disabled since ${fmt(hook.disabled_at)}`, level: 'err' } : { text: 'active', level: 'ok' }
}

/** The badge of a delivery: {text, level}; level ok (delivered), warn (pending), err (failed). */
export function deliveryBadge(d) {
  const level = { delivered: 'ok', pending: 'warn', failed: 'err' }[d?.state] ?? ''
  return { text: d?.state ?? 'unknown', level }
}

/** The last attempt's outcome in words: the service's last_error, else the HTTP status. */
export function lastOutcome(d) {
  if (d?.last_error) return d.last_error
  if (d?.last_status_code) return `HTTP ${d.last_status_code}`
  return 'no answer recorded'
}

/**
 * One line saying where a delivery stands and, when it fails, why (docs/webhooks.md):
 * delivered (when, HTTP status, attempts), pending (first attempt still to come, or the failed
 * attempt and when the next one is due), failed (gave up after N attempts, the last error).
 */
export function deliveryStatusLine(d, fmt = defaultFmt) {
  const n = d?.attempts ?? 0
  switch (d?.state) {
    case 'delivered': {
      const code = d.last_status_code ? `, HTTP ${d.last_status_code}` : ''
      return `delivered ${fmt(d.delivered_at)}${code}, ${plural(n, 'attempt')}`
    }
    case 'pending':
      if (!n) return 'waiting for its first attempt (a worker sends it; with no worker running it waits)'
      return `attempt ${n} failed: ${lastOutcome(d)}. Next attempt ${d.next_attempt_at ? fmt(d.next_attempt_at) : 'soon'}`
    case 'failed':
      return `gave up after ${plural(n, 'attempt')}: ${lastOutcome(d)}`
    default:
      return String(d?.state ?? 'unknown state')
  }
}

/** A summary over a webhook's listed deliveries, e.g. "3 delivered · 1 failed" ('' when none). */
export function deliveriesSummary(list) {
  const counts = new Map()
  for (const d of list ?? []) counts.set(d.state, (counts.get(d.state) ?? 0) + 1)
  return ['delivered', 'pending', 'failed', ...[...counts.keys()].filter((s) => !['delivered', 'pending', 'failed'].includes(s))]
    .filter((s) => counts.get(s))
    .map((s) => `${counts.get(s)} ${s}`)
    .join(' · ')
}

/** An API key's state: {text, level, active}. */
export function keyState(k, fmt = defaultFmt) {
  return k?.revoked_at
    ? { text: `revoked ${fmt(k.revoked_at)}`, level: 'err', active: false }
    : { text: 'active', level: 'ok', active: true }
}

/**
 * The id of the active key this page uses (its plain value starts with the key's prefix, the
 * first 8 characters), or null when no active key, or more than one, matches.
 */
export function keyInUse(keys, plain) {
  if (!plain) return null
  const hits = (keys ?? []).filter((k) => !k.revoked_at && k.prefix && String(plain).startsWith(k.prefix))
  return hits.length === 1 ? hits[0].id : null
}

/** The roles a key can have, least power first (docs/API.md, "API keys"), with what each may do. */
export const ROLES = [
  { value: 'reader', text: 'reader: reads and downloads only' },
  { value: 'editor', text: 'editor: also changes and deletes projects and their data' },
  { value: 'admin', text: 'admin: also manages API keys and reads the audit trail' },
]

/** A key's role; a service from before roles only says is_admin (admin, else a plain key = editor). */
export function keyRole(k) {
  return k?.role ?? (k?.is_admin ? 'admin' : 'editor')
}

/**
 * The projects a key reaches, in words: 'all projects', or the names of its projects (by id from
 * `projects`, the page's project list); a project deleted since is named by its id's start.
 */
export function keyScopeText(k, projects) {
  const ids = k?.project_ids ?? []
  if (!ids.length) return 'all projects'
  const names = new Map((projects ?? []).map((p) => [p.id, p.name]))
  return ids.map((id) => names.get(id) ?? `deleted project ${String(id).slice(0, 8)}`).join(', ')
}

/** The header's key state for GET /api/v1/keys/me: accepted, its role, and its scope's size. */
export function keyStateText(me) {
  const n = me?.project_ids?.length ?? 0
  return `key accepted ✓ · ${keyRole(me)}${n ? ` · ${n} project${n === 1 ? '' : 's'} only` : ''}`
}

/**
 * The body of POST /api/v1/keys for the form: {name, role, project_ids?}, or {problem} when it
 * cannot be granted (the service checks again and has the last word).
 */
export function keyRequest(name, role, projectIds) {
  const ids = [...new Set((projectIds ?? []).filter(Boolean))]
  if (!String(name ?? '').trim()) return { problem: 'Give the key a name: who or what will use it.' }
  if (role === 'admin' && ids.length) {
    return { problem: 'An admin key cannot be limited to projects (it manages every key): choose editor or reader, or no project.' }
  }
  return ids.length ? { name: name.trim(), role, project_ids: ids } : { name: name.trim(), role }
}

/** The question asked before revoking a key. */
export function revokeQuestion(k, inUse) {
  const who = `API key “${k.name}” (${k.prefix}…, ${keyRole(k)})`
  const own = inUse ? ' This page uses this key: it will stop working here too.' : ''
  return `Revoke ${who}? Its next request is refused (401); this cannot be undone.${own}`
}
