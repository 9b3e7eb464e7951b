// The only module that talks to the service: the public REST API v1 (docs/API.md).
// The API key lives in sessionStorage only and every request sends it as a Bearer token.

const KEY_STORAGE = 'elsnet.apiKey'

export function getKey() {
  return sessionStorage.getItem(KEY_STORAGE) ?? ''
}

export function setKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key)
  else sessionStorage.removeItem(KEY_STORAGE)
}

function authHeaders(extra = {}) {
  const key = getKey()
  return key ? { Authorization: `Bearer ${key}`, ...extra } : { ...extra }
}

/** An error the API answered with: `message` is text a person can read. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

/** Turn FastAPI's `detail` (a string, or a list of validation errors) into one sentence. */
export function detailText(status, body) {
  const d = body && typeof body === 'object' ? body.detail : undefined
  if (typeof d === 'string' && d) return d
  if (Array.isArray(d)) {
    return d
      .map((e) => {
        const loc = Array.isArray(e.loc) ? e.loc.filter((p) => p !== 'body').join('.') : ''
        return loc ? `${loc}: ${e.msg}` : e.msg
      })
      .join('; ')
  }
  if (status === 401) return 'The API key was not accepted (401). Enter a valid key at the top of the page.'
  if (status === 403) return 'This API key may not do that (403).'
  if (status === 404) return 'Not found (404).'
  if (status === 413) return 'The file is too large for the service (413).'
  if (status >= 500) return `The service failed (${status}). Try again; if it persists, check the service logs.`
  return `Request failed with status ${status}.`
}

async function errorFrom(res) {
  let body = null
  try {
    body = await res.json()
  } catch {
    body = null
  }
  return new ApiError(res.status, detailText(res.status, body))
}

export async function request(method, path, { json, body, headers, raw = false, signal } = {}) {
  const h = authHeaders(headers)
  let payload = body
  if (json !== undefined) {
    h['Content-Type'] = 'application/json'
    payload = JSON.stringify(json)
  }
  let res
  try {
    res = await fetch(path, { method, headers: h, body: payload, signal })
  } catch (e) {
    if (e.name === 'AbortError') throw e
    throw new ApiError(0, `Cannot reach the service (${e.message}). Is it running?`)
  }
  if (!res.ok) throw await errorFrom(res)
  if (raw) return res
  if (res.status === 204) return null
  const ct = res.headers.get('content-type') ?? ''
  return ct.includes('json') ? res.json() : res.text()
}

export const get = (path, opts) => request('GET', path, opts)
export const post = (path, json, opts = {}) => request('POST', path, { ...opts, json })
export const patch = (path, json) => request('PATCH', path, { json })
export const del = (path) => request('DELETE', path)

export async function getBlob(path) {
  const res = await request('GET', path, { raw: true })
  return { blob: await res.blob(), filename: filenameFrom(res) }
}

function filenameFrom(res) {
  const cd = res.headers.get('content-disposition') ?? ''
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd)
  return m ? decodeURIComponent(m[1]) : null
}

/**
 * Upload with real progress (fetch cannot report upload progress; XMLHttpRequest can).
 * @param {string} method
 * @param {string} path
 * @param {FormData} form
 * @param {(loaded: number, total: number) => void} onProgress
 * @returns {{promise: Promise<any>, abort: () => void}}
 */
export function uploadForm(method, path, form, onProgress) {
  const xhr = new XMLHttpRequest()
  const promise = new Promise((resolve, reject) => {
    xhr.open(method, path)
    const key = getKey()
    if (key) xhr.setRequestHeader('Authorization', `Bearer ${key}`)
    xhr.responseType = 'text'
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress?.(e.loaded, e.total)
    }
    xhr.onload = () => {
      let body = null
      try {
        body = JSON.parse(xhr.responseText)
      } catch {
        body = null
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body)
      else reject(new ApiError(xhr.status, detailText(xhr.status, body)))
    }
    xhr.onerror = () => reject(new ApiError(0, 'Network error during upload: is the service running?'))
    xhr.onabort = () => reject(new ApiError(0, 'Upload cancelled.'))
    xhr.send(form)
  })
  return { promise, abort: () => xhr.abort() }
}

/**
 * Read a Server-Sent Events stream with fetch (EventSource cannot send the Authorization header).
 * Calls onEvent(parsedJson) for every `data:` event; resolves when the stream ends.
 */
export async function streamEvents(path, onEvent, signal) {
  const res = await request('GET', path, { raw: true, signal, headers: { Accept: 'text/event-stream' } })
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buf = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buf += value
    buf = buf.replace(/\r\n?/g, '\n')
    let sep
    while ((sep = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, sep)
      buf = buf.slice(sep + 2)
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n')
      if (!data) continue
      try {
        onEvent(JSON.parse(data))
      } catch (e) {
        console.warn('bad event', data, e)
      }
    }
  }
}

/** Save a blob as a file download. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10000)
}
