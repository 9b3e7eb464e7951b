// Cohort tab: uploads (one progress bar per file) and the table of studies.

import * as api from './api.js'
import { $, h, P, state, showMessage, guarded, short, fmtBytes } from './ui.js'
import { openStudy, closeViewerStudy } from './studyview.js'
import { confidenceBadge, confidenceMedians } from './guidance.js'
import { pacsServers, sendMaskToPacs } from './pacs.js'
import { referenceBadge } from './evaluation.js'
import { WHY, isLiveRank, notRankedText, rankButtonText, rankCandidates, rankingLines, typicalityCell } from './exemplar.js'
import {
  EXPORT_RULE, FORMAT_NAMES, exportButtonText, exportMode, isLiveExport, readyExports, readyLinkText, withFollowed,
} from './cohortexport.js'
import { startJob } from './training.js'

// ---------------------------------------------------------------- upload
export const dz = $('#dropzone')
dz.addEventListener('dragover', (e) => {
  e.preventDefault()
  dz.classList.add('over')
})
dz.addEventListener('dragleave', () => dz.classList.remove('over'))
dz.addEventListener('drop', (e) => {
  e.preventDefault()
  dz.classList.remove('over')
  uploadFiles([...e.dataTransfer.files])
})
$('#file-input').addEventListener('change', (e) => {
  uploadFiles([...e.target.files])
  e.target.value = ''
})

/** Group the files into uploads: each NIfTI / zip alone, loose .dcm files together. */
export function uploadGroups(files) {
  const dcm = files.filter((f) => /\.dcm$/i.test(f.name))
  const rest = files.filter((f) => !/\.dcm$/i.test(f.name))
  const groups = rest.map((f) => ({ name: f.name, files: [f] }))
  if (dcm.length) groups.push({ name: `${dcm.length} DICOM file${dcm.length > 1 ? 's' : ''} (${dcm[0].name}…)`, files: dcm })
  return groups
}

export async function uploadFiles(files) {
  // the project may still be loading: its id is in the address
  const pid = state.project?.id ?? /^#\/projects\/([^/]+)/.exec(location.hash)?.[1]
  if (!pid) return showMessage('Open a project before uploading studies.', 'error')
  const groups = uploadGroups(files)
  const queue = groups.map((g) => ({ ...g, row: uploadRow(g) }))
  const worker = async () => {
    while (queue.length) await uploadOne(pid, queue.shift())
  }
  await Promise.all([worker(), worker()]) // two uploads at a time
  if (state.project?.id === pid) refreshStudies()
}

export function uploadRow(g) {
  const size = g.files.reduce((s, f) => s + f.size, 0)
  const bar = h('div', { class: 'progress' }, h('div'), h('span', {}, 'waiting'))
  const row = h('li', { class: 'upload' }, h('span', { class: 'name', title: g.name }, `${g.name} (${fmtBytes(size)})`), bar, h('span', { class: 'status muted' }, 'queued'))
  $('#upload-list').append(row)
  return row
}

export async function uploadOne(pid, g) {
  const bar = $('.progress', g.row)
  const status = $('.status', g.row)
  const setPct = (f, text) => {
    $('div', bar).style.width = `${Math.round(f * 100)}%`
    $('span', bar).textContent = text ?? `${Math.round(f * 100)} %`
  }
  const form = new FormData()
  for (const f of g.files) form.append('file', f, f.name)
  status.textContent = 'uploading'
  setPct(0)
  const { promise } = api.uploadForm('POST', `${P(pid)}/studies`, form, (loaded, total) => {
    setPct(loaded / total)
    if (loaded >= total) status.textContent = 'checking…'
  })
  try {
    const study = await promise
    setPct(1, '100 %')
    bar.classList.add('done')
    status.textContent = '✓ added'
    g.row.dataset.studyId = study?.id ?? ''
    g.row.classList.add('ok')
  } catch (e) {
    bar.classList.add('failed')
    setPct(1, 'rejected')
    status.textContent = '✗ rejected'
    g.row.classList.add('rejected')
    g.row.append(h('div', { class: 'err' }, `${g.name}: ${e.message}`))
  }
}

// ---------------------------------------------------------------- cohort
export async function refreshStudies() {
  if (!state.project) return
  const pid = state.project.id
  const [res, ranking] = await Promise.all([guarded('Loading the cohort', () => api.get(`${P(pid)}/studies`)), loadRanking(pid)])
  if (!res || state.project?.id !== pid) return
  state.studies = res.data
  state.ranking = ranking
  renderStudies()
}

// ---------------------------------------------------------------- which study to annotate
/** The newest exemplar ranking of the project, or null when none was made yet (404). */
async function loadRanking(pid) {
  try {
    return await api.get(`${P(pid)}/exemplar-ranking`)
  } catch (e) {
    if (e.status !== 404) console.warn('exemplar ranking', e)
    return null
  }
}

/** "Which study to annotate?": a rank job, followed like any other (progress on the button). */
export async function rankStudies() {
  const pid = state.project?.id
  if (!pid) return
  const sample = rankCandidates(state.studies)
  const body = sample ? { kind: 'rank', study_ids: sample.ids } : { kind: 'rank' }
  await startJob('Ranking the studies', body,
    `Ranking the studies${sample ? ` (${sample.note})` : ''}: each is registered onto a few others, which takes a few seconds per pair (progress on the button and in the Training tab).`)
}
$('#rank-studies').addEventListener('click', () => rankStudies())

function showRankProgress(job) {
  const b = $('#rank-studies')
  b.disabled = isLiveRank(job)
  b.textContent = rankButtonText(job)
}
document.addEventListener('job-updated', (e) => showRankProgress(e.detail))

function renderRankingHint() {
  const lines = rankingLines(state.ranking, state.studies)
  // the suggestion line carries a button that opens the suggested study for painting
  const suggested = state.studies.find((s) => s.id === state.ranking?.suggested_study_id)
  const go = suggested && h('button', { class: 'annotate-suggested', onclick: () => openStudy(suggested, 'annotate') },
    suggested.is_exemplar ? 'Edit its annotation' : 'Annotate it')
  $('#exemplar-hint').replaceChildren(...lines.map((t, i) => (i || !go
    ? h('div', { class: i ? 'stale' : 'suggestion' }, t)
    : h('div', { class: 'suggestion' }, t, ' ', go))))
  $('#exemplar-hint').hidden = lines.length === 0
}

function typicalityTd(s) {
  const c = typicalityCell(state.ranking, s)
  if (!c) return h('td', { class: 'typicality muted' }, notRankedText(state.ranking, s) || '—')
  return h('td', { class: 'typicality' }, h('span', { class: 'badge typicality', title: c.title }, c.text))
}

function suggestedBadge(s) {
  if (!typicalityCell(state.ranking, s)?.suggested) return ''
  return h('div', {}, h('span', { class: 'badge suggested', title: `Annotate this study: ${WHY} (a heuristic).` }, '★ suggested exemplar'))
}
$('#refresh-studies').addEventListener('click', () => refreshStudies())

/**
 * The cohort's results in one download: all masks zipped (with volumes.csv), or the CSV alone.
 * A small NIfTI cohort downloads at once; a larger one, or DICOM SEG, is prepared by an export
 * job first (cohortexport.js says the rule), then downloaded from the link it leaves.
 */
export async function exportCohort(what) {
  const p = state.project
  if (!p) return
  const format = what === 'seg' ? 'dicom-seg' : 'nifti'
  if (what !== 'csv' && exportMode(format, state.studies.length) === 'job') return prepareExport(format)
  const path = { nifti: 'masks.zip', csv: 'volumes.csv' }[what]
  const label = what === 'csv' ? 'the organ volumes' : 'every mask of the cohort'
  showMessage(`Preparing ${label}…`)
  await guarded(`Downloading ${label}`, async () => {
    const { blob, filename } = await api.getBlob(`${P(p.id)}/${path}`)
    api.saveBlob(blob, filename ?? (what === 'csv' ? `${p.name}_volumes.csv` : `${p.name}_masks.zip`))
    showMessage(`Downloaded ${filename ?? path}.`, 'ok')
  })
}
$('#export-masks').addEventListener('click', () => exportCohort('nifti'))
$('#export-seg').addEventListener('click', () => exportCohort('seg'))
$('#export-volumes').addEventListener('click', () => exportCohort('csv'))

/** "Prepare download": an export job, followed like any other (progress on the button). */
export async function prepareExport(format) {
  const pid = state.project?.id
  if (!pid) return
  await startJob(`Preparing the ${FORMAT_NAMES[format]} zip`, { kind: 'export', format },
    `Preparing every mask as ${FORMAT_NAMES[format]} in the background: progress on the button; `
    + 'a download link appears under it when the zip is ready.',
    (job) => { state.jobs = withFollowed(state.jobs, job) })
}

/** A prepared zip, from the export job that made it. */
export async function downloadExport(job) {
  await guarded('Downloading the prepared zip', async () => {
    const { blob, filename } = await api.getBlob(`/api/v1/jobs/${job.id}/download`)
    api.saveBlob(blob, filename ?? job.metrics?.file_name ?? 'masks.zip')
    showMessage(`Downloaded ${filename ?? 'the zip'}.`, 'ok')
  })
}

/** The export buttons (what a click does, or a live export's progress) and the prepared zips' links. */
export function renderExports() {
  const jobs = withFollowed(state.jobs, state.job?.kind === 'export' ? state.job : null)
  const n = state.studies.length
  for (const [sel, format] of [['#export-masks', 'nifti'], ['#export-seg', 'dicom-seg']]) {
    const live = jobs.find((j) => isLiveExport(j, format)) ?? null
    const b = $(sel)
    b.textContent = exportButtonText(format, n, live)
    b.disabled = Boolean(live)
    b.dataset.mode = exportMode(format, n)
    b.title = `Every study's mask (${FORMAT_NAMES[format]}) and volumes.csv in one zip. ${EXPORT_RULE}`
  }
  const links = readyExports(jobs).map((j) => {
    const t = readyLinkText(j)
    return h('li', {}, h('button', { class: 'linklike export-download', title: t.title, dataset: { jobId: j.id }, onclick: () => downloadExport(j) }, t.text),
      ' ', h('span', { class: 'muted' }, t.until))
  })
  $('#export-ready').replaceChildren(...links)
  $('#export-area').hidden = !(links.length || exportMode('nifti', n) === 'job')
  $('#export-rule').textContent = EXPORT_RULE
}
document.addEventListener('job-updated', (e) => {
  if (e.detail?.kind === 'export') renderExports()
})
document.addEventListener('jobs-updated', () => renderExports())

export function renderStudies() {
  const tbody = $('#studies-table tbody')
  const medians = confidenceMedians(state.studies)
  tbody.replaceChildren(
    ...state.studies.map((s) => {
      const img = h('img', { class: 'thumb', alt: `preview of ${s.name}` })
      loadThumb(s, img)
      const cb = confidenceBadge(medians, s)
      const confBadge = cb.level === 'none'
        ? h('span', { class: 'muted' }, cb.text)
        : h('span', { class: `badge confidence ${cb.level === 'plain' ? '' : cb.level}`, title: cb.title }, cb.text)
      return h('tr', { dataset: { studyId: s.id }, class: state.study?.id === s.id ? 'selected' : '' },
        h('td', {}, img),
        h('td', {}, h('strong', {}, s.name), h('div', { class: 'muted' }, `${s.modality ?? ''} · ${fmtBytes(s.size_bytes ?? 0)}`), suggestedBadge(s)),
        h('td', { class: 'muted' }, s.shape ? s.shape.join('×') : '', h('br'), s.spacing ? `${s.spacing.map((v) => (+v).toFixed(2)).join('×')} mm` : ''),
        h('td', {}, s.is_exemplar ? h('span', { class: 'badge ok' }, `exemplar · ${s.annotated_slices ?? '?'} slice${s.annotated_slices === 1 ? '' : 's'}`) : h('span', { class: 'muted' }, '—'),
          refBadge(s)),
        typicalityTd(s),
        h('td', {}, s.mask ? h('span', { title: s.mask.model_id }, short(s.mask.model_id)) : h('span', { class: 'muted' }, 'not segmented')),
        h('td', {}, confBadge),
        h('td', { class: 'actions' },
          h('button', { class: 'open', onclick: () => openStudy(s, 'review') }, 'Open'), ' ',
          h('button', { class: 'annotate', onclick: () => openStudy(s, 'annotate') }, s.is_exemplar ? 'Edit annotation' : 'Annotate'), ' ',
          s.mask && h('button', { class: 'correct', title: 'Start from the model’s mask; saving makes this study another exemplar', onclick: () => openStudy(s, 'correct') }, 'Correct annotation'), ' ',
          s.mask && h('button', { class: 'dl-nifti ghost', onclick: () => downloadMask(s, 'nifti') }, 'NIfTI'), ' ',
          s.mask && h('button', { class: 'dl-seg ghost', onclick: () => downloadMask(s, 'dicom-seg') }, 'DICOM SEG'), ' ',
          s.mask && pacsServers().length > 0 && h('button', { class: 'to-pacs ghost', title: `store the mask as DICOM SEG on ${pacsServers()[0]}`, onclick: () => sendMaskToPacs(s) }, 'Send to PACS'), ' ',
          referencePicker(s), ' ',
          s.has_reference && h('button', { class: 'delete-reference ghost', onclick: () => deleteReference(s) }, 'Remove reference'), ' ',
          h('button', { class: 'delete-study danger', onclick: () => deleteStudy(s) }, 'Delete'),
        ),
      )
    }),
  )
  $('#studies-empty').hidden = state.studies.length > 0
  renderRankingHint()
  showRankProgress(state.job)
  renderExports()
}

function refBadge(s) {
  const b = referenceBadge(s)
  return b ? [' ', h('span', { class: 'badge reference', title: b.title }, b.text)] : ''
}

// ---------------------------------------------------------------- reference masks
/** "Upload reference…": a file picker for an expert's complete label map of the study. */
function referencePicker(s) {
  const input = h('input', { type: 'file', class: 'reference-file', accept: '.nii,.gz', hidden: true })
  input.addEventListener('change', (e) => {
    const file = e.target.files?.[0]
    e.target.value = ''
    if (file) uploadReference(s, file)
  })
  return h('label', {
    class: 'linklike reference-upload',
    title: 'An expert’s complete NIfTI label map of this study (on its grid; 0 = background, every voxel labelled). '
      + 'Never used for training: models are measured on it (Models tab).',
  }, s.has_reference ? 'Replace reference…' : 'Upload reference…', input)
}

export async function uploadReference(s, file) {
  const pid = state.project.id
  const form = new FormData()
  form.append('file', file, file.name)
  // a refused file (not complete, another grid) leaves the stored reference as it was; the message says why
  const study = await guarded(`Reference mask of ${s.name}`, () => api.uploadForm('PUT', `${P(pid)}/studies/${s.id}/reference`, form).promise)
  if (!study) return
  showMessage(study.is_exemplar
    ? `Reference mask of “${s.name}” stored. It is an exemplar: models trained on it are not measured on it.`
    : `Reference mask of “${s.name}” stored: evaluate a model on it in the Models tab.`, 'ok')
  if (state.project?.id === pid) refreshStudies()
}

export async function deleteReference(s) {
  if (!confirm(`Remove the reference mask of “${s.name}”? Models are no longer measured on this study.`)) return
  const pid = state.project.id
  const done = await guarded(`Removing the reference mask of ${s.name}`, () => api.del(`${P(pid)}/studies/${s.id}/reference`).then(() => true))
  if (done && state.project?.id === pid) refreshStudies()
}

export async function loadThumb(s, img) {
  const stamp = `${s.id}:${s.mask?.created_at ?? ''}:${s.mask?.model_id ?? ''}`
  if (state.thumbs.has(stamp)) {
    img.src = state.thumbs.get(stamp)
    return
  }
  try {
    const { blob } = await api.getBlob(`${P(s.project_id ?? state.project.id)}/studies/${s.id}/thumbnail.png?mask=1`)
    const url = URL.createObjectURL(blob)
    state.thumbs.set(stamp, url)
    img.src = url
  } catch (e) {
    img.alt = 'no preview'
    img.title = e.message
  }
}

export async function downloadMask(s, format) {
  await guarded(`Downloading the mask of ${s.name}`, async () => {
    const { blob, filename } = await api.getBlob(`${P(state.project.id)}/studies/${s.id}/mask?format=${format}`)
    const base = s.name.replace(/\.(nii(\.gz)?|zip|dcm)$/i, '')
    api.saveBlob(blob, filename ?? (format === 'dicom-seg' ? `${base}_seg.dcm` : `${base}_mask.nii.gz`))
  })
}

export async function deleteStudy(s) {
  const msg = `Delete study “${s.name}” for good? Its images, annotation and masks are removed from the service. Models trained with it stay.`
  if (!confirm(msg)) return
  const pid = state.project.id
  // a refusal (409: a job is using the study) shows the service's reason, which names the job
  const done = await guarded(`Deleting ${s.name}`, () => api.del(`${P(pid)}/studies/${s.id}`).then(() => true))
  if (!done) return
  if (state.study?.id === s.id) closeViewerStudy()
  showMessage(`Study “${s.name}” deleted.`, 'ok')
  if (state.project?.id === pid) refreshStudies()
}
