// Cohort tab: find studies on a configured PACS (DICOMweb) and import them; send masks back.
// Servers are configured by the operator (ELSNET_DICOMWEB_SERVERS); the page only names them.

import * as api from './api.js'
import { $, h, P, state, showMessage, guarded } from './ui.js'
import { dicomDate, personName } from './dicom.js'
import { refreshStudies } from './cohort.js' // (cohort.js imports this module too: used at call time only)

let servers = null // names, loaded once per page

/** Show the PACS card when the service has DICOMweb servers configured. */
export async function initPacs() {
  if (servers === null) {
    try {
      servers = (await api.get('/api/v1/dicomweb/servers')).data
    } catch {
      servers = []
    }
    $('#pacs-server').replaceChildren(...servers.map((n) => h('option', { value: n }, n)))
  }
  $('#pacs-card').hidden = servers.length === 0
  return servers
}

export const pacsServers = () => servers ?? []

$('#pacs-search').addEventListener('submit', async (e) => {
  e.preventDefault()
  const server = $('#pacs-server').value
  const q = new URLSearchParams()
  for (const [id, key] of [['#pacs-patient', 'PatientID'], ['#pacs-accession', 'AccessionNumber'], ['#pacs-date', 'StudyDate']]) {
    const v = $(id).value.trim()
    if (v) q.set(key, v)
  }
  const res = await guarded(`Searching ${server}`, () => api.get(`/api/v1/dicomweb/${encodeURIComponent(server)}/studies?${q}`))
  if (!res) return
  renderResults(server, res.data)
})

function renderResults(server, studies) {
  $('#pacs-results').hidden = studies.length === 0
  $('#pacs-empty').hidden = studies.length > 0
  const all = $('#pacs-import-all')
  all.hidden = studies.length < 2
  all.textContent = `Import all ${studies.length} as one job`
  all.onclick = () => importAll(server, studies)
  $('#pacs-results tbody').replaceChildren(
    ...studies.map((s) => {
      const status = h('span', { class: 'status muted' })
      const row = h('tr', { dataset: { studyUid: s.StudyInstanceUID } },
        h('td', {}, h('strong', {}, personName(s.PatientName) || '—'), h('div', { class: 'muted' }, s.PatientID ?? '')),
        h('td', {}, dicomDate(s.StudyDate)),
        h('td', {}, s.StudyDescription ?? '', s.AccessionNumber ? h('div', { class: 'muted' }, `acc. ${s.AccessionNumber}`) : ''),
        h('td', {}, (s.ModalitiesInStudy ?? []).join(', ')),
        h('td', {}, s.NumberOfStudyRelatedSeries ?? ''),
        h('td', { class: 'actions' }, h('button', { class: 'pacs-import', onclick: () => importStudy(server, s, null, status) }, 'Import'), ' ', status),
      )
      return row
    }),
  )
}

async function importStudy(server, s, seriesUid, status) {
  const pid = state.project.id
  status.textContent = 'retrieving…'
  const body = { server, study_instance_uid: s.StudyInstanceUID }
  if (seriesUid) body.series_instance_uid = seriesUid
  try {
    const study = await api.post(`${P(pid)}/studies/dicomweb`, body)
    status.textContent = `✓ added as ${study.name}`
    if (state.project?.id === pid) refreshStudies()
  } catch (e) {
    status.textContent = ''
    if (e.status === 422 && /image series; choose one/.test(e.message) && !seriesUid) return chooseSeries(server, s, status)
    showMessage(`Import from ${server}: ${e.message}`, 'error')
  }
}

/** A study with several image series: list them, one Import button each. */
async function chooseSeries(server, s, status) {
  const res = await guarded('Listing the series', () =>
    api.get(`/api/v1/dicomweb/${encodeURIComponent(server)}/studies/${s.StudyInstanceUID}/series`))
  if (!res) return
  const list = h('ul', { class: 'series-choice' },
    ...res.data.map((se) => h('li', {},
      `${se.Modality ?? '?'} · ${se.SeriesDescription ?? 'no description'} · ${se.NumberOfSeriesRelatedInstances ?? '?'} images `,
      h('button', { class: 'ghost', onclick: () => importStudy(server, s, se.SeriesInstanceUID, status) }, 'Import this series'))))
  status.replaceChildren('This study has several series:', list)
}

/** Send a study's mask to the PACS as DICOM SEG (the first configured server). */
export async function sendMaskToPacs(s) {
  const server = pacsServers()[0]
  if (!server) return
  const out = await guarded(`Sending the mask of ${s.name} to ${server}`, () =>
    api.post(`${P(state.project.id)}/studies/${s.id}/mask/dicomweb`, { server }))
  if (out) showMessage(`Mask of ${s.name} stored on ${server} as DICOM SEG (series ${out.series_instance_uid}).`, 'ok')
}

/** All listed studies as one import job (a worker brings them in; progress shown here). */
async function importAll(server, studies) {
  const pid = state.project.id
  const status = $('#pacs-job-status')
  const job = await guarded('Starting the import', () => api.post(`${P(pid)}/jobs`, {
    kind: 'import', server, studies: studies.map((s) => ({ study_instance_uid: s.StudyInstanceUID })),
  }))
  if (!job) return
  status.hidden = false
  let j = job
  while (!['succeeded', 'failed', 'cancelled'].includes(j.state)) {
    status.textContent = `import job: ${j.state}, ${Math.round((j.progress ?? 0) * 100)} % (${j.metrics?.imported ?? 0} imported)`
    await new Promise((r) => setTimeout(r, 1500))
    j = await api.get(`/api/v1/jobs/${job.id}`)
  }
  const failed = (j.metrics?.import_results ?? []).filter((r) => r.error)
  status.textContent = j.state === 'succeeded'
    ? `✓ ${j.metrics.imported} imported` + (failed.length ? `; ${failed.length} not: ${failed.map((r) => r.error).join(' | ')}` : '')
    : `✗ import ${j.state}: ${j.error ?? ''}`
  if (state.project?.id === pid) refreshStudies()
}

