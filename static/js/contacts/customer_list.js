// Customer list: select rows, bulk tag them through the page endpoint, then reload to show the chips.
(function () {
  "use strict";
  const T = window.scrmText || {};
  // On a phone the filters fold under "更多筛选" unless one is in use (CSS shows them all on a laptop).
  const toggle = document.querySelector(".more-toggle");
  if (toggle) toggle.addEventListener("click", () => {
    const open = document.getElementById("more-filters").classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
  const boxes = () => Array.from(document.querySelectorAll(".row-select"));
  const bar = document.getElementById("bulkbar");
  const all = document.getElementById("select-all");
  function refresh() {
    const n = boxes().filter((b) => b.checked).length;
    if (bar) bar.classList.toggle("show", n > 0);
    const out = document.getElementById("selected-count");
    if (out) out.textContent = n;
  }
  document.addEventListener("change", (e) => {
    if (e.target === all) boxes().forEach((b) => { b.checked = all.checked; });
    if (e.target === all || e.target.classList.contains("row-select")) refresh();
  });
  const apply = document.getElementById("bulk-apply");
  if (!apply) return;
  apply.addEventListener("click", async () => {
    const tag = document.getElementById("bulk-tag").value;
    const result = document.getElementById("bulk-result");
    if (!tag) { result.textContent = T.pickTag; return; }
    const ids = boxes().filter((b) => b.checked).map((b) => Number(b.value));
    apply.disabled = true;
    try {
      const data = await window.scrm.api(apply.dataset.url, { method: "POST", body: { tag_id: Number(tag), customer_ids: ids } });
      result.textContent = (T.done || "").replace("{n}", data.selected);
      window.location.reload();
    } catch (err) {
      result.textContent = (T.failed || "") + err.message;
      apply.disabled = false;
    }
  });
})();
