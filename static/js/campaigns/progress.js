// Live progress of a campaign: polls progress.json every 3 s until the campaign is done or cancelled.
(function () {
  "use strict";
  const box = document.getElementById("progress");
  if (!box) return;
  const set = (k, v) => box.querySelectorAll(`[data-f="${k}"]`).forEach((el) => { el.textContent = v; });
  async function tick() {
    try {
      const p = await window.scrm.api(box.dataset.url);
      ["status_label", "planned", "task_created", "confirmed_batches", "total_batches", "delivered", "failed"].forEach((k) => set(k, p[k]));
      box.querySelector('[data-f="bar"]').style.width = p.percent + "%";
      box.dataset.status = p.status;
      if (p.status === "done" || p.status === "cancelled") return;
    } catch (e) { /* keep polling: a transient error must not freeze the page */ }
    setTimeout(tick, 3000);
  }
  if (box.dataset.status !== "done" && box.dataset.status !== "cancelled" && box.dataset.status !== "draft") setTimeout(tick, 3000);
})();
