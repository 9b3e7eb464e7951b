// One open project: loading it, its tabs.

import * as api from './api.js'
import { $, $$, h, P, state, guarded, setCrumbs } from './ui.js'
import { refreshStudies } from './cohort.js'
import { initPacs } from './pacs.js'
import { viewer, closeViewerStudy } from './studyview.js'
import { refreshJobs, stopFollowing } from './training.js'
import { refreshModels } from './models.js'
import { refreshWebhooks, resetIntegrations } from './integrations.js'

// ---------------------------------------------------------------- one project
export async function openProject(id, tab) {
  if (!api.getKey()) {
    location.hash = '#/'
    return
  }
  if (state.project?.id !== id) {
    if (state.opening?.id !== id) {
      // a different project: reset its views at once (uploads started meanwhile keep their rows)
      state.project = null
      state.studies = []
      state.ranking = null
      state.study = null
      closeViewerStudy()
      stopFollowing()
      $('#studies-table tbody').replaceChildren()
      $('#upload-list').replaceChildren()
      resetIntegrations()
      state.opening = { id, promise: api.get(P(id)) }
    }
    const p = await guarded('Opening the project', () => state.opening.promise)
    if (!p || state.opening?.id !== id) return
    if (state.project?.id !== id) {
      state.project = p
      state.label = Math.min(...Object.keys(p.labels ?? { 1: '' }).map(Number))
      initPacs().then(() => refreshStudies())
      refreshJobs(true)
      refreshModels()
    }
  }
  $('#projects-view').hidden = true
  $('#project-view').hidden = false
  setCrumbs(h('a', { href: '#/' }, 'Projects'), h('a', { href: `#/projects/${id}` }, state.project.name))
  showTab(tab)
}

export function showTab(tab) {
  state.tab = tab
  $$('.tabs button').forEach((b) => b.classList.toggle('active', b.dataset.tab === tab))
  $$('.panel').forEach((p) => (p.hidden = p.dataset.panel !== tab))
  if (tab === 'viewer' && viewer?.nv) requestAnimationFrame(() => viewer.nv.resizeListener())
  if (tab === 'models') refreshModels()
  if (tab === 'training') refreshJobs(false)
  if (tab === 'integrations') refreshWebhooks()
}
$$('.tabs button').forEach((b) =>
  b.addEventListener('click', () => (location.hash = `#/projects/${state.project.id}/${b.dataset.tab}`)),
)

export async function refreshProject() {
  const p = await guarded('Reloading the project', () => api.get(P(state.project.id)))
  if (p) state.project = p
}
