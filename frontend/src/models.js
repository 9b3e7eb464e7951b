// Models tab: the project's models, "make active", artifact download.

import * as api from './api.js'
import { fromRegistrationText, notLearnedText } from './guidance.js'
import { $, h, P, state, showMessage, guarded, fmtDate, short } from './ui.js'

// ---------------------------------------------------------------- models
export async function refreshModels() {
  if (!state.project) return
  const pid = state.project.id
  const res = await guarded('Loading models', () => api.get(`${P(pid)}/models`))
  if (!res || state.project?.id !== pid) return
  state.models = [...res.data].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))
  renderModels()
  document.dispatchEvent(new Event('models-changed')) // e.g. the viewer's next-slice hint
}

export const METRIC_ORDER = [/dice/i, /loss/i, /confidence/i, /seconds/i]
export function metricText(m) {
  if (!m || typeof m !== 'object') return ''
  const rank = (k) => {
    const i = METRIC_ORDER.findIndex((re) => re.test(k))
    return i < 0 ? METRIC_ORDER.length : i
  }
  return Object.entries(m)
    .filter(([, v]) => typeof v === 'number')
    .sort(([a], [b]) => rank(a) - rank(b) || b.localeCompare(a)) // later stages first
    .slice(0, 4)
    .map(([k, v]) => `${k} ${Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)}`)
    .join(' · ')
}

// a warning about some organs of a model, or '' when its text is null (nothing to warn about)
function organWarning(text, cls, title) {
  return text ? h('span', { class: `badge warn ${cls}`, title }, text) : ''
}

// organs the model does not reproduce on its own exemplar (fit's self-check): their masks will
// be empty, and the person should know before trusting the model with them
export function notLearnedBadge(m) {
  return organWarning(notLearnedText(m), 'not-learned',
    'The trained model does not reproduce these organs on the exemplar it was trained on; '
    + 'their masks will be missing. Small organs need the full preset (a finer grid).')
}

// organs stage 1 did not learn on the cohort: stage 2 learned them from registration, and
// their masks are usually poor; the person should check them before using them
export function fromRegistrationBadge(m) {
  return organWarning(fromRegistrationText(m), 'from-registration',
    'Stage 1 and the registration of the exemplar to the cohort disagreed on these organs, '
    + 'so the model learned them from registration: check their masks (they are usually poor).')
}

export function renderModels() {
  const activeId = state.project?.active_model_id
  $('#models-table tbody').replaceChildren(
    ...state.models.map((m) => {
      const active = m.is_active || m.id === activeId
      return h('tr', { dataset: { modelId: m.id } },
        h('td', { title: m.id }, short(m.id)),
        h('td', {}, fmtDate(m.created_at)),
        h('td', {}, state.jobs.find((j) => j.id === m.job_id)?.preset ?? m.config?.preset ?? m.config?.config?.size ?? ''),
        h('td', { class: 'muted' }, metricText(m.metrics), notLearnedBadge(m.metrics),
          fromRegistrationBadge(m.metrics)),
        h('td', {}, (m.exemplar_study_ids ?? []).length),
        h('td', {}, active ? h('span', { class: 'badge ok' }, 'active') : ''),
        h('td', {},
          active ? '' : h('button', { class: 'make-active', onclick: () => makeActive(m) }, 'Make active'), ' ',
          h('button', { class: 'ghost', onclick: () => downloadModel(m) }, 'Download'),
        ),
      )
    }),
  )
  $('#models-empty').hidden = state.models.length > 0
}

export async function makeActive(m) {
  const p = await guarded('Changing the active model', () => api.patch(P(state.project.id), { active_model_id: m.id }))
  if (!p) return
  state.project = p
  showMessage(`Model ${short(m.id)} is now the project's active model.`, 'ok')
  refreshModels()
}

export async function downloadModel(m) {
  await guarded('Downloading the model', async () => {
    const { blob, filename } = await api.getBlob(`/api/v1/models/${m.id}/artifact`)
    api.saveBlob(blob, filename ?? `elsnet_model_${short(m.id)}.tar.gz`)
  })
}
