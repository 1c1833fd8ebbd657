// The jobs page (search, filters, retry, cancel, delete, exports for every job) and the models page (training jobs,
// their checkpoints and what each holds; registering a training job and uploading an ONNX checkpoint).

import {
  $, API, EXPORTS, INF, TERMINAL, el, formatBytes, formatTime, postJson, request, setMessage,
} from './common.js';

const JOBS_PAGE = 50;

const p = { cursor: null, jobs: [], generation: 0, trainingJobs: [], hooks: null };

// ------------------------------------------------------------------ jobs

/** The service-side filters (status, training job, dates) as query parameters; the search box filters what came. */
function jobsQuery() {
  const q = new URLSearchParams({ limit: String(JOBS_PAGE) });
  if ($('jobs-status').value) q.set('status', $('jobs-status').value);
  if ($('jobs-training').value) q.set('training_job_id', $('jobs-training').value);
  // dates are the viewer's days: from the start of the first to the end of the last
  if ($('jobs-from').value) q.set('created_from', new Date(`${$('jobs-from').value}T00:00:00`).toISOString());
  if ($('jobs-to').value) {
    const end = new Date(`${$('jobs-to').value}T00:00:00`);
    end.setDate(end.getDate() + 1);
    q.set('created_before', end.toISOString());
  }
  return q;
}

export async function loadJobs(more = false) {
  const generation = more ? p.generation : (p.generation += 1);
  const q = jobsQuery();
  if (more && p.cursor) q.set('cursor', p.cursor);
  if (!more) {
    p.jobs = [];
    p.cursor = null;
  }
  setMessage($('jobs-message'), '');
  $('jobs-more').disabled = true;
  try {
    const page = await request(`${INF}/jobs?${q}`);
    if (generation !== p.generation) return;
    p.jobs.push(...page.jobs);
    p.cursor = page.next_cursor;
    await searchById();
    renderJobs();
  } catch (err) {
    if (generation === p.generation) setMessage($('jobs-message'), `Could not list jobs: ${err.message}`, 'error');
  } finally {
    $('jobs-more').disabled = false;
  }
}

/** A search that is a job id finds that job even when it is not among the pages loaded. */
async function searchById() {
  const text = $('jobs-search').value.trim();
  const id = Number(text);
  if (!/^\d+$/.test(text) || !id || p.jobs.some((j) => j.id === id)) return;
  try {
    p.jobs.push(await request(`${INF}/jobs/${id}`));
  } catch (err) {
    if (err.status !== 404) throw err;
  }
}

function matches(job, text) {
  if (!text) return true;
  // a number is a job id; anything else is looked for in the checkpoint, status, task and training job
  if (/^\d+$/.test(text)) return String(job.id) === text;
  const t = text.toLowerCase();
  const training = p.trainingJobs.find((tj) => tj.id === job.training_job_id);
  return [job.checkpoint_path, job.status, job.task_type, training && training.name]
    .some((v) => v && String(v).toLowerCase().includes(t));
}

function renderJobs() {
  const text = $('jobs-search').value.trim();
  const shown = p.jobs.filter((j) => matches(j, text)).sort((a, b) => b.id - a.id);
  $('jobs-rows').replaceChildren(...shown.map(jobRow));
  $('jobs-table').hidden = shown.length === 0;
  $('jobs-empty').hidden = shown.length > 0;
  $('jobs-empty').textContent = p.jobs.length ? 'No loaded job matches the search.' : 'No jobs match these filters.';
  $('jobs-more').hidden = !p.cursor;
  $('jobs-count').textContent = `${shown.length} of ${p.jobs.length} loaded job${p.jobs.length === 1 ? '' : 's'}`
    + `${p.cursor ? ' (more on the server)' : ''}`;
}

function jobRow(j) {
  const training = p.trainingJobs.find((tj) => tj.id === j.training_job_id);
  const actions = el('div', { className: 'row-actions' });
  if (!TERMINAL.has(j.status)) {
    actions.append(el('button', { type: 'button', className: 'secondary small', dataset: { action: 'cancel' }, text: 'Cancel' }));
  }
  if (['completed', 'failed'].includes(j.status) && j.failed_images > 0) {
    actions.append(el('button', { type: 'button', className: 'secondary small', dataset: { action: 'retry' }, text: 'Retry failed' }));
  }
  if (TERMINAL.has(j.status)) {
    actions.append(el('button', { type: 'button', className: 'secondary small danger', dataset: { action: 'delete' }, text: 'Delete' }));
  }
  if (j.processed_images > 0) {
    actions.append(el('details', { className: 'export-menu' },
      el('summary', { className: 'secondary small', text: 'Export' }),
      el('ul', {}, ...EXPORTS.map(([format, label]) => el('li', {}, el('a', {
        className: 'download', href: `${INF}/jobs/${j.id}/export?format=${format}`, download: '',
        dataset: { format }, text: label,
      }))))));
  }
  return el('tr', { dataset: { jobId: j.id, status: j.status } },
    el('td', {}, el('a', { href: `?job=${j.id}`, className: 'job-open', dataset: { jobId: j.id }, text: `Job ${j.id}` })),
    el('td', {}, el('span', { className: 'badge small', dataset: { status: j.status }, text: j.status })),
    // data-label names a cell where a phone shows the rows as cards, without the table's header
    el('td', { dataset: { label: 'Training job' }, text: training ? training.name : `#${j.training_job_id}` }),
    el('td', { className: 'wrap', dataset: { label: 'Checkpoint' }, text: j.checkpoint_path }),
    el('td', {
      className: 'num', dataset: { label: 'Images' },
      text: `${j.processed_images} / ${j.total_images}${j.failed_images ? ` (${j.failed_images} failed)` : ''}`,
    }),
    el('td', { dataset: { label: 'Created' }, text: formatTime(j.created_at) }),
    el('td', {}, actions));
}

async function onJobAction(e) {
  const button = e.target.closest('button[data-action]');
  if (!button) return;
  const id = Number(button.closest('tr').dataset.jobId);
  const action = button.dataset.action;
  if (action === 'delete') {
    p.hooks.confirmDelete(id, async () => {
      await request(`${INF}/jobs/${id}`, { method: 'DELETE' });
      p.jobs = p.jobs.filter((j) => j.id !== id);
      renderJobs();
      setMessage($('jobs-message'), `Job ${id} was deleted.`, 'info');
    }, (err) => setMessage($('jobs-message'), `Could not delete job ${id}: ${err.message}`, 'error'));
    return;
  }
  button.disabled = true;
  try {
    const job = await postJson(`${INF}/jobs/${id}/${action}`, {});
    updateJob(job);
    setMessage($('jobs-message'), action === 'retry' ? `Job ${id} runs its failed images again.`
      : `Job ${id} is being cancelled.`, 'info');
  } catch (err) {
    setMessage($('jobs-message'), `Could not ${action === 'retry' ? 'retry' : 'cancel'} job ${id}: ${err.message}`, 'error');
  } finally {
    button.disabled = false;
  }
}

/** A job's new state (from the all-jobs stream or an action): its row follows. */
export function updateJob(job) {
  const i = p.jobs.findIndex((j) => j.id === job.id);
  if (i < 0) return;
  p.jobs[i] = { ...p.jobs[i], ...job };
  if (!$('jobs-page').hidden) renderJobs();
}

export function forgetJob(id) {
  p.jobs = p.jobs.filter((j) => j.id !== id);
  if (!$('jobs-page').hidden) renderJobs();
}

// ------------------------------------------------------------------ models

export async function loadModels() {
  setMessage($('models-message'), '');
  try {
    await p.hooks.reloadTrainingJobs();
    renderModels();
  } catch (err) {
    setMessage($('models-message'), `Could not list training jobs: ${err.message}`, 'error');
  }
}

function renderModels() {
  const list = $('models-list');
  list.replaceChildren(...p.trainingJobs.map((tj) => {
    const info = tj.checkpoint_info || {};
    const names = Object.keys(tj.checkpoints || {}).sort();
    const classes = Array.isArray(tj.class_names) ? tj.class_names : [];
    return el('li', { className: 'model-card', dataset: { trainingJobId: tj.id, name: tj.name } },
      el('h3', { text: tj.name }),
      el('p', { className: 'muted', text: `Training job ${tj.id} · ${tj.task_type}${classes.length
        ? ` · ${classes.length} classes` : ''} · registered ${formatTime(tj.created_at)}` }),
      names.length ? el('div', { className: 'table-wrap' }, el('table', { className: 'data-table' },
        el('caption', { className: 'visually-hidden', text: `Checkpoints of ${tj.name}` }),
        el('thead', {}, el('tr', {}, ...['Checkpoint', 'Task', 'Input', 'Classes', 'Size', 'SHA-256']
          .map((h) => el('th', { scope: 'col', text: h })))),
        el('tbody', {}, ...names.map((n) => {
          const c = info[n];
          const cls = c && Array.isArray(c.class_names) ? c.class_names : null;
          return el('tr', { dataset: { checkpoint: n } },
            el('th', { scope: 'row', className: 'wrap', text: n }),
            el('td', { text: c ? (c.task || c.layout) : (n === 'pretrained' ? 'detection (bundled)' : '–') }),
            el('td', { className: 'num', text: c && c.input_width ? `${c.input_width} × ${c.input_height}` : '–' }),
            el('td', {
              className: 'wrap', title: cls ? cls.join(', ') : '',
              text: cls ? `${cls.length}: ${cls.slice(0, 4).join(', ')}${cls.length > 4 ? ', …' : ''}`
                : (c && c.num_classes ? String(c.num_classes) : '–'),
            }),
            el('td', { className: 'num', text: c ? formatBytes(c.size_bytes) : '–' }),
            el('td', { className: 'mono', title: c ? c.sha256 : '', text: c ? `${c.sha256.slice(0, 12)}…` : '–' }));
        })))) : el('p', { className: 'muted', text: 'No checkpoints yet.' }));
  }));
  const select = $('upload-training');
  const keep = select.value;
  select.replaceChildren(...p.trainingJobs.map((tj) => el('option', { value: tj.id, text: `${tj.name} (${tj.task_type})` })));
  if (keep) select.value = keep;
  const training = $('jobs-training');
  const keepTraining = training.value;
  training.replaceChildren(el('option', { value: '', text: 'All training jobs' }),
    ...p.trainingJobs.map((tj) => el('option', { value: tj.id, text: tj.name })));
  training.value = keepTraining;
}

async function registerTrainingJob(e) {
  e.preventDefault();
  const name = $('register-name').value.trim();
  const message = $('register-message');
  if (!name) {
    setMessage(message, 'Give the training job a name.', 'error');
    $('register-name').focus();
    return;
  }
  const classes = $('register-classes').value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
  const body = { name, task_type: $('register-task').value };
  if (classes.length) body.class_names = classes;
  try {
    const tj = await postJson(`${API}/training_jobs`, body);
    setMessage(message, `Training job ${tj.id} (${tj.name}) registered.`, 'info');
    $('register-form').reset();
    await loadModels();
    $('upload-training').value = String(tj.id);
  } catch (err) {
    setMessage(message, `Could not register: ${err.message}`, 'error');
  }
}

async function uploadCheckpoint(e) {
  e.preventDefault();
  const message = $('upload-message');
  const file = $('upload-file').files[0];
  const id = $('upload-training').value;
  const name = $('upload-name').value.trim() || (file ? file.name.replace(/\.onnx$/i, '') : '');
  if (!id) {
    setMessage(message, 'Register a training job first.', 'error');
    return;
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) {
    setMessage(message, 'Checkpoint name: letters, digits, ".", "_" and "-" only, up to 100, starting with a letter '
      + 'or digit.', 'error');
    $('upload-name').focus();
    return;
  }
  if (!file) {
    setMessage(message, 'Choose an ONNX file.', 'error');
    $('upload-file').focus();
    return;
  }
  const button = $('upload-submit');
  button.disabled = true;
  setMessage(message, `Uploading ${file.name} (${formatBytes(file.size)}); a worker loads it before it is stored…`, 'info');
  try {
    const c = await request(`${API}/training_jobs/${id}/checkpoints/${encodeURIComponent(name)}`, {
      method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: file,
    });
    setMessage(message, `Checkpoint ${name} stored: ${c.task || c.layout}, input ${c.input_width} × ${c.input_height}`
      + `${c.num_classes ? `, ${c.num_classes} classes` : ''}.`, 'info');
    $('upload-form').reset();
    $('upload-file-name').textContent = 'No file chosen';
    await loadModels();
    $('upload-training').value = id;
  } catch (err) {
    setMessage(message, `Could not upload: ${err.message}`, 'error');
  } finally {
    button.disabled = false;
  }
}

/** The training jobs as the page knows them (the new-job form loads them; the pages show them). */
export function setTrainingJobs(list) {
  p.trainingJobs = list;
  renderModels();
  if (!$('jobs-page').hidden) renderJobs();
}

export function wirePages(hooks) {
  p.hooks = hooks;
  let searchTimer = null;
  $('jobs-filters').addEventListener('submit', (e) => {
    e.preventDefault();
    loadJobs();
  });
  for (const id of ['jobs-status', 'jobs-training', 'jobs-from', 'jobs-to']) {
    $(id).addEventListener('change', () => loadJobs());
  }
  $('jobs-search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async () => {
      try {
        await searchById();
      } catch (err) {
        setMessage($('jobs-message'), err.message, 'error');
      }
      renderJobs();
    }, 200);
  });
  $('jobs-more').addEventListener('click', () => loadJobs(true));
  $('jobs-rows').addEventListener('click', (e) => {
    const link = e.target.closest('a.job-open');
    if (link && !e.ctrlKey && !e.metaKey && !e.shiftKey) {
      e.preventDefault();
      hooks.openJob(Number(link.dataset.jobId));
      return;
    }
    if (e.target.closest('a.download')) {
      hooks.download(e);
      return;
    }
    onJobAction(e);
  });
  $('register-form').addEventListener('submit', registerTrainingJob);
  $('upload-form').addEventListener('submit', uploadCheckpoint);
  $('upload-file').addEventListener('change', () => {
    const f = $('upload-file').files[0];
    $('upload-file-name').textContent = f ? `${f.name} (${formatBytes(f.size)})` : 'No file chosen';
    if (f && !$('upload-name').value) $('upload-name').value = f.name.replace(/\.onnx$/i, '');
  });
}
