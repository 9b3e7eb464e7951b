// Unit tests for the REST client's DELETE handling (node --test; fetch answered in-process).
import test from 'node:test'
import assert from 'node:assert/strict'

const store = new Map()
globalThis.sessionStorage ??= { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) }
const api = await import('../src/api.js')

function answer(status, body) {
  const calls = []
  globalThis.fetch = async (path, init) => {
    calls.push({ path, ...init })
    return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
  }
  return calls
}

test('a delete answered 204 resolves, sending the key', async () => {
  api.setKey('k1')
  const calls = answer(204)
  assert.equal(await api.del('/api/v1/projects/p1/studies/s1'), null)
  assert.equal(calls[0].method, 'DELETE')
  assert.equal(calls[0].headers.Authorization, 'Bearer k1')
})

test('a refused delete (409) carries the service’s reason for the page to show', async () => {
  answer(409, { detail: 'study s1 is in use by train job j1 (queued): cancel it (POST /api/v1/jobs/j1/cancel) or wait until it ends, then delete again' })
  await assert.rejects(api.del('/api/v1/projects/p1/studies/s1'), (e) => {
    assert.equal(e.status, 409)
    assert.match(e.message, /train job j1 .*cancel it/)
    return true
  })
})
