// Training tab: start / cancel jobs, follow one live through its event stream.

import * as api from './api.js'
import { LossChart } from './chart.js'
import { $, h, P, state, showMessage, guarded, fmtDate, short, fmtEta } from './ui.js'
import { refreshProject } from './project.js'
import { refreshStudies } from './cohort.js'
import { refreshModels } from './models.js'
import { trainingDoneHint } from './guidance.js'

// ---------------------------------------------------------------- training
export const chart = new LossChart($('#loss-chart'))

export async function refreshJobs(attach) {
  if (!state.project) return
  const pid = state.project.id
  const res = await guarded('Loading jobs', () => api.get(`${P(pid)}/jobs`))
  if (!res || state.project?.id !== pid) return
  state.jobs = [...res.data].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))
  renderJobs()
  if (attach && !state.job) {
    const live = state.jobs.find((j) => j.state === 'queued' || j.state === 'running')
    if (live) followJob(live)
  }
}

export function stateBadge(s) {
  const cls = { succeeded: 'ok', running: 'warn', queued: '', failed: 'err', cancelled: 'err' }[s] ?? ''
  return h('span', { class: `badge ${cls}` }, s)
}

$('#auto-segment').addEventListener('change', async (e) => {
  const p = await guarded('Changing automatic segmentation', () => api.patch(P(state.project.id), { auto_segment: e.target.checked }))
  if (p) state.project = p
  e.target.checked = Boolean(state.project.auto_segment)
})

export function renderJobs() {
  $('#auto-segment').checked = Boolean(state.project?.auto_segment)
  $('#jobs-table tbody').replaceChildren(
    ...state.jobs.map((j) =>
      h('tr', { dataset: { jobId: j.id } },
        h('td', { title: j.id }, short(j.id)),
        h('td', {}, j.kind, j.preset ? ` (${j.preset})` : ''),
        h('td', {}, stateBadge(j.state), j.error ? h('div', { class: 'muted' }, j.error) : ''),
        h('td', {}, `${Math.round((j.progress ?? 0) * 100)} %`),
        h('td', {}, fmtDate(j.started_at)),
        h('td', {}, fmtDate(j.finished_at)),
        h('td', {}, h('button', { class: 'ghost', onclick: () => followJob(j) }, 'Show')),
      ),
    ),
  )
  document.dispatchEvent(new CustomEvent('jobs-updated')) // e.g. the cohort card's prepared zips
  const ex = state.studies.filter((s) => s.is_exemplar).length
  $('#train-hint').textContent = ex
    ? `${ex} exemplar${ex > 1 ? 's' : ''} annotated; training uses them and the rest of the cohort (${state.studies.length} studies).`
    : 'No exemplar yet: open a study in the viewer, paint it and save the annotation first.'
}

/**
 * Start a job of the open project (`body`: the POST .../jobs body; one Idempotency-Key per
 * click), say `message` when it is accepted, let `onStarted(job)` see it, then follow it here
 * (the job card) and refresh the job list. Returns the job, or null when it was refused (the
 * refusal is shown under `what`).
 */
export async function startJob(what, body, message = '', onStarted = null) {
  const job = await guarded(what, () =>
    api.post(`${P(state.project.id)}/jobs`, body, { headers: { 'Idempotency-Key': crypto.randomUUID() } }),
  )
  if (!job) return null
  if (message) showMessage(message, 'ok')
  onStarted?.(job)
  followJob(job)
  refreshJobs(false)
  return job
}

$('#train-start').addEventListener('click', () => {
  const preset = $('#preset').value
  startJob('Starting the training', { kind: 'train', preset }, `Training (${preset}) started.`)
})

$('#infer-start').addEventListener('click', () => {
  const ids = state.studies.map((s) => s.id)
  if (!ids.length) return showMessage('Upload studies first.', 'error')
  startJob('Starting the segmentation', { kind: 'infer', study_ids: ids })
})

$('#job-cancel').addEventListener('click', async () => {
  if (!state.job) return
  const j = await guarded('Cancelling the job', () => api.post(`/api/v1/jobs/${state.job.id}/cancel`))
  if (j) renderJob(j)
})

export function stopFollowing() {
  state.jobAbort?.abort()
  state.jobAbort = null
  state.job = null
}

export function renderJob(j) {
  state.job = { ...state.job, ...j }
  const job = state.job
  const row = state.jobs.findIndex((x) => x.id === job.id)
  if (row >= 0) {
    const before = state.jobs[row]
    state.jobs[row] = { ...before, state: job.state, progress: job.progress ?? before.progress }
    if (before.state !== job.state || Math.round(100 * (before.progress ?? 0)) !== Math.round(100 * (job.progress ?? 0))) renderJobs()
  }
  $('#job-card').hidden = false
  $('#job-card').dataset.state = job.state ?? ''
  $('#job-title').textContent = `${jobTitle(job.kind)} ${short(job.id)}${job.preset ? ` · ${job.preset}` : ''}`
  $('#job-state').textContent = job.state ?? ''
  $('#job-stage').textContent = job.stage ?? '—'
  $('#job-eta').textContent = job.state === 'running' || job.state === 'queued' ? fmtEta(job.eta_s) : '—'
  const pct = Math.round((job.progress ?? 0) * 100)
  const bar = $('#job-progress')
  bar.dataset.progress = String(pct)
  $('div', bar).style.width = `${pct}%`
  $('span', bar).textContent = `${pct} %`
  bar.classList.toggle('done', job.state === 'succeeded')
  bar.classList.toggle('failed', job.state === 'failed' || job.state === 'cancelled')
  $('#job-message').textContent = job.error ? `Error: ${job.error}` : (job.message ?? '')
  $('#job-cancel').disabled = !(job.state === 'queued' || job.state === 'running')
  document.dispatchEvent(new CustomEvent('job-updated', { detail: job })) // e.g. the Models tab's Evaluate button
}

export async function followJob(j) {
  stopFollowing()
  const ctl = new AbortController()
  state.jobAbort = ctl
  state.job = j
  chart.clear()
  renderJob(j)
  const seen = new Set()
  const addPoint = (e) => {
    if (e.seq !== undefined && seen.has(e.seq)) return
    if (e.seq !== undefined) seen.add(e.seq)
    chart.add(e.seq ?? chart.points.length, e.metrics)
  }
  // history first (so a reopened page shows the whole curve), then the live stream
  const hist = await api.get(`/api/v1/jobs/${j.id}/metrics`).catch(() => null)
  if (ctl.signal.aborted) return
  for (const e of hist?.data ?? []) addPoint(e)
  const ended = () => ['succeeded', 'failed', 'cancelled'].includes(state.job?.state)
  try {
    if (!ended()) {
      await api.streamEvents(`/api/v1/jobs/${j.id}/events`, (e) => {
        if (ctl.signal.aborted) return
        addPoint(e)
        const upd = { progress: e.progress, stage: e.stage, eta_s: e.eta_s, message: e.message }
        if (e.state) upd.state = e.state
        else if (state.job.state === 'queued') upd.state = 'running'
        for (const k of Object.keys(upd)) if (upd[k] === undefined || upd[k] === null) delete upd[k]
        renderJob(upd)
      }, ctl.signal)
    }
  } catch (e) {
    if (e.name === 'AbortError') return
    console.warn('event stream failed, polling instead', e)
  }
  // the stream ended (or failed): poll the job row, the truth about the job, until it ends
  while (!ctl.signal.aborted) {
    const fresh = await api.get(`/api/v1/jobs/${j.id}`).catch(() => null)
    if (ctl.signal.aborted) return
    if (fresh) renderJob(fresh)
    if (fresh && ['succeeded', 'failed', 'cancelled'].includes(fresh.state)) break
    await new Promise((r) => setTimeout(r, 2000))
  }
  if (ctl.signal.aborted) return
  if (state.job.state === 'succeeded') showMessage(`${jobTitle(state.job.kind)} finished.`, 'ok')
  else if (state.job.state === 'failed') showMessage(`Job failed: ${state.job.error ?? 'see the job list'}`, 'error')
  refreshJobs(false)
  refreshStudies()
  const done = state.job
  await refreshModels()
  if (done?.kind === 'train' && done.state === 'succeeded' && done.model_id) {
    const hint = trainingDoneHint(state.models.find((m) => m.id === done.model_id), state.studies)
    if (hint) showMessage(hint, 'info', 15000)
  }
  refreshProject()
}

/** What a person calls a job of this kind. */
function jobTitle(kind) {
  return { infer: 'Segmentation', import: 'Import from PACS', evaluate: 'Evaluation', rank: 'Exemplar ranking',
    export: 'Cohort export' }[kind] ?? 'Training'
}
