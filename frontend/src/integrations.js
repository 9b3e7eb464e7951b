// Integrations tab: the project's webhooks (docs/webhooks.md): list, add (the signing secret is
// shown once), delete, and each webhook's recent deliveries with why the last attempt failed.
// What the page says is in integrationtext.js (pure, unit-tested).

import * as api from './api.js'
import { $, $$, h, P, state, showMessage, guarded, fmtDate, short, showOnce, clearOnce } from './ui.js'
import { checkedEvents, deliveriesSummary, deliveryBadge, deliveryStatusLine, webhookFormProblem, webhookState } from './integrationtext.js'

let hooks = [] // the open project's webhooks, as listed
const open = new Set() // ids of the webhooks whose deliveries are shown
let secretOf = null // the webhook whose signing secret is shown (once)

/** Another project was opened: forget the last one's webhooks and any secret still shown. */
export function resetIntegrations() {
  hooks = []
  open.clear()
  secretOf = null
  $('#webhooks-table tbody').replaceChildren()
  clearOnce($('#webhook-secret'))
  formError('')
}

export async function refreshWebhooks() {
  if (!state.project) return
  const pid = state.project.id
  const res = await guarded('Loading the webhooks', () => api.get(`${P(pid)}/webhooks`))
  if (!res || state.project?.id !== pid) return
  hooks = res.data
  renderWebhooks()
}
$('#refresh-webhooks').addEventListener('click', () => refreshWebhooks())

function renderWebhooks() {
  const pid = state.project.id
  for (const id of [...open]) if (!hooks.some((w) => w.id === id)) open.delete(id)
  $('#webhooks-table tbody').replaceChildren(
    ...hooks.flatMap((w) => {
      const st = webhookState(w, fmtDate)
      const toggle = h('button', { class: 'deliveries-toggle', 'aria-expanded': String(open.has(w.id)), onclick: () => toggleDeliveries(pid, w) },
        open.has(w.id) ? 'Hide deliveries' : 'Deliveries')
      const row = h('tr', { dataset: { webhookId: w.id } },
        h('td', { class: 'url mono' }, w.url),
        h('td', {}, ...w.events.map((e) => h('span', { class: 'badge event' }, e)).flatMap((b, i) => (i ? [' ', b] : [b]))),
        h('td', {}, h('span', { class: `badge ${st.level}` }, st.text)),
        h('td', {}, fmtDate(w.created_at)),
        h('td', { class: 'actions' }, toggle, ' ', h('button', { class: 'delete-webhook danger', onclick: () => deleteWebhook(w) }, 'Delete')),
      )
      if (!open.has(w.id)) return [row]
      const cell = h('td', { colspan: 5 }, h('span', { class: 'muted' }, 'loading deliveries…'))
      loadDeliveries(pid, w, cell)
      return [row, h('tr', { class: 'deliveries', dataset: { webhookId: w.id } }, cell)]
    }),
  )
  $('#webhooks-empty').hidden = hooks.length > 0
}

function toggleDeliveries(pid, w) {
  if (open.has(w.id)) open.delete(w.id)
  else open.add(w.id)
  if (state.project?.id === pid) renderWebhooks()
}

async function loadDeliveries(pid, w, cell) {
  let res
  try {
    res = await api.get(`${P(pid)}/webhooks/${w.id}/deliveries`)
  } catch (e) {
    cell.replaceChildren(h('span', { class: 'form-error' }, `Loading the deliveries: ${e.message}`))
    return
  }
  const list = res.data
  const again = h('button', { type: 'button', class: 'ghost', onclick: () => renderWebhooks() }, 'Refresh')
  if (!list.length) {
    cell.replaceChildren(h('div', { class: 'row' },
      h('span', { class: 'muted deliveries-empty' }, 'Nothing sent yet: a message is queued when one of the project’s jobs ends with a subscribed event.'), again))
    return
  }
  cell.replaceChildren(
    h('div', { class: 'row between' },
      h('span', {}, h('strong', {}, 'Recent deliveries'), ' ', h('span', { class: 'muted deliveries-summary' }, `(newest first: ${deliveriesSummary(list)})`)),
      again),
    h('table', { class: 'grid inner deliveries-table' },
      h('thead', {}, h('tr', {}, ...['State', 'Event', 'Job', 'Attempts', 'Last HTTP status', 'What happened', 'Queued'].map((t) => h('th', {}, t)))),
      h('tbody', {}, ...list.map((d) => {
        const b = deliveryBadge(d)
        return h('tr', { dataset: { deliveryId: d.id, state: d.state } },
          h('td', {}, h('span', { class: `badge delivery-state ${b.level}` }, b.text)),
          h('td', {}, d.event),
          h('td', { class: 'mono', title: d.job_id }, short(d.job_id)),
          h('td', {}, d.attempts),
          h('td', {}, d.last_status_code ?? '—'),
          h('td', { class: `delivery-line ${d.state === 'delivered' ? '' : d.last_error ? 'err' : ''}` }, deliveryStatusLine(d, fmtDate)),
          h('td', {}, fmtDate(d.created_at)),
        )
      })),
    ),
  )
}

async function deleteWebhook(w) {
  if (!confirm(`Delete the webhook to ${w.url}? The service stops calling it at once; messages not yet delivered to it are dropped.`)) return
  const pid = state.project.id
  const done = await guarded('Deleting the webhook', () => api.del(`${P(pid)}/webhooks/${w.id}`).then(() => true))
  if (!done) return
  showMessage(`Webhook to ${w.url} deleted.`, 'ok')
  if (w.id === secretOf) clearOnce($('#webhook-secret')) // the secret of a deleted webhook signs nothing
  if (state.project?.id === pid) refreshWebhooks()
}

// ---------------------------------------------------------------- add a webhook
function formError(text) {
  const el = $('#webhook-error')
  el.textContent = text
  el.hidden = !text
}

$('#webhook-form').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  if (!state.project) return
  const pid = state.project.id
  const url = $('#webhook-url').value.trim()
  const events = checkedEvents($$('#webhook-events input[name=webhook-event]'))
  const problem = webhookFormProblem(url, events)
  formError(problem)
  if (problem) return
  const button = $('#webhook-add')
  button.disabled = true
  let hook
  try {
    hook = await api.post(`${P(pid)}/webhooks`, { url, events })
  } catch (e) {
    // 422: the service's reason (not an http(s) address, a host the operator does not allow, ...)
    formError(e.status === 422 ? `The service refused this webhook: ${e.message}` : `Adding the webhook: ${e.message}`)
    return
  } finally {
    button.disabled = false
  }
  $('#webhook-form').reset()
  secretOf = hook.id
  showOnce($('#webhook-secret'), {
    title: `Signing secret of the webhook to ${hook.url}`,
    value: hook.secret,
    note: 'Store it now where the receiving server can read it: it checks the X-Elsnet-Signature header of every message with it. ' +
      'To get a new secret, delete the webhook and add it again.',
    onDone: () => (secretOf = null),
  })
  if (state.project?.id === pid) refreshWebhooks()
})
