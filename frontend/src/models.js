// Models tab: the project's models, "make active", artifact download, and each model's accuracy
// on the cohort's reference masks (evaluate jobs).

import * as api from './api.js'
import { fromRegistrationText, notLearnedText, trainingSummary } from './guidance.js'
import { $, h, P, state, showMessage, guarded, fmtDate, short } from './ui.js'
import { fmtDice, notScoredLines, organRows, studyRows, summaryText } from './evaluation.js'
import { startJob } from './training.js'
import { isLiveJob } from './jobstate.js'

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
        h('td', { class: 'muted', title: trainingSummary(m.metrics).title }, trainingSummary(m.metrics).text, notLearnedBadge(m.metrics),
          fromRegistrationBadge(m.metrics)),
        h('td', {}, (m.exemplar_study_ids ?? []).length),
        h('td', { class: 'accuracy' }, summaryText(m.evaluation_summary)
          ? h('span', { class: 'badge evaluation', title: 'mean over organs of the Dice on the reference masks; details below' }, summaryText(m.evaluation_summary))
          : h('span', { class: 'muted' }, 'not measured')),
        h('td', {}, active ? h('span', { class: 'badge ok' }, 'active') : ''),
        h('td', {},
          active ? '' : h('button', { class: 'make-active', onclick: () => makeActive(m) }, 'Make active'), ' ',
          h('button', { class: 'evaluate ghost', dataset: { modelId: m.id }, title: 'Measure this model on the cohort’s reference masks', onclick: () => evaluateModel(m) }, 'Evaluate'), ' ',
          h('button', { class: 'ghost', onclick: () => downloadModel(m) }, 'Download'),
        ),
      )
    }),
  )
  $('#models-empty').hidden = state.models.length > 0
  showEvaluationProgress(state.job)
  renderEvaluations()
}

// ---------------------------------------------------------------- evaluations
export async function evaluateModel(m) {
  await startJob('Starting the evaluation', { kind: 'evaluate', model_id: m.id },
    `Measuring model ${short(m.id)} on the reference masks (progress in the Training tab).`)
}

// while an evaluate job runs, its model's Evaluate button shows the progress
function showEvaluationProgress(job) {
  for (const b of document.querySelectorAll('#models-table button.evaluate')) {
    const live = isLiveJob(job, 'evaluate') && job.model_id === b.dataset.modelId
    b.disabled = live
    b.textContent = live ? `Evaluating… ${Math.round((job.progress ?? 0) * 100)} %` : 'Evaluate'
  }
}
document.addEventListener('job-updated', (e) => showEvaluationProgress(e.detail))

const evaluations = new Map() // model id -> evaluation (GET /models/{id}/evaluation), by evaluated_at

async function evaluationOf(m) {
  const stamp = `${m.id}:${m.evaluation_summary?.evaluated_at}`
  if (!evaluations.has(stamp)) {
    evaluations.set(stamp, api.get(`/api/v1/models/${m.id}/evaluation`).catch((e) => {
      evaluations.delete(stamp) // asked again next time
      throw e
    }))
  }
  return evaluations.get(stamp)
}

export async function renderEvaluations() {
  const pid = state.project?.id
  const measured = state.models.filter((m) => m.evaluation_summary)
  $('#evaluations-empty').hidden = measured.length > 0
  const blocks = await Promise.all(measured.map(async (m) => {
    try {
      return evaluationBlock(m, await evaluationOf(m))
    } catch (e) {
      return h('div', { class: 'evaluation form-error' }, `Model ${short(m.id)}: ${e.message}`)
    }
  }))
  if (state.project?.id === pid) $('#evaluations').replaceChildren(...blocks)
}

function evaluationBlock(m, ev) {
  const organs = organRows(ev, state.project)
  const active = m.is_active || m.id === state.project?.active_model_id
  const organTable = h('table', { class: 'grid inner organ-dice' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Organ'), h('th', {}, 'Dice'), h('th', {}, 'HD95'), h('th', {}, 'Studies'))),
    h('tbody', {}, ...organs.map((o) => h('tr', { dataset: { label: o.value } },
      h('td', {}, h('span', { class: 'swatch', style: `background:${o.color}` }), o.name),
      h('td', { class: 'dice' }, o.dice),
      h('td', { title: o.hd95Missing ? `${o.hd95Missing} stud${o.hd95Missing === 1 ? 'y' : 'ies'} with the organ in only one of mask and reference (no finite distance)` : '' },
        o.hd95, o.hd95Missing ? ` (+${o.hd95Missing} missing)` : ''),
      h('td', {}, o.nStudies),
    ))),
  )
  const values = organs.map((o) => o.value)
  const studyTable = h('table', { class: 'grid inner study-dice' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Study'), h('th', {}, 'mean'), ...organs.map((o) => h('th', {}, h('span', { class: 'swatch', style: `background:${o.color}` }), o.name)))),
    h('tbody', {}, ...studyRows(ev, values).map((r) => h('tr', { dataset: { studyId: r.id } },
      h('td', {}, r.name), h('td', { class: 'dice' }, r.mean), ...r.dice.map((d) => h('td', {}, d)),
    ))),
  )
  const notScored = notScoredLines(ev)
  return h('div', { class: 'evaluation', dataset: { modelId: m.id } },
    h('h3', {}, `Model ${short(m.id)}`, active ? ' (active)' : '', ': mean Dice ', h('strong', { class: 'mean-dice' }, fmtDice(ev.mean_dice)),
      h('span', { class: 'muted' }, ` over ${ev.n_studies} stud${ev.n_studies === 1 ? 'y' : 'ies'} · measured ${fmtDate(ev.evaluated_at)}`)),
    h('div', { class: 'evaluation-tables' }, organTable, ev.studies?.length ? studyTable : ''),
    notScored.length ? h('ul', { class: 'not-scored muted' }, ...notScored.map((t) => h('li', {}, t))) : '',
  )
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
