// Shared page helpers: DOM builder, messages, formatting, and the page state.



export const $ = (sel, root = document) => root.querySelector(sel)
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)]

/** Tiny DOM builder: h('td', {class: 'x', onclick}, 'text', child) */
export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
    else if (k === 'class') e.className = v
    else if (k === 'dataset') Object.assign(e.dataset, v)
    else e.setAttribute(k, v === true ? '' : v)
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c))
  return e
}

export const PALETTE = ['#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c']
export const P = (id) => `/api/v1/projects/${id}`

export const state = {
  projects: [],
  project: null,
  tab: 'cohort',
  studies: [],
  jobs: [],
  models: [],
  study: null, // study open in the viewer
  overlaySource: 'none', // 'none' | 'annotation' | 'mask'
  editing: false,
  editor: null,
  tool: 'brush',
  label: 1,
  brush: 2,
  job: null,
  jobAbort: null,
  thumbs: new Map(), // study id + mask stamp -> blob URL
}

// ---------------------------------------------------------------- messages
export function showMessage(text, kind = 'info', timeout = kind === 'error' ? 0 : 5000) {
  const box = h('div', { class: `msg ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text)
  box.append(h('button', { 'aria-label': 'close', onclick: () => box.remove() }, '×'))
  $('#messages').append(box)
  if (timeout) setTimeout(() => box.remove(), timeout)
  return box
}

export function showError(e, what) {
  if (e?.name === 'AbortError') return
  console.error(what, e)
  showMessage(`${what}: ${e?.message ?? e}`, 'error')
}

export async function guarded(what, fn) {
  try {
    return await fn()
  } catch (e) {
    showError(e, what)
    return undefined
  }
}

export const fmtDate = (s) => (s ? new Date(s).toLocaleString() : '')
export const short = (id) => (id ? String(id).slice(0, 8) : '')
export const fmtBytes = (n) => (n > 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n > 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.ceil(n / 1e3)} kB`)
export function fmtEta(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—'
  s = Math.max(0, Math.round(s))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}
export function labelChips(p) {
  return Object.entries(p.labels ?? {}).map(([v, name]) =>
    h('span', { class: 'chip' }, h('span', { class: 'swatch', style: `background:${p.colors?.[v] ?? '#999'}` }), name),
  )
}

export function setCrumbs(...parts) {
  $('#crumbs').replaceChildren(...parts.flatMap((p, i) => (i ? [' / ', p] : [p])))
}
