// Import progress: poll the job every second until it finishes, then list the rejected rows.
(function () {
  "use strict";
  const T = window.scrmText || {};
  const box = document.getElementById("import-job");
  if (!box) return;
  function render(job) {
    document.getElementById("import-bar").style.width = job.percent + "%";
    const badge = document.getElementById("import-status");
    badge.textContent = job.status_label;
    badge.className = "badge " + (job.status === "done" ? "ok" : job.status === "failed" ? "err" : "warn");
    const msg = document.getElementById("import-message");
    msg.hidden = !job.message; msg.textContent = job.message || "";
    document.getElementById("import-summary").textContent = T.summary
      .replace("{processed}", job.processed).replace("{total}", job.total).replace("{created}", job.created)
      .replace("{updated}", job.updated).replace("{rejected}", job.rejected_count);
    const body = document.getElementById("import-rejected");
    body.innerHTML = "";
    if (!job.rejected.length && job.finished) {
      const tr = body.insertRow(); const td = tr.insertCell(); td.colSpan = 2; td.className = "muted"; td.textContent = T.none;
    }
    job.rejected.forEach((r) => { const tr = body.insertRow(); tr.insertCell().textContent = r.line; tr.insertCell().textContent = r.reason; });
  }
  async function poll() {
    try {
      const job = await window.scrm.api(box.dataset.statusUrl);
      render(job);
      if (!job.finished) setTimeout(poll, 1000);
    } catch (err) {
      document.getElementById("import-summary").textContent = err.message;
    }
  }
  poll();
})();
