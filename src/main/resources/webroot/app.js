// The web UI of inference-jobs: plain ES modules, no build step. This module holds the new-job form, the recent
// jobs, one job's view and the routing between the views (run, a job, the jobs page, the models page).
// Job state arrives over Server-Sent Events only (one stream for the open job, one for the recent-jobs list).

import {
  $, API, EXPORTS, INF, TERMINAL, auth, el, formatBytes, formatDuration, formatTime, newKey, postJson, request,
  setMessage, setUpKeyForm, streamToken, withParams,
} from './common.js';
import { closeGallery, openGallery, refreshGallery, wireGallery } from './gallery.js';
import { openDetail, wireDetail } from './detail.js';
import {
  forgetJob, loadJobs, loadModels, setTrainingJobs, updateJob, wirePages,
} from './pages.js';

// The job settings' defaults come from the contract (components.schemas.InferenceJobRequest), read at start.
const DEFAULTS = { confidence: null, iou: null, maxDetections: null };
const RECENT_MAX = 30;
const CUSTOM_CHECKPOINT = '\u0000custom';

const state = {
  trainingJobs: [],
  files: [],
  jobId: null,
  job: null,
  jobStream: null,
  resultsTimer: null,
  recent: new Map(),
};

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
  setTrainingJobs(all);
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
  const total = state.files.reduce((n, f) => n + f.size, 0);
  $('file-summary').textContent = state.files.length
    ? `${state.files.length} image${state.files.length === 1 ? '' : 's'} chosen (${formatBytes(total)})`
    : 'No images chosen';
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
  if (job.status) updateJob({ ...job, id });
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
    const id = JSON.parse(e.data).job_id;
    state.recent.delete(id);
    forgetJob(id);
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
  closeGallery();
  if (push && jobFromUrl() !== id) history.pushState({ job: id }, '', `?job=${id}`);
  document.title = `Job ${id} · inference-jobs`;
  showView('job');
  $('results').hidden = true;
  $('job-title').textContent = `Job ${id}`;
  // a message of the form (such as "Job 2 started") belongs to the job it was about
  if (!job) setMessage($('form-message'), '');
  $('job-meta').textContent = '';
  $('progress-text').textContent = '';
  setMessage($('job-error'), '');
  renderProgress({ progress: 0 });
  $('rate').textContent = '–';
  $('eta').textContent = '–';
  $('stream-state').textContent = '–';
  delete $('job-view').dataset.streamEvents;
  delete $('job-view').dataset.lastEvent;
  $('job-progress').hidden = true;
  renderRecent();
  try {
    const current = job || await request(`${INF}/jobs/${id}`);
    if (state.jobId !== id) return;
    renderJob(current);
    if (TERMINAL.has(current.status)) {
      $('stream-state').textContent = 'finished';
      loadResults(current);
    } else {
      openJobStream(current);
    }
  } catch (err) {
    if (state.jobId !== id) return;
    $('job-status').textContent = err.status === 404 ? 'not found' : 'unknown';
    $('job-status').dataset.status = 'unknown';
    setMessage($('job-error'), err.status === 404 ? `Job ${id} does not exist.`
      : `Could not load job ${id}: ${err.message}`, 'error');
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
  es.addEventListener('images', (e) => {
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
      const ended = JSON.parse(e.data);
      renderJob(ended);
      loadResults(ended);
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
  $('job-progress').hidden = false;
  renderProgress(job);
  const ended = TERMINAL.has(job.status);
  $('eta-item').hidden = ended;
  $('rate-item').hidden = ended && $('rate').textContent === '–';
  let why = '';
  if (job.status === 'failed') {
    why = `This job failed: ${job.error_message || 'no reason was recorded'}.`
      + `${job.processed_images > job.failed_images ? ' The images that finished are below.' : ''}`;
  } else if (job.status === 'cancelled') {
    why = `This job was cancelled${job.processed_images ? '; the images that finished are below' : ''}.`;
  } else if (job.error_message) {
    why = job.error_message;
  }
  setMessage($('job-error'), why, job.status === 'cancelled' ? 'info' : 'error');
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
    closeGallery();
    $('results').hidden = true;
    $('stream-state').textContent = '–';
    openJobStream(job);
  } catch (err) {
    setMessage($('job-error'), `Could not retry: ${err.message}`, 'error');
  } finally {
    button.disabled = false;
  }
}

/** Asks before deleting job {@code id}; {@code remove} runs only once confirmed. */
function confirmDelete(id, remove, failed) {
  const dialog = $('delete-dialog');
  $('delete-title').textContent = `Delete job ${id}?`;
  dialog.returnValue = '';
  dialog.onclose = async () => {
    if (dialog.returnValue !== 'delete') return;
    try {
      await remove();
    } catch (err) {
      failed(err);
    }
  };
  dialog.showModal();
}

function deleteJob() {
  const id = state.jobId;
  confirmDelete(id, async () => {
    await request(`${INF}/jobs/${id}`, { method: 'DELETE' });
    forgetJob(id);
    if (state.jobId === id) showDeleted(id);
  }, (err) => setMessage($('job-error'), `Could not delete: ${err.message}`, 'error'));
}

/** The job is gone: say so once, and drop it from the recent jobs. */
function showDeleted(id) {
  closeJobStream();
  closeGallery();
  state.recent.delete(id);
  state.job = null;
  $('results').hidden = true;
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
  $('job-progress').hidden = true;
  setMessage($('job-error'), `Job ${id} was deleted.`, 'info');
  renderRecent();
}

// ------------------------------------------------------------------ results

/** While a job runs, `images` events refresh the gallery's pages on screen, at most once a second. */
function scheduleResultsRefresh() {
  if (state.resultsTimer) return;
  state.resultsTimer = setTimeout(() => {
    state.resultsTimer = null;
    // the first result opens the gallery; later ones refresh the pages it shows
    if ($('results').hidden) openGallery(state.jobId, state.job ? state.job.total_images : null);
    else refreshGallery();
  }, 1000);
}

async function loadResults(job) {
  const id = state.jobId;
  try {
    await streamToken(); // the images are loaded by <img>, with the token
    if (state.jobId !== id) return;
    if (job.processed_images === 0 && TERMINAL.has(job.status)) {
      $('results').hidden = true;
      return;
    }
    openGallery(id, job.total_images);
  } catch (err) {
    if (state.jobId === id) setMessage($('job-error'), `Could not load results: ${err.message}`, 'error');
  }
}

function wireJobView() {
  wireGallery((pos) => openDetail(state.jobId, pos));
  wireDetail();
  $('cancel-job').addEventListener('click', cancelJob);
  $('retry-job').addEventListener('click', retryJob);
  $('delete-job').addEventListener('click', deleteJob);
  $('download-links').addEventListener('click', download);
  $('gallery').addEventListener('click', download);
  $('image-dialog').addEventListener('click', download);
}

// ------------------------------------------------------------------ routing

function jobFromUrl() {
  const raw = new URLSearchParams(location.search).get('job');
  const id = Number(raw);
  return raw && Number.isInteger(id) && id > 0 ? id : null;
}

const VIEWS = { run: 'welcome', job: 'job-view', jobs: 'jobs-page', models: 'models-page' };

/** Shows one view of the main area; the navigation marks where the page is. */
function showView(view) {
  for (const [name, id] of Object.entries(VIEWS)) $(id).hidden = name !== view;
  if (view !== 'job') $('results').hidden = true;
  for (const link of document.querySelectorAll('.nav a')) {
    link.setAttribute('aria-current', link.dataset.view === (view === 'job' ? 'jobs' : view) ? 'page' : 'false');
  }
}

function showFromUrl() {
  const id = jobFromUrl();
  const view = new URLSearchParams(location.search).get('view');
  if (id) {
    openJob(id);
    return;
  }
  closeJobStream();
  closeGallery();
  state.jobId = null;
  if (view === 'jobs') {
    document.title = 'Jobs · inference-jobs';
    showView('jobs');
    loadJobs();
  } else if (view === 'models') {
    document.title = 'Models · inference-jobs';
    showView('models');
    loadModels();
  } else {
    document.title = 'inference-jobs';
    showView('run');
  }
  renderRecent();
}

function navigate(url) {
  history.pushState({}, '', url);
  showFromUrl();
  $('main').focus();
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
  wireJobView();
  wirePages({
    openJob: (id) => openJob(id, { push: true }),
    confirmDelete,
    download,
    reloadTrainingJobs: loadTrainingJobs,
  });
  window.addEventListener('popstate', showFromUrl);
  for (const link of [$('home-link'), ...document.querySelectorAll('.nav a')]) {
    link.addEventListener('click', (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey) return;
      e.preventDefault();
      navigate(link.getAttribute('href'));
    });
  }
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
