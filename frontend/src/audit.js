// Projects page: the "Audit trail" card for admin keys (GET /api/v1/audit; 403 hides it).

import * as api from './api.js'
import { $, h, fmtDate, showError } from './ui.js'
import { AUDIT_ACTIONS, outcome, who } from './audittext.js'

$('#audit-action').append(...AUDIT_ACTIONS.map((a) => h('option', { value: a }, a)))
$('#audit-filter').addEventListener('submit', (e) => {
  e.preventDefault()
  refreshAudit()
})

export async function refreshAudit() {
  const card = $('#audit-card')
  if (!api.getKey()) return hideAudit()
  const action = $('#audit-action').value
  let res
  try {
    res = await api.get(`/api/v1/audit?limit=100${action ? `&action=${encodeURIComponent(action)}` : ''}`)
  } catch (e) {
    hideAudit()
    if (e.status !== 403 && e.status !== 401) showError(e, 'Loading the audit trail')
    return
  }
  $('#audit-table tbody').replaceChildren(
    ...res.data.map((ev) => {
      const o = outcome(ev.status_code)
      return h('tr', {},
        h('td', {}, fmtDate(ev.at)),
        h('td', { class: 'mono' }, ev.action),
        h('td', {}, h('span', { class: `badge ${o.level}` }, o.text)),
        h('td', { class: 'mono' }, who(ev)),
        h('td', { class: 'mono', title: ev.project_id ?? '' }, ev.project_id ? `${ev.project_id.slice(0, 8)}…` : '—'),
        h('td', { class: 'mono small-text' }, `${ev.method} ${ev.path}`),
        h('td', { class: 'muted' }, ev.client ?? ''),
      )
    }),
  )
  card.hidden = false
}

export function hideAudit() {
  $('#audit-card').hidden = true
  $('#audit-table tbody').replaceChildren()
}
