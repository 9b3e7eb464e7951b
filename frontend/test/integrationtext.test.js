// Unit tests for what the Integrations tab and the API keys card say (node --test; no browser).
import test from 'node:test'
import assert from 'node:assert/strict'
import {
  EVENTS, ROLES, checkedEvents, deliveriesSummary, deliveryBadge, deliveryStatusLine, keyInUse, keyRequest, keyRole,
  keyScopeText, keyState, keyStateText, lastOutcome, revokeQuestion, webhookFormProblem, webhookState,
} from '../src/integrationtext.js'

const fmt = (s) => `<${s}>` // dates as given, marked, so the tests see where they go

// a delivery as GET .../webhooks/{id}/deliveries lists it (api/schemas.py WebhookDeliveryPublic)
const delivery = (over) => ({
  id: 'd1', webhook_id: 'w1', event: 'job.failed', job_id: 'j1', state: 'pending', attempts: 0,
  next_attempt_at: null, last_status_code: null, last_error: null, created_at: '2026-12-07T14:00:00Z',
  delivered_at: null, payload: {}, ...over,
})

test('the ticked events are sent in the service’s order, unknown values dropped', () => {
  const boxes = [
    { value: 'job.cancelled', checked: true }, { value: 'job.succeeded', checked: true },
    { value: 'job.failed', checked: false }, { value: 'job.other', checked: true },
  ]
  assert.deepEqual(checkedEvents(boxes), ['job.succeeded', 'job.cancelled'])
  assert.deepEqual(checkedEvents(EVENTS.map((value) => ({ value, checked: true }))), EVENTS)
  assert.deepEqual(checkedEvents([]), [])
  assert.deepEqual(checkedEvents(undefined), [])
})

test('the form says what is missing before anything is sent', () => {
  assert.match(webhookFormProblem('  ', EVENTS), /Enter the address/)
  assert.match(webhookFormProblem('https://ris.example/hook', []), /at least one event/)
  assert.equal(webhookFormProblem('https://ris.example/hook', ['job.failed']), '')
  // the URL's form is the service's to judge (it answers 422 with the reason)
  assert.equal(webhookFormProblem('not a url', ['job.failed']), '')
})

test('a webhook is active unless disabled', () => {
  assert.deepEqual(webhookState({ disabled_at: null }), { text: 'active', level: 'ok' })
  assert.deepEqual(webhookState({ disabled_at: '2026-12-01' }, fmt), { text: 'disabled since <2026-12-01>', level: 'err' })
})

test('delivery badges: delivered ok, pending warn, failed err', () => {
  assert.deepEqual(deliveryBadge(delivery({ state: 'delivered' })), { text: 'delivered', level: 'ok' })
  assert.deepEqual(deliveryBadge(delivery({ state: 'pending' })), { text: 'pending', level: 'warn' })
  assert.deepEqual(deliveryBadge(delivery({ state: 'failed' })), { text: 'failed', level: 'err' })
  assert.deepEqual(deliveryBadge(delivery({ state: 'weird' })), { text: 'weird', level: '' })
})

test('a delivered message says when, the HTTP status and the attempts', () => {
  const d = delivery({ state: 'delivered', attempts: 1, last_status_code: 204, delivered_at: '2026-12-07T14:00:01Z' })
  assert.equal(deliveryStatusLine(d, fmt), 'delivered <2026-12-07T14:00:01Z>, HTTP 204, 1 attempt')
  assert.equal(deliveryStatusLine({ ...d, attempts: 3 }, fmt), 'delivered <2026-12-07T14:00:01Z>, HTTP 204, 3 attempts')
})

test('a pending message says whether it was tried, why the try failed and when the next one is', () => {
  assert.match(deliveryStatusLine(delivery({}), fmt), /^waiting for its first attempt/)
  const retry = delivery({ attempts: 2, last_error: 'ConnectError: [Errno 111] Connection refused', next_attempt_at: '2026-12-07T14:01:00Z' })
  assert.equal(deliveryStatusLine(retry, fmt), 'attempt 2 failed: ConnectError: [Errno 111] Connection refused. Next attempt <2026-12-07T14:01:00Z>')
  assert.match(deliveryStatusLine({ ...retry, next_attempt_at: null }, fmt), /Next attempt soon$/)
})

test('a failed message gives the attempts and the last error, else the last HTTP status', () => {
  const d = delivery({ state: 'failed', attempts: 8, last_status_code: 500, last_error: 'HTTP 500: receiver is down for maintenance' })
  assert.equal(deliveryStatusLine(d, fmt), 'gave up after 8 attempts: HTTP 500: receiver is down for maintenance')
  assert.equal(deliveryStatusLine({ ...d, last_error: null }, fmt), 'gave up after 8 attempts: HTTP 500')
  assert.equal(lastOutcome(delivery({})), 'no answer recorded')
})

test('the deliveries summary counts each state, delivered first', () => {
  const list = [delivery({ state: 'failed' }), delivery({ state: 'delivered' }), delivery({ state: 'delivered' })]
  assert.equal(deliveriesSummary(list), '2 delivered · 1 failed')
  assert.equal(deliveriesSummary([]), '')
})

test('API keys: revoked or active, and which one this page uses', () => {
  const keys = [
    { id: 'a', name: 'bootstrap', prefix: 'els_AbCd', is_admin: true, revoked_at: null },
    { id: 'b', name: 'PACS bridge', prefix: 'els_XyZ1', is_admin: false, revoked_at: '2026-12-07T10:00:00Z' },
    { id: 'c', name: 'RIS', prefix: 'els_Qq9_', is_admin: false, revoked_at: null },
  ]
  assert.deepEqual(keyState(keys[0]), { text: 'active', level: 'ok', active: true })
  assert.deepEqual(keyState(keys[1], fmt), { text: 'revoked <2026-12-07T10:00:00Z>', level: 'err', active: false })
  assert.equal(keyInUse(keys, 'els_AbCdEfGh'), 'a')
  assert.equal(keyInUse(keys, 'els_XyZ1rest'), null) // revoked keys are not in use
  assert.equal(keyInUse(keys, ''), null)
  // two active keys with the same prefix: the page cannot tell which one it uses
  assert.equal(keyInUse([...keys, { ...keys[0], id: 'd' }], 'els_AbCdEfGh'), null)
})

test('the revoke question names the key and warns when the page uses it', () => {
  const k = { name: 'PACS bridge', prefix: 'els_XyZ1', is_admin: true }
  assert.match(revokeQuestion(k, false), /^Revoke API key “PACS bridge” \(els_XyZ1…, admin\)\? .*401/)
  assert.doesNotMatch(revokeQuestion(k, false), /This page uses/)
  assert.match(revokeQuestion(k, true), /This page uses this key/)
})

test('a key’s role, also from a service before roles (is_admin only)', () => {
  assert.equal(keyRole({ role: 'reader', is_admin: false }), 'reader')
  assert.equal(keyRole({ is_admin: true }), 'admin')
  assert.equal(keyRole({ is_admin: false }), 'editor') // a plain key could change everything
  assert.deepEqual(ROLES.map((r) => r.value), ['reader', 'editor', 'admin'])
})

test('the projects a key reaches, by name; a deleted project by its id', () => {
  const projects = [{ id: 'p1aaaaaaaaaa', name: 'Abdomen' }, { id: 'p2', name: 'Heart' }]
  assert.equal(keyScopeText({ project_ids: null }, projects), 'all projects')
  assert.equal(keyScopeText({ project_ids: [] }, projects), 'all projects')
  assert.equal(keyScopeText({ project_ids: ['p2', 'p1aaaaaaaaaa'] }, projects), 'Heart, Abdomen')
  assert.equal(keyScopeText({ project_ids: ['0123456789abcdef'] }, projects), 'deleted project 01234567')
})

test('the new-key request: a role, projects only when chosen, and what cannot be granted', () => {
  assert.deepEqual(keyRequest(' PACS bridge ', 'editor', []), { name: 'PACS bridge', role: 'editor' })
  assert.deepEqual(keyRequest('viewer', 'reader', ['p1', 'p1', 'p2']), { name: 'viewer', role: 'reader', project_ids: ['p1', 'p2'] })
  assert.match(keyRequest('  ', 'editor', []).problem, /Give the key a name/)
  assert.match(keyRequest('it', 'admin', ['p1']).problem, /admin key cannot be limited to projects/)
  assert.deepEqual(keyRequest('it', 'admin', []), { name: 'it', role: 'admin' })
})

test('the revoke question names the key’s role', () => {
  assert.match(revokeQuestion({ name: 'viewer', prefix: 'els_Rd', role: 'reader' }, false), /\(els_Rd…, reader\)/)
})

test('the header says the key was accepted, its role and how many projects it is limited to', () => {
  assert.equal(keyStateText({ role: 'admin', project_ids: null }), 'key accepted ✓ · admin')
  assert.equal(keyStateText({ role: 'reader', project_ids: ['a'] }), 'key accepted ✓ · reader · 1 project only')
  assert.equal(keyStateText({ role: 'editor', project_ids: ['a', 'b'] }), 'key accepted ✓ · editor · 2 projects only')
  assert.equal(keyStateText({ is_admin: false }), 'key accepted ✓ · editor')
})
