// Unit tests for the audit card's wording (node --test; no browser needed).
import test from 'node:test'
import assert from 'node:assert/strict'
import { AUDIT_ACTIONS, outcome, who } from '../src/audittext.js'

test('outcomes read done / not allowed / refused / error', () => {
  assert.deepEqual(outcome(201), { level: 'ok', text: '201 done' })
  assert.equal(outcome(401).text, '401 not allowed')
  assert.equal(outcome(403).level, 'err')
  assert.deepEqual(outcome(409), { level: 'warn', text: '409 refused' })
  assert.equal(outcome(502).text, '502 error')
})

test('who: the key prefix, or no valid key', () => {
  assert.equal(who({ key_prefix: 'els_AbCdEfGh' }), 'els_AbCdEfGh…')
  assert.equal(who({ key_prefix: null }), 'no valid key')
})

test('the action list has no duplicates and names downloads of patient data', () => {
  assert.equal(new Set(AUDIT_ACTIONS).size, AUDIT_ACTIONS.length)
  for (const a of ['study.download', 'mask.download', 'annotation.download', 'reference.download', 'pacs.search']) assert.ok(AUDIT_ACTIONS.includes(a))
})
