// The pages' forms call the JSON API with the session's CSRF token; jobs show live progress.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

async function api(method, url, body, multipart) {
  const headers = { "X-CSRF-Token": csrf(), Accept: "application/json" };
  let payload = body;
  if (!multipart && body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const detail = data && data.detail;
    const text = typeof detail === "string" ? detail : JSON.stringify(detail || response.statusText);
    throw new Error(`${response.status}: ${text}`);
  }
  return data;
}

function formBody(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.type === "submit" || el.type === "button") continue;
    const kind = el.dataset.type;
    if (kind === "checklist") {
      body[el.name] = body[el.name] || [];
      if (el.checked) body[el.name].push(el.value);
    } else if (el.type === "checkbox") {
      body[el.name] = el.checked;
    } else if (kind === "lines") {
      body[el.name] = el.value.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    } else if (kind === "int") {
      body[el.name] = parseInt(el.value, 10);
    } else if (el.value !== "") {
      body[el.name] = el.value;
    }
  }
  return body;
}

function watchJob(container) {
  const id = container.dataset.jobId;
  const bar = container.querySelector("progress");
  const status = container.querySelector('[data-testid="job-status"]');
  const message = container.querySelector('[data-testid="job-message"]');
  const tick = async () => {
    let job;
    try {
      job = await api("GET", `/api/jobs/${id}`);
    } catch (err) {
      return;
    }
    if (job.total) {
      bar.max = job.total;
      bar.value = job.done;
    }
    status.textContent = job.status;
    status.className = `status-${job.status}`;
    message.textContent = job.error ? `${job.message} ${job.error}` : job.message;
    if (["queued", "running"].includes(job.status)) setTimeout(tick, 1000);
    else if (job.status === "done") {
      // A finished job keeps its counts (done of total); one without a total shows full.
      if (!job.total) bar.max = 1;
      bar.value = bar.max;
    }
  };
  tick();
}

function jobElement(job) {
  const div = document.createElement("div");
  div.className = "job";
  div.dataset.jobId = job.id;
  div.dataset.testid = "job";
  div.setAttribute("data-testid", "job");
  const link = document.createElement("a");
  link.href = `/jobs/${job.id}`;
  link.textContent = `job ${job.id} ${job.kind}`;
  const bar = document.createElement("progress");
  bar.setAttribute("data-testid", "job-progress");
  const status = document.createElement("span");
  status.setAttribute("data-testid", "job-status");
  status.textContent = job.status;
  const message = document.createElement("span");
  message.setAttribute("data-testid", "job-message");
  div.append(link, " ", bar, " ", status, " ", message);
  return div;
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.dataset.api) return;
  event.preventDefault();
  const error = form.querySelector('[data-testid="form-error"]');
  const result = form.querySelector('[data-testid="form-result"]');
  if (error) error.hidden = true;
  const multipart = Boolean(form.dataset.multipart);
  let body;
  if (multipart) {
    body = new FormData(form);
    for (const [key, value] of [...body.entries()]) if (value === "") body.delete(key);
  } else {
    body = formBody(form);
  }
  try {
    const data = await api(form.dataset.method || "POST", form.dataset.api, body, multipart);
    if (form.dataset.job && data && data.id !== undefined) {
      const element = jobElement(data);
      result.replaceChildren(element);
      watchJob(element);
    } else {
      window.location.reload();
    }
  } catch (err) {
    if (error) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }
});

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-job-id]").forEach(watchJob);
});

window.kaitiaki = { api, csrf };
