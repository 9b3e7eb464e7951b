// A small SVG line chart for training curves (no chart library).

const COLORS = ['#4dabf7', '#ff922b', '#51cf66', '#f06595']
const NS = 'http://www.w3.org/2000/svg'

function el(name, attrs = {}, text) {
  const e = document.createElementNS(NS, name)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v)
  if (text !== undefined) e.textContent = text
  return e
}

/** Enough decimals to tell ticks `step` apart. */
function fmt(v, step = Math.abs(v) / 10) {
  if (!Number.isFinite(v)) return ''
  const decimals = step > 0 ? Math.min(6, Math.max(0, Math.ceil(-Math.log10(step)))) : 2
  return v.toFixed(decimals)
}

export class LossChart {
  constructor(svg) {
    this.svg = svg
    this.points = [] // {x, metrics}
    this.draw()
  }

  clear() {
    this.points = []
    this.draw()
  }

  add(x, metrics) {
    if (!metrics || typeof metrics !== 'object') return
    const numeric = Object.fromEntries(Object.entries(metrics).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)))
    if (!Object.keys(numeric).length) return
    this.points.push({ x, metrics: numeric })
    this.draw()
  }

  /** Loss-like series first ('loss', then '*loss*'), at most four. */
  series() {
    const keys = new Set()
    for (const p of this.points) for (const k of Object.keys(p.metrics)) keys.add(k)
    const all = [...keys]
    const loss = all.filter((k) => /loss/i.test(k)).sort((a, b) => (a === 'loss' ? -1 : b === 'loss' ? 1 : a.localeCompare(b)))
    return (loss.length ? loss : all.filter((k) => k !== 'lr')).slice(0, 4)
  }

  draw() {
    const svg = this.svg
    const W = 560
    const H = 220
    const m = { l: 48, r: 12, t: 12, b: 26 }
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`)
    svg.replaceChildren()
    svg.append(el('rect', { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, class: 'chart-bg' }))
    const keys = this.series()
    const pts = this.points
    if (!pts.length || !keys.length) {
      svg.append(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'The loss curve appears here while a model trains.'))
      return
    }
    let ymin = Infinity
    let ymax = -Infinity
    for (const p of pts) for (const k of keys) if (k in p.metrics) {
      ymin = Math.min(ymin, p.metrics[k])
      ymax = Math.max(ymax, p.metrics[k])
    }
    if (ymin === ymax) {
      ymin -= 0.5
      ymax += 0.5
    }
    const xmin = pts[0].x
    const xmax = Math.max(pts[pts.length - 1].x, xmin + 1)
    const sx = (x) => m.l + ((x - xmin) / (xmax - xmin)) * (W - m.l - m.r)
    const sy = (y) => H - m.b - ((y - ymin) / (ymax - ymin)) * (H - m.t - m.b)
    for (let i = 0; i <= 4; i++) {
      const y = ymin + ((ymax - ymin) * i) / 4
      svg.append(el('line', { x1: m.l, x2: W - m.r, y1: sy(y), y2: sy(y), class: 'chart-grid' }))
      svg.append(el('text', { x: m.l - 6, y: sy(y) + 4, 'text-anchor': 'end', class: 'chart-tick' }, fmt(y, (ymax - ymin) / 4)))
    }
    svg.append(el('text', { x: W - m.r, y: H - 6, 'text-anchor': 'end', class: 'chart-tick' }, `step ${xmax}`))
    svg.append(el('text', { x: m.l, y: H - 6, class: 'chart-tick' }, `step ${xmin}`))
    keys.forEach((k, i) => {
      const d = pts.filter((p) => k in p.metrics).map((p) => `${sx(p.x).toFixed(1)},${sy(p.metrics[k]).toFixed(1)}`)
      svg.append(el('polyline', { points: d.join(' '), fill: 'none', stroke: COLORS[i], 'stroke-width': 2, class: 'chart-line', 'data-key': k }))
      svg.append(el('rect', { x: m.l + 10 + i * 120, y: m.t + 8, width: 10, height: 10, fill: COLORS[i] }))
      const last = pts.filter((p) => k in p.metrics).at(-1)
      svg.append(el('text', { x: m.l + 24 + i * 120, y: m.t + 17, class: 'chart-legend' }, `${k} ${last ? fmt(last.metrics[k], Math.abs(last.metrics[k]) / 1000) : ''}`))
    })
  }
}
