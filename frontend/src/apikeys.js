// Projects page: the "API keys" card (docs/API.md, API keys), for admin keys only: list (role and
// projects of each key), create (a role, optionally limited to projects; the key is shown once),
// revoke. A key that is not admin gets 403 from GET /api/v1/keys: the card then stays hidden.
// What the card says is in integrationtext.js (pure, unit-tested).

import * as api from './api.js'
import { $, h, showMessage, showError, guarded, fmtDate, showOnce, clearOnce } from './ui.js'
import { ROLES, keyInUse, keyRequest, keyRole, keyScopeText, keyState, revokeQuestion } from './integrationtext.js'

let keys = []
let projects = [] // to name the projects of scoped keys and offer them in the form
let shownKeyId = null // the key whose value the card shows (once)

/** Show the card with the keys when the page's key is an admin key; hide it otherwise. */
export async function refreshKeys() {
  const card = $('#keys-card')
  if (!api.getKey()) return hideKeys()
  const asked = api.getKey()
  let res, listed
  try {
    ;[res, listed] = await Promise.all([api.get('/api/v1/keys'), api.get('/api/v1/projects')])
  } catch (e) {
    if (api.getKey() !== asked) return
    hideKeys()
    // 403: not an admin key, 401: no valid key (the key field says so): nothing to show
    if (e.status !== 403 && e.status !== 401) showError(e, 'Loading the API keys')
    return
  }
  if (api.getKey() !== asked) return // the key changed meanwhile
  keys = res.data
  projects = listed.data
  renderKeys()
  renderProjectChoices()
  card.hidden = false
}

/** Hide the card and anything it showed (the key was forgotten or changed). */
export function hideKeys() {
  keys = []
  projects = []
  shownKeyId = null
  $('#keys-card').hidden = true
  $('#keys-table tbody').replaceChildren()
  clearOnce($('#key-created'))
}

function renderKeys() {
  const mine = keyInUse(keys, api.getKey())
  $('#keys-table tbody').replaceChildren(
    ...keys.map((k) => {
      const st = keyState(k, fmtDate)
      return h('tr', { dataset: { keyId: k.id }, class: st.active ? '' : 'revoked' },
        h('td', {}, k.name, k.id === mine ? h('span', { class: 'badge in-use', title: 'the key this page sends' }, 'this page') : ''),
        h('td', { class: 'mono' }, `${k.prefix}…`),
        h('td', {}, h('span', { class: `badge key-role ${keyRole(k) === 'admin' ? 'warn' : ''}` }, keyRole(k))),
        h('td', { class: 'key-scope' }, keyScopeText(k, projects)),
        h('td', {}, fmtDate(k.created_at)),
        h('td', {}, h('span', { class: `badge key-state ${st.level}` }, st.text)),
        h('td', { class: 'actions' }, st.active ? h('button', { class: 'revoke-key danger', onclick: () => revokeKey(k, k.id === mine) }, 'Revoke') : ''),
      )
    }),
  )
}

function renderProjectChoices() {
  const select = $('#new-key-projects')
  const chosen = new Set([...select.selectedOptions].map((o) => o.value))
  select.replaceChildren(...projects.map((p) => h('option', { value: p.id }, p.name)))
  for (const o of select.options) o.selected = chosen.has(o.value) // a choice being made survives a refresh
}

$('#new-key-role').replaceChildren(
  ...ROLES.map((r) => h('option', { value: r.value, selected: r.value === 'editor' }, r.text)),
)

async function revokeKey(k, inUse) {
  if (!confirm(revokeQuestion(k, inUse))) return
  // 409 when it is the last active admin key: the service's reason says to make another first
  const done = await guarded(`Revoking the key “${k.name}”`, () => api.del(`/api/v1/keys/${k.id}`).then(() => true))
  if (!done) return
  showMessage(`API key “${k.name}” revoked.`, 'ok')
  if (k.id === shownKeyId) clearOnce($('#key-created')) // no point copying a revoked key
  if (inUse) {
    // this page's own key: nothing more will work with it
    api.setKey('')
    hideKeys()
    $('#key-state').textContent = 'key revoked'
    showMessage('That was the key this page used: enter another key at the top.', 'error')
    return
  }
  refreshKeys()
}

$('#key-create-form').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  const projectIds = [...$('#new-key-projects').selectedOptions].map((o) => o.value)
  const body = keyRequest($('#new-key-name').value, $('#new-key-role').value, projectIds)
  if (body.problem) return showMessage(body.problem, 'error')
  const button = $('#new-key-create')
  button.disabled = true
  const k = await guarded('Creating the API key', () => api.post('/api/v1/keys', body)).finally(() => (button.disabled = false))
  if (!k) return
  $('#key-create-form').reset()
  shownKeyId = k.id
  showOnce($('#key-created'), {
    title: `API key “${k.name}” (${keyRole(k)}, ${keyScopeText(k, projects)})`,
    value: k.key,
    note: 'Give it to whoever uses it (sent as Authorization: Bearer <key>). The service keeps only its hash; ' +
      'a lost key cannot be recovered: revoke it and create a new one.',
    onDone: () => (shownKeyId = null),
  })
  refreshKeys()
})
