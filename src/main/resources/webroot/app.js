// The web UI of inference-jobs: one page, plain ES module, no build step.
// Job state arrives over Server-Sent Events only (one stream for the open job, one for the recent-jobs list).

const API = '/api/v1';
const INF = `${API}/test_inference/inference`;
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
// The job settings' defaults come from the contract (components.schemas.InferenceJobRequest), read at start.
const DEFAULTS = { confidence: null, iou: null, maxDetections: null };
const RESULTS_PAGE = 48;
const RECENT_MAX = 30;
const CUSTOM_CHECKPOINT = '\u0000custom';
// GET .../jobs/{id}/export?format=: the files a job's results leave the service as
const EXPORTS = [
  ['coco', 'COCO JSON'], ['yolo', 'YOLO labels (zip)'], ['csv', 'CSV'], ['jsonl', 'JSON lines'],
  ['errors', 'Failed images'], ['labelstudio', 'Label Studio'], ['annotated', 'Annotated images (zip)'],
];

const $ = (id) => document.getElementById(id);

const state = {
  trainingJobs: [],
  files: [],
  jobId: null,
  job: null,
  jobStream: null,
  results: [],
  nextCursor: null,
  resultsTimer: null,
  recent: new Map(),
};

// ------------------------------------------------------------------ helpers

/** Creates an element: attrs may hold className, text, dataset, hidden and plain attributes. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'className') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) if (dv != null) node.dataset[dk] = dv;
    }
    else if (k === 'style') {
      for (const [sk, sv] of Object.entries(v)) {
        if (sk.startsWith('--')) node.style.setProperty(sk, String(sv));
        else node.style[sk] = sv;
      }
    }
    else if (k === 'hidden') node.hidden = true;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

class ApiError extends Error {
  constructor(status, body) {
    const err = body && body.error;
    const details = err && Array.isArray(err.details) ? err.details : [];
    const detail = details.map((d) => (d.field ? `${d.field}: ${d.reason}` : d.reason)).join('; ');
    super(err ? `${err.message}${detail ? ` (${detail})` : ''}` : `HTTP ${status}`);
    this.status = status;
    this.code = err ? err.code : null;
  }
}

// ------------------------------------------------------------------ API key (when the service requires one)

const KEY_STORE = 'inference-jobs.api-key';
const auth = { key: sessionStorage.getItem(KEY_STORE) || '', token: null, tokenAt: 0 };

function authHeaders() {
  return auth.key ? { Authorization: `Bearer ${auth.key}` } : {};
}

/**
 * EventSource and <img> cannot send an Authorization header: with a key, they carry a short-lived stream token
 * (POST /api/v1/stream-tokens), renewed a minute before it expires.
 */
async function streamToken() {
  if (!auth.key) return null;
  if (!auth.token || Date.now() - auth.tokenAt > auth.ttlMs - 60_000) {
    const t = await postJson(`${API}/stream-tokens`, {});
    auth.token = t.token;
    auth.tokenAt = Date.now();
    auth.ttlMs = (t.expires_in || 300) * 1000;
  }
  return auth.token;
}

function withParams(path, params) {
  const q = Object.entries(params).filter(([, v]) => v != null && v !== '')
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  return q ? `${path}${path.includes('?') ? '&' : '?'}${q}` : path;
}

async function request(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: { Accept: 'application/json', ...(options.headers || {}), ...authHeaders() },
  });
  if (res.status === 401) showKeyNeeded();
  const type = res.headers.get('Content-Type') || '';
  const body = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

function postJson(path, body, headers = {}) {
  return request(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

function showKeyNeeded() {
  const form = $('key-form');
  form.dataset.needed = 'true';
  setMessage($('key-message'), auth.key ? 'This API key was refused.' : 'This service needs an API key.', 'error');
}

function setUpKeyForm() {
  const input = $('api-key');
  input.value = auth.key;
  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (key) sessionStorage.setItem(KEY_STORE, key); else sessionStorage.removeItem(KEY_STORE);
    window.location.reload();
  });
}

function newKey() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function formatDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A stable colour per class id, readable on photos. */
function classColour(classId) {
  return `hsl(${(Number(classId) * 47) % 360} 90% 45%)`;
}

function setMessage(node, text, kind) {
  node.textContent = text || '';
  node.classList.toggle('error', kind === 'error');
  node.hidden = !text;
}

// ------------------------------------------------------------------ new-job form

async function loadTrainingJobs() {
  const select = $('training-job');
  const all = [];
  let cursor = null;
  do {
    const page = await request(`${API}/training_jobs?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    all.push(...page.training_jobs);
    cursor = page.next_cursor;
  } while (cursor);
  state.trainingJobs = all;
  select.replaceChildren(...all.map((t) => el('option', { value: t.id, text: `${t.name} (${t.task_type})` })));
  if (!all.length) select.append(el('option', { value: '', text: 'No training jobs' }));
  fillCheckpoints();
}

function selectedTrainingJob() {
  const id = Number($('training-job').value);
  return state.trainingJobs.find((t) => t.id === id) || null;
}

function fillCheckpoints() {
  const tj = selectedTrainingJob();
  const names = tj && tj.checkpoints ? Object.keys(tj.checkpoints) : [];
  // "pretrained" first where the training job has it: it is the checkpoint most people want
  names.sort((a, b) => (a === 'pretrained' ? -1 : b === 'pretrained' ? 1 : a.localeCompare(b)));
  $('checkpoint').replaceChildren(
    ...names.map((n) => el('option', { value: n, text: n })),
    el('option', { value: CUSTOM_CHECKPOINT, text: 'Other (S3 URI)…' }),
  );
  toggleCustomCheckpoint();
}

function toggleCustomCheckpoint() {
  $('checkpoint-uri-field').hidden = $('checkpoint').value !== CUSTOM_CHECKPOINT;
}

function addFiles(list) {
  const known = new Set(state.files.map((f) => `${f.name}|${f.size}|${f.lastModified}`));
  let skipped = 0;
  for (const f of list) {
    if (f.type && !f.type.startsWith('image/')) {
      skipped += 1;
      continue;
    }
    const key = `${f.name}|${f.size}|${f.lastModified}`;
    if (!known.has(key)) {
      known.add(key);
      state.files.push(f);
    }
  }
  renderFiles();
  setMessage($('form-message'), skipped ? `${skipped} file(s) skipped: not images.` : '', skipped ? 'error' : null);
}

function renderFiles() {
  const list = $('file-list');
  list.replaceChildren(...state.files.map((f, i) => el('li', { dataset: { fileName: f.name } },
    el('span', { className: 'file-name', text: f.name }),
    el('span', { className: 'muted', text: formatBytes(f.size) }),
    el('button', {
      type: 'button', className: 'icon-button', 'aria-label': `Remove ${f.name}`, dataset: { index: i }, text: '×',
    }))));
  $('clear-files').hidden = state.files.length === 0;
  $('drop-zone').classList.toggle('has-files', state.files.length > 0);
}

function wireForm() {
  $('training-job').addEventListener('change', fillCheckpoints);
  $('checkpoint').addEventListener('change', toggleCustomCheckpoint);
  for (const id of ['confidence', 'iou']) {
    const input = $(id);
    const out = $(`${id}-value`);
    input.addEventListener('input', () => { out.value = Number(input.value).toFixed(2); });
  }
  $('reset-settings').addEventListener('click', resetSettings);

  const input = $('file-input');
  input.addEventListener('change', () => {
    addFiles(input.files);
    input.value = '';
  });
  $('file-list').addEventListener('click', (e) => {
    const btn = e.target.closest('button[data-index]');
    if (!btn) return;
    state.files.splice(Number(btn.dataset.index), 1);
    renderFiles();
    input.focus();
  });
  $('clear-files').addEventListener('click', () => {
    state.files = [];
    renderFiles();
    input.focus();
  });

  const zone = $('drop-zone');
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', (e) => {
    if (!zone.contains(e.relatedTarget)) zone.classList.remove('dragging');
  });
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('dragging');
    addFiles(e.dataTransfer.files);
  });
  // a drop that misses the zone must not navigate away from the page
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());

  $('job-form').addEventListener('submit', (e) => {
    e.preventDefault();
    startJob();
  });
}

/** Reads and checks the form; returns the job request parts or throws a message for the user. */
function readForm() {
  const tj = selectedTrainingJob();
  if (!tj) throw new Error('Choose a training job.');
  let checkpoint = $('checkpoint').value;
  if (checkpoint === CUSTOM_CHECKPOINT) {
    checkpoint = $('checkpoint-uri').value.trim();
    if (!checkpoint.startsWith('s3://')) {
      $('checkpoint-uri').focus();
      throw new Error('The checkpoint URI must start with s3://');
    }
  }
  if (!state.files.length) {
    $('file-input').focus();
    throw new Error('Choose at least one image.');
  }
  const maxDet = Number($('max-detections').value);
  if (!Number.isInteger(maxDet) || maxDet < 1 || maxDet > 1000) {
    $('max-detections').focus();
    throw new Error('Max detections must be a whole number from 1 to 1000.');
  }
  return {
    trainingJobId: tj.id,
    checkpoint,
    settings: {
      confidence_threshold: Number($('confidence').value),
      iou_threshold: Number($('iou').value),
      max_detections: maxDet,
      agnostic_nms: $('agnostic-nms').checked,
    },
  };
}

async function startJob() {
  const message = $('form-message');
  const button = $('start-job');
  let form;
  try {
    form = readForm();
  } catch (err) {
    setMessage(message, err.message, 'error');
    return;
  }
  button.disabled = true;
  try {
    setMessage(message, `Uploading ${state.files.length} image(s)…`);
    const data = new FormData();
    for (const f of state.files) data.append('files', f, f.name);
    const upload = await request(`${INF}/upload-images?training_job_id=${form.trainingJobId}`, {
      method: 'POST', body: data,
    });
    setMessage(message, 'Creating the job…');
    const job = await postJson(`${INF}/jobs`, {
      training_job_id: form.trainingJobId,
      checkpoint_path: form.checkpoint,
      inference_type: upload.total_files > 1 ? 'batch' : 'single',
      input_data: { inference_session_id: upload.inference_session_id, ...form.settings },
    }, { 'Idempotency-Key': newKey() });
    setMessage(message, `Job ${job.id} started with ${upload.total_files} image(s).`);
    state.files = [];
    renderFiles();
    upsertRecent(job);
    openJob(job.id, { push: true, job });
  } catch (err) {
    setMessage(message, `Could not start the job: ${err.message}`, 'error');
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------ recent jobs (all-jobs stream)

function upsertRecent(job) {
  const id = job.id ?? job.job_id;
  if (id == null) return;
  const old = state.recent.get(id) || {};
  state.recent.set(id, { ...old, ...job, id });
  renderRecent();
}

function renderRecent() {
  const jobs = [...state.recent.values()].sort((a, b) => b.id - a.id).slice(0, RECENT_MAX);
  $('recent-empty').hidden = jobs.length > 0;
  $('recent-jobs').replaceChildren(...jobs.map((j) => el('li', { dataset: { jobId: j.id, status: j.status } },
    el('button', {
      type: 'button', className: 'job-link', dataset: { jobId: j.id },
      'aria-current': j.id === state.jobId ? 'true' : null,
    },
    el('span', { className: 'job-link-id', text: `Job ${j.id}` }),
    el('span', { className: `badge small job-state`, dataset: { status: j.status }, text: j.status }),
    el('span', { className: 'job-link-meta muted', text: recentMeta(j) })))));
}

function recentMeta(j) {
  const parts = [];
  if (j.total_images != null) parts.push(`${j.total_images} image${j.total_images === 1 ? '' : 's'}`);
  if (j.checkpoint_path) parts.push(j.checkpoint_path);
  if (j.created_at) parts.push(formatTime(j.created_at));
  return parts.join(' · ');
}

async function openAllJobsStream(lastEventId) {
  const live = $('live-state');
  let token;
  try {
    token = await streamToken();
  } catch (err) {
    live.dataset.state = 'closed';
    live.textContent = 'disconnected';
    return;
  }
  let lastId = lastEventId;
  const es = new EventSource(withParams(`${INF}/events`, { access_token: token, last_event_id: lastId }));
  state.allJobsStream = es;
  const track = (e) => { if (e.lastEventId) lastId = e.lastEventId; };
  es.addEventListener('open', () => {
    live.dataset.state = 'live';
    live.textContent = 'live';
  });
  es.addEventListener('error', () => {
    live.dataset.state = es.readyState === EventSource.CLOSED ? 'closed' : 'connecting';
    live.textContent = es.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…';
    if (es.readyState === EventSource.CLOSED && auth.key) {
      // an expired stream token closes the stream: come back with a fresh one, from the last event seen
      auth.token = null;
      setTimeout(() => openAllJobsStream(lastId), 2000);
    }
  });
  es.addEventListener('status', track);
  for (const type of TERMINAL) es.addEventListener(type, track);
  es.addEventListener('snapshot', (e) => {
    const { jobs } = JSON.parse(e.data);
    state.recent.clear();
    for (const j of jobs) state.recent.set(j.id, j);
    renderRecent();
  });
  for (const type of ['status', ...TERMINAL]) {
    es.addEventListener(type, (e) => upsertRecent(JSON.parse(e.data)));
  }
  es.addEventListener('deleted', (e) => {
    state.recent.delete(JSON.parse(e.data).job_id);
    renderRecent();
  });
}

// ------------------------------------------------------------------ one job (its own stream)

function closeJobStream() {
  if (state.jobStream) {
    state.jobStream.close();
    state.jobStream = null;
  }
  clearTimeout(state.resultsTimer);
  state.resultsTimer = null;
}

async function openJob(id, { push = false, job = null } = {}) {
  closeJobStream();
  state.jobId = id;
  state.job = null;
  state.results = [];
  state.nextCursor = null;
  state.totalCount = null;
  if (push && jobFromUrl() !== id) history.pushState({ job: id }, '', `?job=${id}`);
  document.title = `Job ${id} · inference-jobs`;
  $('welcome').hidden = true;
  $('job-view').hidden = false;
  $('results').hidden = true;
  $('gallery').replaceChildren();
  $('class-filter').value = '';
  $('min-confidence').value = 0;
  $('job-title').textContent = `Job ${id}`;
  $('job-meta').textContent = '';
  $('progress-text').textContent = '';
  setMessage($('job-error'), '');
  renderProgress({ progress: 0 });
  $('rate').textContent = '–';
  $('eta').textContent = '–';
  $('stream-state').textContent = '–';
  delete $('job-view').dataset.streamEvents;
  delete $('job-view').dataset.lastEvent;
  renderRecent();
  try {
    const current = job || await request(`${INF}/jobs/${id}`);
    if (state.jobId !== id) return;
    renderJob(current);
    if (TERMINAL.has(current.status)) {
      $('stream-state').textContent = 'finished';
      loadResults();
    } else {
      openJobStream(current);
    }
  } catch (err) {
    if (state.jobId !== id) return;
    $('job-status').textContent = 'unknown';
    $('job-status').dataset.status = 'unknown';
    setMessage($('job-error'), err.status === 404 ? `Job ${id} does not exist.` : err.message, 'error');
  }
}

async function openJobStream(job, lastEventId) {
  const id = job.id;
  const token = await streamToken();
  if (state.jobId !== id) return;
  const path = job.links && job.links.events ? job.links.events : `${INF}/jobs/${id}/events`;
  const es = new EventSource(withParams(path, { access_token: token, last_event_id: lastEventId }));
  state.jobStream = es;
  const view = $('job-view');
  if (lastEventId == null) view.dataset.streamEvents = '0';
  const mine = () => state.jobStream === es;
  // how many events this page took from the job's stream, and the last one's type (for people and tests alike)
  const seen = (e) => {
    if (state.jobStream !== es) return false;
    if (e.lastEventId) view.dataset.lastEventId = e.lastEventId;
    view.dataset.streamEvents = String(Number(view.dataset.streamEvents) + 1);
    view.dataset.lastEvent = e.type;
    return true;
  };
  const onJob = (e) => {
    if (seen(e)) renderJob(JSON.parse(e.data));
  };
  es.addEventListener('open', () => { if (mine()) $('stream-state').textContent = 'live'; });
  es.addEventListener('error', () => {
    // EventSource reconnects by itself with Last-Event-ID; the server replays exactly what was missed
    if (mine()) $('stream-state').textContent = es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting…';
    if (mine() && es.readyState === EventSource.CLOSED && auth.key) {
      // an expired stream token closes the stream: reopen with a fresh one from the last event this page saw
      auth.token = null;
      const last = view.dataset.lastEventId;
      setTimeout(() => { if (mine()) openJobStream(job, last); }, 2000);
    }
  });
  es.addEventListener('snapshot', onJob);
  es.addEventListener('status', onJob);
  es.addEventListener('progress', (e) => {
    if (!seen(e)) return;
    const p = JSON.parse(e.data);
    renderProgress(p);
    $('rate').textContent = p.images_per_second != null ? p.images_per_second.toFixed(2) : '–';
    $('eta').textContent = formatDuration(p.eta_seconds);
  });
  es.addEventListener('image', (e) => {
    if (seen(e)) scheduleResultsRefresh();
  });
  es.addEventListener('deleted', () => {
    if (!mine()) return;
    es.close();
    state.jobStream = null;
    showDeleted(id);
  });
  for (const type of TERMINAL) {
    es.addEventListener(type, (e) => {
      if (!seen(e)) return;
      // the server ends the stream after a terminal event: close it so that the browser does not reconnect
      es.close();
      state.jobStream = null;
      clearTimeout(state.resultsTimer);
      $('stream-state').textContent = 'finished';
      $('eta').textContent = formatDuration(0);
      renderJob(JSON.parse(e.data));
      loadResults();
    });
  }
}

function renderJob(job) {
  state.job = job;
  upsertRecent(job);
  const status = $('job-status');
  status.textContent = job.status;
  status.dataset.status = job.status;
  $('cancel-job').hidden = TERMINAL.has(job.status);
  // a job that ended may be run again on its failed images, and deleted
  $('retry-job').hidden = !(['completed', 'failed'].includes(job.status) && job.failed_images > 0);
  $('delete-job').hidden = !TERMINAL.has(job.status);
  renderDownloads(job);
  const input = job.input_data || {};
  const meta = [
    `training job ${job.training_job_id}`,
    ...(job.attempt > 1 ? [`attempt ${job.attempt}`] : []),
    `checkpoint ${job.checkpoint_path}`,
    `confidence ≥ ${input.confidence_threshold}`,
    `IoU ${input.iou_threshold}`,
    `max ${input.max_detections} detections`,
  ];
  if (input.agnostic_nms) meta.push('class-agnostic NMS');
  if (job.created_at) meta.push(`created ${formatTime(job.created_at)}`);
  $('job-meta').textContent = meta.join(' · ');
  renderProgress(job);
  setMessage($('job-error'), job.error_message ? `Error: ${job.error_message}` : '', 'error');
}

function renderProgress(p) {
  const percent = Math.max(0, Math.min(100, Number(p.progress) || 0));
  const shown = Number.isInteger(percent) ? percent : percent.toFixed(1);
  $('progress-bar').value = percent;
  $('progress-percent').textContent = `${shown}%`;
  if (p.total_images != null) {
    $('progress-text').textContent = `${p.processed_images} of ${p.total_images} images processed, `
      + `${p.failed_images} failed (${shown}%)`;
  }
  $('job-view').dataset.progress = String(percent);
}

async function cancelJob() {
  const id = state.jobId;
  const button = $('cancel-job');
  button.disabled = true;
  try {
    const job = await postJson(`${INF}/jobs/${id}/cancel`, {});
    if (state.jobId === id && !state.jobStream) renderJob(job);
  } catch (err) {
    setMessage($('job-error'), `Could not cancel: ${err.message}`, 'error');
  } finally {
    button.disabled = false;
  }
}

/** Links to every export; with a key, each click fetches a fresh stream token for the link (it expires). */
function renderDownloads(job) {
  const some = job.processed_images > 0;
  $('downloads').hidden = !some;
  if (!some || $('download-links').dataset.jobId === String(job.id)) return;
  $('download-links').dataset.jobId = String(job.id);
  $('download-links').replaceChildren(...EXPORTS.map(([format, label]) => el('li', {},
    el('a', {
      className: 'download', href: `${INF}/jobs/${job.id}/export?format=${format}`, download: '',
      dataset: { format }, text: label,
    }))));
}

async function download(e) {
  const link = e.target.closest('a.download, a.annotated-link');
  if (!link || !auth.key || link.dataset.signed === '1') return;
  e.preventDefault();
  try {
    const token = await streamToken();
    const url = new URL(link.href);
    url.searchParams.set('access_token', token);
    link.href = url.pathname + url.search;
    link.dataset.signed = '1';
    link.click();
  } catch (err) {
    setMessage($('job-error'), `Could not download: ${err.message}`, 'error');
  } finally {
    delete link.dataset.signed;
  }
}

async function retryJob() {
  const id = state.jobId;
  const button = $('retry-job');
  button.disabled = true;
  try {
    const job = await postJson(`${INF}/jobs/${id}/retry`, {});
    if (state.jobId !== id) return;
    renderJob(job);
    $('results').hidden = true;
    $('stream-state').textContent = '–';
    openJobStream(job);
  } catch (err) {
    setMessage($('job-error'), `Could not retry: ${err.message}`, 'error');
  } finally {
    button.disabled = false;
  }
}

function deleteJob() {
  const id = state.jobId;
  const dialog = $('delete-dialog');
  $('delete-title').textContent = `Delete job ${id}?`;
  dialog.returnValue = '';
  dialog.onclose = async () => {
    if (dialog.returnValue !== 'delete' || state.jobId !== id) return;
    try {
      await request(`${INF}/jobs/${id}`, { method: 'DELETE' });
      if (state.jobId === id) showDeleted(id);
    } catch (err) {
      setMessage($('job-error'), `Could not delete: ${err.message}`, 'error');
    }
  };
  dialog.showModal();
}

/** The job is gone: say so once, and drop it from the recent jobs. */
function showDeleted(id) {
  closeJobStream();
  state.recent.delete(id);
  state.job = null;
  $('results').hidden = true;
  $('gallery').replaceChildren();
  $('downloads').hidden = true;
  delete $('download-links').dataset.jobId;
  for (const b of ['cancel-job', 'retry-job', 'delete-job']) $(b).hidden = true;
  $('job-status').textContent = 'deleted';
  $('job-status').dataset.status = 'deleted';
  $('job-meta').textContent = '';
  $('progress-text').textContent = '';
  $('stream-state').textContent = '–';
  $('rate').textContent = '–';
  $('eta').textContent = '–';
  renderProgress({ progress: 0 });
  setMessage($('job-error'), `Job ${id} was deleted.`, 'info');
  renderRecent();
}

// ------------------------------------------------------------------ results

/** While a job runs, `image` events refresh the first page of results, at most once a second. */
function scheduleResultsRefresh() {
  if (state.resultsTimer || state.results.length >= RESULTS_PAGE) return;
  state.resultsTimer = setTimeout(() => {
    state.resultsTimer = null;
    loadResults();
  }, 1000);
}

async function loadResults() {
  const id = state.jobId;
  try {
    const page = await request(`${INF}/jobs/${id}/results?limit=${RESULTS_PAGE}`);
    await streamToken(); // the images are loaded by <img>, with the token
    if (state.jobId !== id) return;
    state.results = page.results;
    state.nextCursor = page.next_cursor;
    state.totalCount = page.total_count;
    renderGallery(page.results, false);
  } catch (err) {
    if (state.jobId === id) setMessage($('job-error'), `Could not load results: ${err.message}`, 'error');
  }
}

async function loadMore() {
  const id = state.jobId;
  const button = $('load-more');
  button.disabled = true;
  try {
    const page = await request(`${INF}/jobs/${id}/results?limit=${RESULTS_PAGE}&cursor=${state.nextCursor}`);
    await streamToken();
    if (state.jobId !== id) return;
    state.results.push(...page.results);
    state.nextCursor = page.next_cursor;
    renderGallery(page.results, true);
  } catch (err) {
    setMessage($('job-error'), `Could not load more results: ${err.message}`, 'error');
  } finally {
    button.disabled = false;
  }
}

function renderGallery(results, append) {
  $('results').hidden = false;
  // a stored result never changes: keep the cards (and their loaded images) that are already shown
  const shown = new Map([...$('gallery').children].map((c) => [c.dataset.imageIndex, c]));
  const cards = results.map((r) => shown.get(String(r.image_index)) || resultCard(state.jobId, r));
  if (append) $('gallery').append(...cards);
  else $('gallery').replaceChildren(...cards);
  $('load-more').hidden = !state.nextCursor;
  applyFilters();
}

function resultCard(jobId, r) {
  const preds = Array.isArray(r.predictions) ? r.predictions : [];
  const frame = el('div', { className: 'frame' });
  if (r.width && r.height) frame.style.aspectRatio = `${r.width} / ${r.height}`;
  const img = el('img', {
    src: withParams(`${INF}/jobs/${jobId}/images/${r.image_index}`, { access_token: auth.token }),
    alt: r.image_name, loading: 'lazy', decoding: 'async',
  });
  img.addEventListener('error', () => {
    frame.classList.add('missing');
    frame.append(el('p', { className: 'image-missing', text: 'The stored image could not be loaded.' }));
  });
  frame.append(img);
  const w = r.width || 1;
  const h = r.height || 1;
  // boxes sharing a corner (one object scored as two classes) stack their labels instead of hiding each other;
  // the most confident box is drawn last, on top
  const byConfidence = [...preds].sort((a, b) => b.confidence - a.confidence);
  const near = (p, q) => Math.abs(q.bbox.x1 - p.bbox.x1) < w * 0.04 && Math.abs(q.bbox.y1 - p.bbox.y1) < h * 0.04;
  const slots = byConfidence.map((p, i) => byConfidence.slice(0, i).filter((q) => near(p, q)).length);
  for (let i = byConfidence.length - 1; i >= 0; i -= 1) {
    const p = byConfidence[i];
    const b = p.bbox;
    if (p.mask) frame.append(maskLayer(p, i, classColour(p.class_id)));
    if (Array.isArray(p.keypoints)) frame.append(poseLayer(p, i, w, h, classColour(p.class_id)));
    if (p.obb) frame.append(obbLayer(p, i, w, h, classColour(p.class_id)));
    const left = (b.x1 / w) * 100;
    const top = (b.y1 / h) * 100;
    const colour = classColour(p.class_id);
    const box = el('div', {
      className: `box${top < 6 * (slots[i] + 1) ? ' label-inside' : ''}${p.obb ? ' oriented' : ''}`,
      dataset: { className: p.class_name, classId: p.class_id, confidence: p.confidence, pred: i },
      style: {
        left: `${left}%`, top: `${top}%`,
        width: `${((b.x2 - b.x1) / w) * 100}%`, height: `${((b.y2 - b.y1) / h) * 100}%`,
        borderColor: colour,
      },
    }, el('span', {
      className: 'box-label', style: { background: colour, '--slot': slots[i] },
      text: `${p.class_name} ${(p.confidence * 100).toFixed(0)}%`,
    }));
    frame.append(box);
  }
  if (r.error) frame.append(el('p', { className: 'image-error', role: 'note', text: `Error: ${r.error}` }));
  if (Array.isArray(r.classifications) && r.classifications.length) {
    // a classifier's top classes, best first, over the image
    frame.append(el('ol', { className: 'classifications', 'aria-label': 'Top classes' },
      ...r.classifications.slice(0, 5).map((c) => el('li', {
        dataset: { className: c.class_name, score: c.score },
        text: `${c.class_name} ${(c.score * 100).toFixed(0)}%`,
      }))));
  }

  const caption = el('figcaption', {},
    el('span', { className: 'image-name', title: r.image_name, text: r.image_name }),
    el('span', { className: 'muted', text: `#${r.image_index}` }),
    el('span', { className: 'card-count muted' }),
    r.error ? '' : el('a', {
      className: 'annotated-link', target: '_blank', rel: 'noopener',
      href: `${INF}/jobs/${jobId}/images/${r.image_index}?annotated=true`,
      title: `${r.image_name} with its detections drawn (JPEG)`, text: 'annotated',
    }));
  return el('li', {
    className: `result-card${r.error ? ' has-error' : ''}`,
    dataset: { imageName: r.image_name, imageIndex: r.image_index, detections: preds.length, error: r.error || null },
  }, el('figure', {}, frame, caption));
}

/** The run lengths of a COCO compressed RLE string (pycocotools' rleFrString). */
function rleCounts(text) {
  const counts = [];
  let p = 0;
  while (p < text.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      const c = text.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p += 1;
      k += 1;
      if (!more && (c & 0x10) && 5 * k < 32) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

const MASK_MAX_SIDE = 480;

/** A mask as a translucent layer over its image, drawn at most 480 px on its long side (CSS scales it). */
function maskLayer(p, index, colour) {
  const [h, w] = p.mask.size;
  const scale = Math.min(1, MASK_MAX_SIDE / Math.max(w, h));
  const cw = Math.max(1, Math.round(w * scale));
  const ch = Math.max(1, Math.round(h * scale));
  const canvas = el('canvas', { className: 'mask-layer', width: cw, height: ch, dataset: { pred: index } });
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(cw, ch);
  ctx.fillStyle = colour; // the browser gives it back as #rrggbb
  const [r, g, b] = ctx.fillStyle.slice(1).match(/../g).map((hex) => parseInt(hex, 16));
  let pos = 0;
  let painted = 0;
  rleCounts(p.mask.counts).forEach((run, i) => {
    if (i % 2 === 1) { // runs of ones, column-major
      for (let q = pos; q < pos + run; q += 1) {
        const o = (Math.min(ch - 1, Math.floor((q % h) * scale)) * cw
          + Math.min(cw - 1, Math.floor(Math.floor(q / h) * scale))) * 4;
        if (image.data[o + 3] === 0) painted += 1;
        image.data[o] = r;
        image.data[o + 1] = g;
        image.data[o + 2] = b;
        image.data[o + 3] = 110;
      }
    }
    pos += run;
  });
  ctx.putImageData(image, 0, 0);
  canvas.dataset.painted = String(painted);
  return canvas;
}

const SKELETON = [[15, 13], [13, 11], [16, 14], [14, 12], [11, 12], [5, 11], [6, 12], [5, 6], [5, 7], [6, 8],
  [7, 9], [8, 10], [1, 2], [0, 1], [0, 2], [1, 3], [2, 4], [3, 5], [4, 6]];
const KEYPOINT_MIN_SCORE = 0.3;

/** Keypoints as dots, and COCO's limbs between sure ones, in an SVG over the image (in its pixels). */
const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG over the whole image, in the image's own pixels, tied to prediction {@code index} for the filters. */
function svgLayer(className, index, w, h) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('class', className);
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.dataset.pred = String(index);
  return svg;
}

function poseLayer(p, index, w, h, colour) {
  const ns = SVG_NS;
  const svg = svgLayer('pose-layer', index, w, h);
  const k = p.keypoints;
  const sure = (q) => q && q.score >= KEYPOINT_MIN_SCORE;
  const width = Math.max(w, h) / 200;
  if (k.length === 17) {
    for (const [a, b] of SKELETON) {
      if (!sure(k[a]) || !sure(k[b])) continue;
      const line = document.createElementNS(ns, 'line');
      for (const [attr, v] of [['x1', k[a].x], ['y1', k[a].y], ['x2', k[b].x], ['y2', k[b].y]]) line.setAttribute(attr, v);
      line.setAttribute('stroke', colour);
      line.setAttribute('stroke-width', width);
      svg.append(line);
    }
  }
  for (const q of k) {
    if (!sure(q)) continue;
    const dot = document.createElementNS(ns, 'circle');
    dot.setAttribute('cx', q.x);
    dot.setAttribute('cy', q.y);
    dot.setAttribute('r', width * 1.6);
    dot.setAttribute('fill', '#fff');
    dot.setAttribute('stroke', colour);
    dot.setAttribute('stroke-width', width / 2);
    const title = document.createElementNS(ns, 'title');
    title.textContent = `${q.name} ${(q.score * 100).toFixed(0)}%`;
    dot.append(title);
    svg.append(dot);
  }
  return svg;
}

/** An oriented box as a rotated outline in an SVG over the image (the box element keeps its label and filters). */
function obbLayer(p, index, w, h, colour) {
  const svg = svgLayer('pose-layer obb-layer', index, w, h);
  const polygon = document.createElementNS(SVG_NS, 'polygon');
  polygon.setAttribute('points', p.obb.corners.map(([x, y]) => `${x},${y}`).join(' '));
  polygon.setAttribute('fill', 'none');
  polygon.setAttribute('stroke', colour);
  polygon.setAttribute('stroke-width', Math.max(w, h) / 250);
  svg.append(polygon);
  return svg;
}

/** Shows the boxes that pass the class and confidence filters; hides images with none when a class is chosen. */
function applyFilters() {
  const cls = $('class-filter').value;
  const min = Number($('min-confidence').value);
  $('min-confidence-value').value = min.toFixed(2);
  const counts = new Map();
  let shownCards = 0;
  for (const card of $('gallery').children) {
    let visible = 0;
    let total = 0;
    for (const box of card.querySelectorAll('.box')) {
      const conf = Number(box.dataset.confidence);
      const name = box.dataset.className;
      const passesConf = conf >= min;
      if (passesConf) counts.set(name, (counts.get(name) || 0) + 1);
      const show = passesConf && (!cls || name === cls);
      box.hidden = !show;
      for (const layer of card.querySelectorAll(`.mask-layer[data-pred="${box.dataset.pred}"], `
        + `.pose-layer[data-pred="${box.dataset.pred}"]`)) { // pose and oriented-box layers
        layer.classList.toggle('filtered', !show);
      }
      if (show) visible += 1;
      total += 1;
    }
    card.hidden = Boolean(cls) && visible === 0;
    if (!card.hidden) shownCards += 1;
    card.querySelector('.card-count').textContent = card.dataset.error
      ? 'failed' : `${visible} of ${total} detection${total === 1 ? '' : 's'}`;
  }
  renderClassCounts(counts, cls);
  const loaded = state.results.length;
  const total = state.totalCount ?? loaded;
  const failed = state.results.filter((r) => r.error).length;
  $('results-summary').textContent = `Showing ${shownCards} of ${loaded} loaded image${loaded === 1 ? '' : 's'}`
    + `${total > loaded ? ` (${total} with results)` : ''}${failed ? `, ${failed} failed` : ''}.`;
}

function renderClassCounts(counts, selected) {
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  $('class-counts').replaceChildren(...sorted.map(([name, n]) => el('li', { dataset: { className: name, count: n } },
    el('button', {
      type: 'button', className: 'chip', 'aria-pressed': String(name === selected), dataset: { className: name },
    }, el('span', { className: 'chip-name', text: name }), el('span', { className: 'chip-count', text: String(n) })))));
  // the class filter lists every class seen in the loaded results, whatever the confidence filter
  const select = $('class-filter');
  const names = new Set();
  for (const box of $('gallery').querySelectorAll('.box')) names.add(box.dataset.className);
  if (selected) names.add(selected);
  const wanted = ['', ...[...names].sort()];
  const have = [...select.options].map((o) => o.value);
  if (wanted.join('\n') !== have.join('\n')) {
    select.replaceChildren(...wanted.map((n) => el('option', { value: n, text: n || 'All classes' })));
    select.value = selected;
  }
}

function wireResults() {
  $('class-filter').addEventListener('change', applyFilters);
  $('min-confidence').addEventListener('input', applyFilters);
  $('show-masks').addEventListener('change', (e) => $('gallery').classList.toggle('hide-masks', !e.target.checked));
  $('show-keypoints').addEventListener('change',
    (e) => $('gallery').classList.toggle('hide-keypoints', !e.target.checked));
  $('class-counts').addEventListener('click', (e) => {
    const chip = e.target.closest('button[data-class-name]');
    if (!chip) return;
    const select = $('class-filter');
    select.value = select.value === chip.dataset.className ? '' : chip.dataset.className;
    applyFilters();
    const again = $('class-counts').querySelector(`button[data-class-name="${CSS.escape(chip.dataset.className)}"]`);
    if (again) again.focus();
  });
  $('load-more').addEventListener('click', loadMore);
  $('cancel-job').addEventListener('click', cancelJob);
  $('retry-job').addEventListener('click', retryJob);
  $('delete-job').addEventListener('click', deleteJob);
  $('download-links').addEventListener('click', download);
  $('gallery').addEventListener('click', download);
}

// ------------------------------------------------------------------ routing

function jobFromUrl() {
  const raw = new URLSearchParams(location.search).get('job');
  const id = Number(raw);
  return raw && Number.isInteger(id) && id > 0 ? id : null;
}

function showFromUrl() {
  const id = jobFromUrl();
  if (id) {
    openJob(id);
  } else {
    closeJobStream();
    state.jobId = null;
    document.title = 'inference-jobs';
    $('welcome').hidden = false;
    $('job-view').hidden = true;
    $('results').hidden = true;
    renderRecent();
  }
}

function resetSettings() {
  $('confidence').value = DEFAULTS.confidence;
  $('iou').value = DEFAULTS.iou;
  $('confidence-value').value = Number(DEFAULTS.confidence).toFixed(2);
  $('iou-value').value = Number(DEFAULTS.iou).toFixed(2);
  $('max-detections').value = DEFAULTS.maxDetections;
  $('agnostic-nms').checked = false;
}

/** The settings' defaults, as the contract states them (the service fills the same ones in when a field is absent). */
async function loadDefaults() {
  const res = await fetch(`${API}/openapi.json`);
  if (!res.ok) throw new Error(`the contract could not be read (${res.status})`);
  const contract = await res.json();
  const input = contract.components.schemas.InferenceJobRequest.properties.input_data.properties;
  DEFAULTS.confidence = input.confidence_threshold.default;
  DEFAULTS.iou = input.iou_threshold.default;
  DEFAULTS.maxDetections = input.max_detections.default;
  resetSettings();
}

async function main() {
  // a page being left closes its streams at once: browsers allow only 6 connections per host over HTTP/1.1, and
  // streams of pages left behind would otherwise hold them until the server notices
  window.addEventListener('pagehide', () => {
    closeJobStream();
    if (state.allJobsStream) state.allJobsStream.close();
  });
  wireForm();
  wireResults();
  window.addEventListener('popstate', showFromUrl);
  $('home-link').addEventListener('click', (e) => {
    e.preventDefault();
    history.pushState({}, '', '/');
    showFromUrl();
  });
  setUpKeyForm();
  $('recent-jobs').addEventListener('click', (e) => {
    const btn = e.target.closest('button[data-job-id]');
    if (btn) openJob(Number(btn.dataset.jobId), { push: true });
  });
  openAllJobsStream();
  showFromUrl();
  try {
    await loadDefaults();
  } catch (err) {
    setMessage($('form-message'), `Could not load the default settings: ${err.message}`, 'error');
  }
  try {
    await loadTrainingJobs();
  } catch (err) {
    setMessage($('form-message'), `Could not load training jobs: ${err.message}`, 'error');
  }
}

main();
