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
  ranking: null, // the newest exemplar ranking (GET .../exemplar-ranking), null: none yet
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

// ---------------------------------------------------------------- shown-once values
/** Copy text to the clipboard; where the browser refuses (e.g. plain http), select it in `input`
 * with the old copy command. Resolves true when copied. */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    input?.focus()
    input?.select()
    try {
      return document.execCommand('copy')
    } catch {
      return false
    }
  }
}

/**
 * Fill `box` with a value the service shows once (a webhook's signing secret, a new API key):
 * the value in a read-only field, Copy, the warning that it will not be shown again, and a
 * button that clears it. `onDone` runs when the person has stored it.
 */
export function showOnce(box, { title, value, note, onDone }) {
  const field = h('input', { class: 'once-value', type: 'text', readonly: true, value, spellcheck: 'false', 'aria-label': title })
  const copied = h('span', { class: 'once-copied muted', 'aria-live': 'polite' })
  const copy = h('button', {
    type: 'button', class: 'once-copy',
    onclick: async () => {
      copied.textContent = (await copyText(value, field)) ? 'copied ✓' : 'select it and press Ctrl+C'
    },
  }, 'Copy')
  const done = h('button', {
    type: 'button', class: 'ghost once-done',
    onclick: () => {
      box.replaceChildren()
      box.hidden = true
      onDone?.()
    },
  }, 'I have stored it')
  box.replaceChildren(
    h('strong', { class: 'once-title' }, title),
    h('div', { class: 'once-row' }, field, copy, copied),
    h('p', { class: 'once-note' }, h('strong', {}, 'It will not be shown again. '), note),
    h('div', {}, done),
  )
  box.hidden = false
  field.addEventListener('focus', () => field.select())
  return field
}

/** Empty a shown-once box (another project opened, the key changed). */
export function clearOnce(box) {
  box.replaceChildren()
  box.hidden = true
}
