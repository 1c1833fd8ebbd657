// The results gallery: a grid of thumbnails that holds any number of images. Only the rows on screen (and two
// beyond each edge) are in the DOM; pages of results are fetched from the results API as rows come into view, sorted
// and filtered by the service (sort, order, class_id, min_score, failed), and dropped when the order changes.

import { $, INF, el, request, setMessage, streamToken } from './common.js';
import { filterFrame, resultFrame } from './layers.js';

const PAGE = 60;
const MIN_CELL = 200; // px: the narrowest a column gets
const GAP = 12;
const CAPTION = 48;
const BUFFER_ROWS = 2;
const RELOAD_DELAY_MS = 250;

const g = {
  jobId: null,
  query: '',
  generation: 0,
  loaded: new Map(), // page number -> results
  pending: new Map(), // page number -> promise
  matched: 0,
  total: 0,
  cells: new Map(), // image index -> cell
  frame: 0,
  reloadTimer: null,
  countsTimer: null,
  classes: new Map(), // class id -> name, every class of the job
  onOpen: null,
};

/** The results API's query for the chosen order and filters (without the page). */
function currentQuery() {
  const [sort, order] = $('sort').value.split(':');
  const params = new URLSearchParams();
  if (sort !== 'index') params.set('sort', sort);
  if (order === 'desc') params.set('order', 'desc');
  const cls = $('class-filter').value;
  if (cls !== '') {
    params.set('class_id', cls);
    params.set('min_score', $('min-confidence').value);
  }
  if ($('failed-only').checked) params.set('failed', 'true');
  return params.toString();
}

function fetchPage(n) {
  if (g.pending.has(n)) return g.pending.get(n);
  const { generation, jobId } = g;
  const q = `${g.query ? `${g.query}&` : ''}limit=${PAGE}&skip=${n * PAGE}`;
  const p = Promise.all([request(`${INF}/jobs/${jobId}/results?${q}`), streamToken()]).then(([body]) => {
    if (generation !== g.generation) return null;
    g.loaded.set(n, body.results);
    g.matched = body.matched_count;
    g.total = body.total_count;
    schedule();
    return body.results;
  }).finally(() => {
    if (generation === g.generation) g.pending.delete(n);
  });
  g.pending.set(n, p);
  return p;
}

function layout() {
  const width = $('gallery').clientWidth || MIN_CELL;
  const cols = Math.max(1, Math.floor((width + GAP) / (MIN_CELL + GAP)));
  const cellW = (width - GAP * (cols - 1)) / cols;
  const thumbH = Math.round(cellW * 0.75);
  return { cols, cellW, thumbH, rowH: thumbH + CAPTION + GAP };
}

function schedule() {
  if (!g.frame) g.frame = requestAnimationFrame(render);
}

function render() {
  g.frame = 0;
  const box = $('gallery');
  if (g.jobId == null || $('results').hidden) return;
  const L = layout();
  const rows = Math.ceil(g.matched / L.cols);
  box.style.height = `${Math.max(0, rows * L.rowH - GAP)}px`;
  box.setAttribute('aria-rowcount', String(rows));
  const top = box.getBoundingClientRect().top;
  const first = Math.max(0, Math.floor(-top / L.rowH) - BUFFER_ROWS);
  const last = Math.min(rows - 1, Math.floor((window.innerHeight - top) / L.rowH) + BUFFER_ROWS);
  const keep = new Set();
  const missing = new Set();
  for (let pos = first * L.cols; pos < Math.min(g.matched, (last + 1) * L.cols); pos += 1) {
    const n = Math.floor(pos / PAGE);
    const results = g.loaded.get(n);
    if (!results) {
      missing.add(n);
      continue;
    }
    const r = results[pos - n * PAGE];
    if (!r) continue;
    keep.add(r.image_index);
    let cell = g.cells.get(r.image_index);
    if (!cell) {
      cell = card(r);
      g.cells.set(r.image_index, cell);
      box.append(cell);
    }
    place(cell, r, pos, L);
  }
  for (const [index, cell] of g.cells) {
    if (!keep.has(index)) {
      cell.remove();
      g.cells.delete(index);
    }
  }
  for (const n of missing) {
    fetchPage(n).catch((err) => setMessage($('job-error'), `Could not load results: ${err.message}`, 'error'));
  }
  // what is on screen and whether anything is still on its way (for people reading the DOM, and tests)
  box.dataset.missingPages = String(missing.size);
  box.dataset.cells = String(g.cells.size);
  box.dataset.renderedAt = String(Math.round(window.scrollY));
  summary();
}

/** Where a cell sits: its row and column, and its image fitted into the thumbnail area at the image's shape. */
function place(cell, r, pos, L) {
  const row = Math.floor(pos / L.cols);
  const col = pos % L.cols;
  cell.style.transform = `translate(${col * (L.cellW + GAP)}px, ${row * L.rowH}px)`;
  cell.style.width = `${L.cellW}px`;
  cell.dataset.pos = String(pos);
  cell.setAttribute('aria-posinset', String(pos + 1));
  cell.setAttribute('aria-setsize', String(g.matched));
  const w = r.width || 4;
  const h = r.height || 3;
  const scale = Math.min(L.cellW / w, L.thumbH / h);
  const frame = cell.querySelector('.frame');
  frame.style.width = `${Math.round(w * scale)}px`;
  frame.style.height = `${Math.round(h * scale)}px`;
  cell.querySelector('.thumb').style.height = `${L.thumbH}px`;
}

function card(r) {
  const frame = resultFrame(g.jobId, r);
  frame.querySelector('img').loading = 'lazy';
  const thumb = el('div', {
    className: 'thumb', tabindex: '0', role: 'button', 'aria-label': `Open ${r.image_name}`,
  }, frame);
  const caption = el('figcaption', {},
    el('span', { className: 'image-name', title: r.image_name, text: r.image_name }),
    el('span', { className: 'muted image-index', text: `#${r.image_index}` }),
    el('span', { className: 'card-count muted' }),
    r.error ? '' : el('a', {
      className: 'annotated-link', target: '_blank', rel: 'noopener',
      href: `${INF}/jobs/${g.jobId}/images/${r.image_index}?annotated=true`,
      title: `${r.image_name} with its detections drawn (JPEG)`, text: 'annotated',
    }));
  const cell = el('div', {
    className: `result-card${r.error ? ' has-error' : ''}`, role: 'listitem',
    dataset: {
      imageName: r.image_name, imageIndex: r.image_index, detections: (r.predictions || []).length,
      error: r.error || null,
    },
  }, el('figure', {}, thumb, caption));
  filterCell(cell);
  return cell;
}

function filterCell(cell) {
  const [shown, total] = filterFrame(cell.querySelector('.frame'), $('class-filter').value,
    Number($('min-confidence').value));
  cell.querySelector('.card-count').textContent = cell.dataset.error
    ? 'failed' : `${shown} of ${total} detection${total === 1 ? '' : 's'}`;
}

function summary() {
  const filtered = g.query.includes('class_id') || g.query.includes('failed');
  const text = g.matched === 0 && g.loaded.size
    ? (filtered ? 'No images match these filters.' : 'No results yet.')
    : `${g.matched} ${filtered ? `of ${g.total} ` : ''}image${g.matched === 1 ? '' : 's'}`
      + `${filtered ? ' match' : ''}${g.total < (g.totalImages || 0) ? ` (${g.totalImages} in the job)` : ''}.`;
  $('results-summary').textContent = text;
  $('gallery').dataset.matched = String(g.matched);
}

/** Starts the gallery on a job: the first page and the class list. */
export function openGallery(jobId, totalImages) {
  g.jobId = jobId;
  g.totalImages = totalImages;
  g.classes = new Map();
  $('class-filter').value = '';
  $('min-confidence').value = 0;
  $('min-confidence-value').value = '0.00';
  $('failed-only').checked = false;
  $('sort').value = 'index:asc';
  reload();
}

export function closeGallery() {
  g.jobId = null;
  g.generation += 1;
  clearTimeout(g.reloadTimer);
  clearTimeout(g.countsTimer);
  clearCells();
}

function clearCells() {
  g.cells.clear();
  $('gallery').replaceChildren();
  $('gallery').style.height = '0px';
  // nothing is drawn until the next render says what it drew
  $('gallery').dataset.cells = '0';
}

/** Drops every page (the order or a filter changed) and starts again from the top of the gallery. */
function reload() {
  g.generation += 1;
  g.query = currentQuery();
  g.loaded = new Map();
  g.pending = new Map();
  g.matched = 0;
  clearCells();
  $('results').hidden = false;
  fetchPage(0).catch((err) => setMessage($('job-error'), `Could not load results: ${err.message}`, 'error'));
  loadClassCounts();
}

/** New results arrived (the job runs): fetch the pages on screen again, keeping the cells already drawn. */
export function refreshGallery() {
  if (g.jobId == null) return;
  g.generation += 1;
  g.loaded = new Map();
  g.pending = new Map();
  fetchPage(0).then(() => schedule()).catch(() => {});
  loadClassCounts();
}

/** The result at a position of the gallery's order, fetched when its page is not loaded. */
export async function resultAt(pos) {
  const n = Math.floor(pos / PAGE);
  const results = g.loaded.get(n) || await fetchPage(n);
  return results ? results[pos - n * PAGE] : null;
}

export function matchedCount() {
  return g.matched;
}

/** Brings a position into view (the detail view's next/previous keep the gallery with it). */
export function revealPosition(pos) {
  const L = layout();
  const box = $('gallery');
  const rowTop = box.getBoundingClientRect().top + window.scrollY + Math.floor(pos / L.cols) * L.rowH;
  if (rowTop < window.scrollY || rowTop + L.rowH > window.scrollY + window.innerHeight) {
    window.scrollTo({ top: Math.max(0, rowTop - 80) });
  }
}

async function loadClassCounts() {
  const { jobId, generation } = g;
  const min = Number($('min-confidence').value);
  try {
    const body = await request(`${INF}/jobs/${jobId}/results?limit=1&class_counts=true`
      + `${min > 0 ? `&min_score=${min}` : ''}`);
    if (jobId !== g.jobId) return;
    for (const c of body.class_counts) g.classes.set(String(c.class_id), c.class_name ?? `class ${c.class_id}`);
    renderClassCounts(body.class_counts);
  } catch (err) {
    if (jobId === g.jobId) setMessage($('job-error'), `Could not count the classes: ${err.message}`, 'error');
  }
}

function renderClassCounts(counts) {
  const selected = $('class-filter').value;
  $('class-counts').replaceChildren(...counts.map((c) => el('li', {
    dataset: { className: c.class_name, classId: c.class_id, count: c.count },
  }, el('button', {
    type: 'button', className: 'chip', 'aria-pressed': String(String(c.class_id) === selected),
    dataset: { className: c.class_name, classId: c.class_id },
  }, el('span', { className: 'chip-name', text: c.class_name }),
  el('span', { className: 'chip-count', text: String(c.count) })))));
  // the class filter lists every class the job has seen, whatever the confidence filter
  const select = $('class-filter');
  const wanted = [['', 'All classes'], ...[...g.classes.entries()].sort((a, b) => a[1].localeCompare(b[1]))];
  const have = [...select.options].map((o) => o.value);
  if (wanted.map(([v]) => v).join('\n') !== have.join('\n')) {
    select.replaceChildren(...wanted.map(([v, name]) => el('option', { value: v, text: name })));
    select.value = selected;
  }
}

/** Boxes below the confidence or of another class are hidden at once; the counts and a class filter follow. */
function onConfidence() {
  $('min-confidence-value').value = Number($('min-confidence').value).toFixed(2);
  for (const cell of g.cells.values()) filterCell(cell);
  clearTimeout(g.countsTimer);
  g.countsTimer = setTimeout(loadClassCounts, RELOAD_DELAY_MS);
  if ($('class-filter').value !== '') {
    clearTimeout(g.reloadTimer);
    g.reloadTimer = setTimeout(reload, RELOAD_DELAY_MS);
  }
}

export function wireGallery(onOpen) {
  g.onOpen = onOpen;
  window.addEventListener('scroll', schedule, { passive: true });
  window.addEventListener('resize', schedule);
  $('class-filter').addEventListener('change', reload);
  $('sort').addEventListener('change', reload);
  $('failed-only').addEventListener('change', reload);
  $('min-confidence').addEventListener('input', onConfidence);
  // what is drawn, in the gallery and the detail view alike
  for (const what of ['boxes', 'labels', 'masks', 'keypoints']) {
    $(`show-${what}`).addEventListener('change', (e) => document.body.classList.toggle(`hide-${what}`, !e.target.checked));
  }
  $('class-counts').addEventListener('click', (e) => {
    const chip = e.target.closest('button[data-class-id]');
    if (!chip) return;
    const select = $('class-filter');
    select.value = select.value === chip.dataset.classId ? '' : chip.dataset.classId;
    reload();
  });
  const open = (e) => {
    const thumb = e.target.closest('.thumb');
    if (!thumb || e.target.closest('a')) return;
    e.preventDefault();
    g.onOpen(Number(thumb.closest('.result-card').dataset.pos));
  };
  $('gallery').addEventListener('click', open);
  $('gallery').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') open(e);
  });
}
