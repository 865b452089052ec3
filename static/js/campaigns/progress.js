// Live progress of a campaign: polls progress.json every 3 s until the campaign is done or cancelled.
(function () {
  "use strict";
  const box = document.getElementById("progress");
  if (!box) return;
  const esc = (v) => { const d = document.createElement("div"); d.textContent = v == null ? "" : String(v); return d.innerHTML; };
  const set = (k, v) => box.querySelectorAll(`[data-f="${k}"]`).forEach((el) => { el.textContent = v; });
  async function tick() {
    try {
      const p = await window.scrm.api(box.dataset.url);
      ["status_label", "planned", "task_created", "confirmed_batches", "total_batches", "delivered", "failed"].forEach((k) => set(k, p[k]));
      box.querySelector('[data-f="bar"]').style.width = p.percent + "%";
      box.dataset.status = p.status;
      const body = document.querySelector("#staff-table tbody");
      if (body && p.staff && p.staff.length) {
        body.innerHTML = p.staff.map((s) => `<tr><td class="primary">${esc(s.staff)}</td><td class="num">${s.recipients}</td>` +
          `<td class="num">${s.created}/${s.batches}</td><td class="num">${s.confirmed}/${s.batches}</td><td class="num">${s.delivered}</td></tr>`).join("");
      }
      const ex = document.getElementById("exclusions");
      if (ex && p.exclusions && p.exclusions.length) {
        ex.innerHTML = p.exclusions.map((e) => `<li>${esc(e.label)}：<strong>${e.count}</strong></li>`).join("");
      }
      if (p.status === "done" || p.status === "cancelled") return;
    } catch (e) { /* keep polling: a transient error must not freeze the page */ }
    setTimeout(tick, 3000);
  }
  if (box.dataset.status !== "done" && box.dataset.status !== "cancelled" && box.dataset.status !== "draft") setTimeout(tick, 3000);
})();
