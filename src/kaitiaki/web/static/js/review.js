// The review queue by keyboard: j/k move, number keys decide, r reveals (with a reason).
"use strict";

(() => {
  const queue = document.getElementById("review-queue");
  if (!queue) return;
  const evidenceId = Number(queue.dataset.evidenceId);
  const form = document.getElementById("reveal-form");
  const revealError = form.querySelector('[data-testid="reveal-error"]');
  let current = 0;
  let revealedUrl = null;

  const items = () => [...queue.querySelectorAll('[data-testid="review-item"]')];

  function hideReveal() {
    // One reveal at a time: the previous image goes back to its blurred thumbnail.
    for (const img of queue.querySelectorAll("img.revealed")) {
      img.src = img.dataset.thumb;
      img.classList.remove("revealed");
      img.alt = "blurred thumbnail";
    }
    if (revealedUrl) URL.revokeObjectURL(revealedUrl);
    revealedUrl = null;
  }

  function select(index) {
    const all = items();
    if (!all.length) return;
    hideReveal();
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((el, i) => el.classList.toggle("current", i === current));
    all[current].setAttribute("aria-current", "true");
    all[current].focus({ preventScroll: false });
  }

  async function decide(item, category) {
    const groupBox = document.getElementById("apply-group");
    try {
      const result = await window.kaitiaki.api("POST", `/api/review/${evidenceId}/decisions`, {
        sha256: item.dataset.sha256,
        category,
        apply_to_group: groupBox ? groupBox.checked : true,
      });
      item.remove();
      const pending = document.querySelector('[data-testid="pending-groups"]');
      if (pending) pending.textContent = String(Math.max(0, Number(pending.textContent) - 1));
      select(current);
      return result;
    } catch (err) {
      item.querySelector(".meta").append(` (${err.message})`);
      return null;
    }
  }

  function askReveal(item) {
    form.hidden = false;
    revealError.hidden = true;
    // A file the provider never viewed opens only with a legal basis: the form asks for it.
    form.querySelector("#reveal-legal-basis").required = item.dataset.needsLegalBasis === "true";
    form.querySelector("#reveal-reason").focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const item = items()[current];
    if (!item) return;
    const data = new FormData(form);
    try {
      const response = await fetch(`/api/files/${item.dataset.sha256}/reveal`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": window.kaitiaki.csrf() },
        body: JSON.stringify({
          evidence_id: evidenceId,
          reason: data.get("reason") || "",
          legal_basis: data.get("legal_basis") || null,
          colour: data.get("colour") === "on",
        }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error(typeof body.detail === "string" ? body.detail : `${response.status}`);
      }
      hideReveal();
      revealedUrl = URL.createObjectURL(await response.blob());
      const img = item.querySelector("img.thumb");
      img.src = revealedUrl;
      img.classList.add("revealed");
      img.alt = "revealed image";
      form.hidden = true;
      form.reset();
      const today = document.querySelector('[data-testid="reveals-today"]');
      const week = document.querySelector('[data-testid="reveals-week"]');
      if (today) today.textContent = String(Number(today.textContent) + 1);
      if (week) week.textContent = String(Number(week.textContent) + 1);
      item.focus();
    } catch (err) {
      revealError.textContent = err.message;
      revealError.hidden = false;
    }
  });

  document.getElementById("reveal-cancel").addEventListener("click", () => {
    form.hidden = true;
    items()[current]?.focus();
  });

  queue.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-category]");
    const item = event.target.closest('[data-testid="review-item"]');
    if (!item) return;
    current = items().indexOf(item);
    if (button) decide(item, button.dataset.category);
    else select(current);
  });

  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
    const item = items()[current];
    if (event.key === "j") select(current + 1);
    else if (event.key === "k") select(current - 1);
    else if (event.key === "r" && item) askReveal(item);
    else if (/^[1-9]$/.test(event.key) && item) {
      const buttons = item.querySelectorAll("button[data-category]");
      const button = buttons[Number(event.key) - 1];
      if (button) decide(item, button.dataset.category);
    } else return;
    event.preventDefault();
  });

  select(0);
})();
